"""Reports as raw-stream records: parse downloaded bytes, and quarantine what does not parse.

Shared by every CI source (GitHub Actions artifacts are ZIPs, Jenkins archives plain
files). A report that fails to parse becomes a `rejected` record carrying the reason (and
a warning naming the file, repository and run): it is kept for inspection, never a KPI
input, and the rest of the artifact and of the run go on.
"""

from __future__ import annotations

import fnmatch
import logging
from typing import Any, Iterable, Iterator

from extractors.reports.dispatch import parse_archive, parse_report
from extractors.reports.errors import ReportContext, ReportError, UnknownReportFormat
from extractors.reports.records import record_key, report_record

log = logging.getLogger(__name__)

# File or artifact names worth downloading: each download costs one request, so only the
# names that carry reports (a source's configuration may override them).
DEFAULT_REPORT_PATTERNS = ("*coverage*", "*cobertura*", "*jacoco*", "*lcov*", "*clover*", "*sarif*", "*lint*",
                           "*openapi*", "*swagger*", "*api-spec*", "*bench*", "*k6*", "*perf*")


def is_report_name(name: str, patterns: Iterable[str] | None = None) -> bool:
    lowered = name.lower()
    return any(fnmatch.fnmatch(lowered, pattern) for pattern in (patterns or DEFAULT_REPORT_PATTERNS))


def archive_records(data: bytes, *, archive_name: str, context: ReportContext) -> Iterator[dict[str, Any]]:
    """One record per report inside a ZIP archive; files that are no report are skipped."""
    try:
        result = parse_archive(data, filename=archive_name, context=context)
    except ReportError as error:
        yield rejected_record(error, context, archive_name)
        return
    for member in result.reports:
        yield report_record(member.report, context=context, filename=member.filename)
    for error in result.errors:
        yield rejected_record(error, context, error.filename)


def file_records(data: bytes, *, filename: str, context: ReportContext) -> Iterator[dict[str, Any]]:
    """The record of one report file (nothing when it is no report format we read)."""
    try:
        yield report_record(parse_report(data, filename=filename, context=context), context=context,
                            filename=filename)
    except UnknownReportFormat:
        log.info("%s of %s run %s is no report format we read; skipped", filename, context.repository,
                 context.run_id)
    except ReportError as error:
        yield rejected_record(error, context, filename)


def rejected_record(error: ReportError, context: ReportContext, filename: str) -> dict[str, Any]:
    log.warning("report quarantined: %s", error)
    return {**record_key(context, filename), "report_kind": "rejected", "error": str(error)}
