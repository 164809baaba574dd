"""Recognise a report by its content (and name), parse it, and read whole CI artifacts.

Recognition looks at the first significant character, then:
* XML: the root element (`coverage` with a `clover` attribute: Clover; `coverage`:
  Cobertura; `report`: JaCoCo; `scoverage`), read from the stream that is then parsed;
* JSON: its keys (`version` + `runs`: SARIF; `openapi`/`swagger`: OpenAPI; `meta` +
  `files` + `totals`: coverage.py; `benchmarks`: pytest-benchmark; `metrics` with an
  `http_req_duration` metric: k6);
* otherwise the name and first line: `.yaml`/`.yml` or an `openapi:`/`swagger:` line is
  OpenAPI in YAML; `.info`/`.lcov` or a first `TN:`/`SF:`/`VER:` line is lcov.
A trailing `.gz` on the name is ignored; gzip is recognised by its magic bytes.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from itertools import chain
from typing import Any, BinaryIO, Union

from extractors.reports import coverage, openapi, performance, sarif
from extractors.reports.coverage import CoverageReport
from extractors.reports.errors import InvalidReport, ReportContext, ReportError, UnknownFormat, UnknownReportFormat
from extractors.reports.openapi import OpenApiReport
from extractors.reports.performance import PerformanceReport
from extractors.reports.sarif import SarifReport
from extractors.reports.sources import Source, load_json, local_name, open_source, xml_events

Report = Union[CoverageReport, SarifReport, OpenApiReport, PerformanceReport]

DEFAULT_MAX_MEMBER_BYTES = 512 * 1024 * 1024
_SNIFF_BYTES = 4096
_WHITESPACE = b" \t\r\n"
_YAML_OPENAPI = re.compile(r"^(openapi|swagger)\s*:", re.MULTILINE)
_LCOV_FIRST_LINE = re.compile(r"^(TN|SF|VER):")


def _head_text(stream: BinaryIO) -> str:
    head = stream.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]
    codec = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8"
    return head.decode(codec, "replace").lstrip("\ufeff \t\r\n")


def _is_blank(stream: BinaryIO) -> bool:
    return all(not chunk.strip(_WHITESPACE) for chunk in iter(lambda: stream.read(1 << 16), b""))


def _parse_xml(stream: BinaryIO) -> Report:
    events = xml_events(stream, coverage.ANY_XML_END_TAGS)
    first = next(events)
    _, root, _ = first
    fmt = coverage.xml_coverage_format(local_name(root.tag), dict(root.attrib))
    if fmt is None:
        raise UnknownFormat(f"XML root element <{local_name(root.tag)}> is not a report format we read")
    return coverage.coverage_from_xml_events(fmt, chain((first,), events))


def _parse_json(document: Any) -> Report:
    keys = set(document) if isinstance(document, dict) else set()
    if {"version", "runs"} <= keys:
        return sarif.sarif_from_document(document)
    if keys & {"openapi", "swagger"}:
        return openapi.documentation_coverage(document)
    if {"meta", "files", "totals"} <= keys:
        return coverage.coverage_from_coveragepy(document)
    if "benchmarks" in keys:
        return performance.performance_from_pytest_benchmark(document)
    metrics = document.get("metrics") if isinstance(document, dict) else None
    if isinstance(metrics, dict) and any(key.startswith("http_req_duration") for key in metrics):
        return performance.performance_from_k6(document)
    shape = f"an object with keys {sorted(keys)[:8]}" if isinstance(document, dict) else f"a JSON {type(document).__name__}"
    raise UnknownFormat(f"{shape} is not a report format we read")


def _parse_stream(stream: BinaryIO, filename: str) -> Report:
    name = filename.lower().removesuffix(".gz")
    text = _head_text(stream)
    if not text:
        if _is_blank(stream):
            raise InvalidReport("empty file")
        raise UnknownFormat(f"more than {_SNIFF_BYTES} bytes of leading whitespace")
    if text.startswith("<"):
        return _parse_xml(stream)
    if text.startswith(("{", "[")):
        return _parse_json(load_json(stream))
    if name.endswith((".yaml", ".yml")) or _YAML_OPENAPI.search(text):
        return openapi.documentation_coverage(openapi.load_yaml(stream))
    if name.endswith((".info", ".lcov")) or _LCOV_FIRST_LINE.match(text):
        return coverage.parse_lcov(stream)
    raise UnknownFormat("not XML, JSON, OpenAPI YAML or lcov")


def parse_report(data: Source, *, filename: str, context: ReportContext) -> Report:
    """Parse one report (bytes, a path, or a binary stream), recognising its format.

    Raises ReportError (UnknownReportFormat for a file that is no report we read) whose
    message names the file, the repository and the run.
    """
    try:
        with open_source(data) as stream:
            return _parse_stream(stream, filename)
    except UnknownFormat as error:
        raise UnknownReportFormat(f"unknown format: {error}", filename=filename, context=context) from None
    except InvalidReport as error:
        raise ReportError(str(error), filename=filename, context=context) from None
    except (EOFError, zlib.error) as error:
        raise ReportError(f"truncated or corrupt gzip: {error}", filename=filename, context=context) from None
    except OSError as error:
        raise ReportError(f"cannot read: {error}", filename=filename, context=context) from None


@dataclass(frozen=True)
class ArchiveMember:
    filename: str  # "<archive name>/<path inside the archive>"
    report: Report


@dataclass(frozen=True)
class ArchiveResult:
    reports: tuple[ArchiveMember, ...]
    errors: tuple[ReportError, ...]  # members that look like reports but could not be parsed
    skipped: tuple[UnknownReportFormat, ...]  # members in no format we read (HTML, images, other JSON)


def parse_archive(data: bytes, *, filename: str, context: ReportContext,
                  max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES) -> ArchiveResult:
    """Parse every report inside a ZIP (a GitHub Actions artifact); one bad member never stops the rest.

    Members are streamed out of the archive, never extracted to disk; a member declaring
    more than `max_member_bytes` uncompressed is refused (zip bombs).
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        raise ReportError(f"not a ZIP archive: {error}", filename=filename, context=context) from None
    reports, errors, skipped = [], [], []
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            member = f"{filename}/{info.filename}"
            if info.file_size > max_member_bytes:
                errors.append(ReportError(f"{info.file_size} bytes uncompressed, above the {max_member_bytes} limit",
                                          filename=member, context=context))
                continue
            try:
                with archive.open(info) as stream:
                    reports.append(ArchiveMember(member, parse_report(stream, filename=member, context=context)))
            except UnknownReportFormat as error:
                skipped.append(error)
            except ReportError as error:
                errors.append(error)
            except (zipfile.BadZipFile, RuntimeError) as error:  # bad CRC, encrypted member
                errors.append(ReportError(f"unreadable archive member: {error}", filename=member, context=context))
    return ArchiveResult(tuple(reports), tuple(errors), tuple(skipped))
