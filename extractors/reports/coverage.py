"""Coverage reports: Cobertura, JaCoCo, lcov, Clover, scoverage XML and coverage.py JSON.

Report totals are the numbers the producing tool wrote, never re-derived when the tool
wrote them (tools disagree on how to count a line shared by two classes, and the totals
are what the tool's own UI and gates show). The rule per format:

* Cobertura: root `lines-valid`/`lines-covered`/`branches-valid`/`branches-covered`.
  Older writers only put `line-rate`: then lines are counted from the class-level
  `<line>` elements (summed over classes, as those writers do) and checked against
  `line-rate` to within one unit of its last written decimal (coverlet truncates).
* JaCoCo: the report-level `<counter type="LINE"|"BRANCH" missed covered>`
  (valid = missed + covered; JaCoCo omits a counter whose total is zero).
* lcov: `LF`/`LH`/`BRF`/`BRH` summed over records (`DA`/`BRDA` are counted only for a
  record that lacks them).
* Clover: `<project><metrics statements coveredstatements conditionals
  coveredconditionals>`; "lines" are Clover statements, the closest thing Clover
  counts (it has no line total), and branches are its conditionals.
* scoverage: root `statement-count`/`statements-invoked` (statements, as for Clover); it
  writes branch coverage only as a percentage, so branches are None.
* coverage.py JSON: `totals.num_statements`/`covered_lines`/`num_branches`/
  `covered_branches` (branches only when it measured them).

A disagreement inside a file (a written rate or LF/LH against the elements it lists) is
kept as a warning, not an error: real writers produce such files and the totals they
wrote are still what their users saw. Covered above valid, a rate above 1 (or 100 %)
and negative counts are errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Iterable, Iterator

from extractors.reports.errors import InvalidReport
from extractors.reports.sources import Source, XmlEvent, count, load_json, open_source, xml_events

COVERAGE_FORMATS = ("cobertura", "jacoco", "lcov", "clover", "scoverage", "coveragepy")


@dataclass(frozen=True)
class Totals:
    valid: int
    covered: int

    def __post_init__(self) -> None:
        if self.valid < 0 or self.covered < 0:
            raise InvalidReport(f"negative count: {self.covered} covered of {self.valid}")
        if self.covered > self.valid:
            raise InvalidReport(f"coverage above 100 %: {self.covered} covered of {self.valid}")

    @property
    def rate(self) -> float | None:
        return self.covered / self.valid if self.valid else None

    def __add__(self, other: Totals) -> Totals:
        return Totals(self.valid + other.valid, self.covered + other.covered)


@dataclass(frozen=True)
class FileCoverage:
    path: str
    lines: Totals
    branches: Totals | None


@dataclass(frozen=True)
class CoverageReport:
    kind: ClassVar[str] = "coverage"
    format: str
    lines: Totals
    branches: Totals | None  # None: the format or this file carries no branch counts
    files: tuple[FileCoverage, ...]
    declared_line_rate: float | None = None  # the rate the tool wrote next to its counts, if any
    warnings: tuple[str, ...] = ()


def checked_totals(valid: int, covered: int, what: str) -> Totals:
    """Totals whose error, if any, names where the counts were read."""
    try:
        return Totals(valid, covered)
    except InvalidReport as error:
        raise InvalidReport(f"{what}: {error}") from None


def _sum_branches(values: Iterable[Totals | None]) -> Totals | None:
    present = [value for value in values if value is not None]
    return sum(present[1:], present[0]) if present else None


class _FileTally:
    """Per-path totals accumulated while streaming (a path can span several classes or records)."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[Totals, Totals | None]] = {}

    def add(self, path: str, lines: Totals, branches: Totals | None) -> None:
        if path in self._files:
            known_lines, known_branches = self._files[path]
            lines = known_lines + lines
            branches = _sum_branches((known_branches, branches))
        self._files[path] = (lines, branches)

    def rows(self) -> tuple[FileCoverage, ...]:
        return tuple(FileCoverage(path, lines, branches) for path, (lines, branches) in self._files.items())

    def lines(self) -> Totals:
        return sum((lines for lines, _ in self._files.values()), Totals(0, 0))

    def branches(self) -> Totals | None:
        return _sum_branches(branches for _, branches in self._files.values())


def _rate(text: str | None, what: str, *, percent: bool = False) -> Decimal | None:
    """A written rate as a Decimal (keeps its written precision); None when absent or NaN."""
    if text is None:
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidReport(f"{what} is not a number: {text!r}") from None
    if value.is_nan():
        return None
    limit = 100 if percent else 1
    if not 0 <= value <= limit:
        raise InvalidReport(f"{what} {text} is outside 0..{limit}" + (" (coverage above 100 %)" if value > limit else ""))
    return value


def _rate_disagreement(what: str, written: Decimal | None, totals: Totals | None) -> list[str]:
    """A warning when a written rate does not match the counts to within its last written decimal."""
    if written is None or totals is None or not totals.valid:
        return []
    decimals = max(-written.as_tuple().exponent, 4)  # "1" and "0" are coverage.py's 4-decimal rounding
    if abs(totals.covered / totals.valid - float(written)) <= 10.0 ** -decimals:
        return []
    return [f"{what} {written} written in the file disagrees with {totals.covered} of {totals.valid} "
            f"counted ({totals.covered / totals.valid:.6f})"]


def _count_disagreement(what: str, written: Totals | None, listed: Totals | None) -> list[str]:
    if written is None or listed is None or written == listed:
        return []
    return [f"{what} {written.covered}/{written.valid} written in the file disagree with "
            f"{listed.covered}/{listed.valid} listed"]


def _totals(element: Any, valid_attribute: str, covered_attribute: str) -> Totals | None:
    valid, covered = element.get(valid_attribute), element.get(covered_attribute)
    if valid is None or covered is None:
        return None
    return checked_totals(count(valid, valid_attribute), count(covered, covered_attribute),
                          f"{valid_attribute}/{covered_attribute}")


def _root_attributes(events: Iterator[XmlEvent], expected: str) -> dict[str, str]:
    """The root element's attributes, copied: the element itself is cleared when the stream ends."""
    _, root, path = next(events)
    if path != (expected,):
        raise InvalidReport(f"expected an XML <{expected}> root element, found <{path[0]}>")
    return dict(root.attrib)


# -- Cobertura ----------------------------------------------------------------------

_CONDITION_COVERAGE = re.compile(r"\((\d+)/(\d+)\)")


class _LineTally:
    def __init__(self) -> None:
        self.valid = self.covered = self.branches_valid = self.branches_covered = 0
        self.has_branches = False

    def add(self, line: Any) -> None:
        self.valid += 1
        self.covered += count(line.get("hits", "0"), "line hits") > 0
        match = _CONDITION_COVERAGE.search(line.get("condition-coverage") or "")
        if match:
            self.has_branches = True
            self.branches_covered += int(match.group(1))
            self.branches_valid += int(match.group(2))

    def lines(self) -> Totals:
        return Totals(self.valid, self.covered)

    def branches(self) -> Totals | None:
        if not self.has_branches:
            return None
        return checked_totals(self.branches_valid, self.branches_covered, "condition-coverage")


def _cobertura(events: Iterator[XmlEvent]) -> CoverageReport:
    root = _root_attributes(events, "coverage")
    files = _FileTally()
    class_lines = method_lines = _LineTally()
    for event, element, path in events:
        tag = path[-1]
        if event == "start" and tag == "class":
            class_lines, method_lines = _LineTally(), _LineTally()
        elif event == "start" and tag == "line" and path[-2] == "lines":
            # A class lists its lines itself and again under each method; the method
            # lists are used only when a writer (Swift) leaves the class-level one out.
            (class_lines if path[-3] == "class" else method_lines).add(element)
        elif event == "end" and tag == "class":
            tally = class_lines if class_lines.valid else method_lines
            filename = element.get("filename") or element.get("name") or ""
            files.add(filename, tally.lines(), tally.branches())
    written_lines = _totals(root, "lines-valid", "lines-covered")
    written_branches = _totals(root, "branches-valid", "branches-covered")
    lines = written_lines or files.lines()
    branches = written_branches or files.branches()
    line_rate = _rate(root.get("line-rate"), "line-rate")
    warnings = (_rate_disagreement("line-rate", line_rate, lines)
                + _rate_disagreement("branch-rate", _rate(root.get("branch-rate"), "branch-rate"), branches))
    return CoverageReport("cobertura", lines, branches, files.rows(),
                          declared_line_rate=float(line_rate) if line_rate is not None else None,
                          warnings=tuple(warnings))


# -- JaCoCo -------------------------------------------------------------------------

def _counter(element: Any) -> Totals:
    missed = count(element.get("missed"), "counter missed")
    covered = count(element.get("covered"), "counter covered")
    return checked_totals(missed + covered, covered, f"{element.get('type')} counter")


def _jacoco(events: Iterator[XmlEvent]) -> CoverageReport:
    _root_attributes(events, "report")
    files = _FileTally()
    report_counters: dict[str, Totals] = {}
    file_counters: dict[str, Totals] = {}
    package = ""
    for event, element, path in events:
        tag = path[-1]
        if event == "start" and tag == "package":
            package = element.get("name") or ""
        elif event == "start" and tag == "counter" and element.get("type") in ("LINE", "BRANCH"):
            if path[-2] == "report":
                report_counters[element.get("type")] = _counter(element)
            elif path[-2] == "sourcefile":
                file_counters[element.get("type")] = _counter(element)
        elif event == "end" and tag == "sourcefile":
            name = element.get("name") or ""
            files.add(f"{package}/{name}" if package else name,
                      file_counters.get("LINE", Totals(0, 0)), file_counters.get("BRANCH", Totals(0, 0)))
            file_counters = {}
    return CoverageReport("jacoco", report_counters.get("LINE", Totals(0, 0)),
                          report_counters.get("BRANCH", Totals(0, 0)), files.rows())


# -- Clover and scoverage -----------------------------------------------------------

def _clover_metrics(element: Any) -> tuple[Totals, Totals | None]:
    lines = _totals(element, "statements", "coveredstatements")
    if lines is None:
        raise InvalidReport("Clover <metrics> without statements/coveredstatements")
    return lines, _totals(element, "conditionals", "coveredconditionals")


def _clover(events: Iterator[XmlEvent]) -> CoverageReport:
    _root_attributes(events, "coverage")
    files = _FileTally()
    project: tuple[Totals, Totals | None] | None = None
    filename = ""
    for event, element, path in events:
        if event != "start" or "project" not in path:  # <testproject> repeats the test sources
            continue
        tag = path[-1]
        if tag == "file":
            filename = element.get("path") or element.get("name") or ""
        elif tag == "metrics" and path[-2] == "project":
            project = _clover_metrics(element)
        elif tag == "metrics" and path[-2] == "file":
            files.add(filename, *_clover_metrics(element))
    if project is None:
        raise InvalidReport("Clover report without <project><metrics>")
    return CoverageReport("clover", project[0], project[1], files.rows())


def _scoverage(events: Iterator[XmlEvent]) -> CoverageReport:
    root = _root_attributes(events, "scoverage")
    lines = _totals(root, "statement-count", "statements-invoked")
    if lines is None:
        raise InvalidReport("scoverage root without statement-count/statements-invoked")
    statement_rate = _rate(root.get("statement-rate"), "statement-rate", percent=True)
    _rate(root.get("branch-rate"), "branch-rate", percent=True)
    files = _FileTally()
    for event, element, path in events:
        if event == "start" and path[-1] == "class":
            class_lines = _totals(element, "statement-count", "statements-invoked")
            if class_lines is not None:
                files.add(element.get("filename") or element.get("name") or "", class_lines, None)
    return CoverageReport("scoverage", lines, None, files.rows(),
                          declared_line_rate=float(statement_rate) / 100 if statement_rate is not None else None)


_XML_PARSERS = {"cobertura": _cobertura, "jacoco": _jacoco, "clover": _clover, "scoverage": _scoverage}


def xml_coverage_format(root_tag: str, root_attributes: dict[str, str]) -> str | None:
    """Which XML coverage format a root element starts, or None."""
    if root_tag == "coverage":
        return "clover" if "clover" in root_attributes else "cobertura"
    return {"report": "jacoco", "scoverage": "scoverage"}.get(root_tag)


# The elements whose end each parser needs (see `xml_events`).
XML_END_TAGS = {"cobertura": frozenset({"class"}), "jacoco": frozenset({"sourcefile"}),
                "clover": frozenset(), "scoverage": frozenset()}
# Before the root is read the format is unknown: a parser ignores the ends it did not ask for.
ANY_XML_END_TAGS = frozenset().union(*XML_END_TAGS.values())


def coverage_from_xml_events(fmt: str, events: Iterator[XmlEvent]) -> CoverageReport:
    return _XML_PARSERS[fmt](events)


def _parse_xml(fmt: str, source: Source) -> CoverageReport:
    with open_source(source) as stream:
        return coverage_from_xml_events(fmt, xml_events(stream, XML_END_TAGS[fmt]))


def parse_cobertura(source: Source) -> CoverageReport:
    return _parse_xml("cobertura", source)


def parse_jacoco(source: Source) -> CoverageReport:
    return _parse_xml("jacoco", source)


def parse_clover(source: Source) -> CoverageReport:
    return _parse_xml("clover", source)


def parse_scoverage(source: Source) -> CoverageReport:
    return _parse_xml("scoverage", source)


# -- lcov ---------------------------------------------------------------------------

class _LcovRecord:
    """One SF ... end_of_record block: the counts it writes (LF, LH, BRF, BRH) and lists (DA, BRDA)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.written: dict[str, int] = {}
        self.listed_lines = self.lines_hit = 0
        self.listed_branches = self.branches_taken = 0

    def add(self, key: str, value: str, where: str) -> None:
        if key == "DA":
            fields = value.split(",")
            if len(fields) < 2:
                raise InvalidReport(f"{where}: DA needs a line and a hit count")
            self.listed_lines += 1
            self.lines_hit += count(fields[1], f"{where}: DA hits") > 0
        elif key == "BRDA":
            fields = value.split(",")
            if len(fields) != 4:
                raise InvalidReport(f"{where}: BRDA needs line, block, branch and taken")
            self.listed_branches += 1
            self.branches_taken += fields[3] != "-" and count(fields[3], f"{where}: BRDA taken") > 0
        elif key in ("LF", "LH", "BRF", "BRH"):
            self.written[key] = count(value, f"{where}: {key}")

    def _written(self, valid: str, covered: str) -> Totals | None:
        if valid not in self.written and covered not in self.written:
            return None
        return checked_totals(self.written.get(valid, 0), self.written.get(covered, 0),
                              f"{self.path}: {covered}/{valid}")

    def finish(self) -> tuple[Totals, Totals | None, list[str]]:
        listed_lines = Totals(self.listed_lines, self.lines_hit) if self.listed_lines else None
        listed_branches = Totals(self.listed_branches, self.branches_taken) if self.listed_branches else None
        written_lines, written_branches = self._written("LF", "LH"), self._written("BRF", "BRH")
        warnings = (_count_disagreement(f"{self.path}: LH/LF", written_lines, listed_lines)
                    + _count_disagreement(f"{self.path}: BRH/BRF", written_branches, listed_branches))
        return written_lines or listed_lines or Totals(0, 0), written_branches or listed_branches, warnings


def _lcov_lines(stream: Any) -> CoverageReport:
    files = _FileTally()
    warnings: list[str] = []
    record: _LcovRecord | None = None
    for number, raw in enumerate(stream, 1):
        line = raw.decode("utf-8", "replace").strip()
        where = f"line {number}"
        if not line:
            continue
        if line == "end_of_record":
            if record is None:
                raise InvalidReport(f"{where}: end_of_record without a SF record")
            lines, branches, record_warnings = record.finish()
            files.add(record.path, lines, branches)
            warnings += record_warnings
            record = None
            continue
        key, separator, value = line.partition(":")
        if not separator:
            raise InvalidReport(f"{where}: not an lcov line: {line[:80]!r}")
        if key == "SF":
            if record is not None:
                raise InvalidReport(f"{where}: SF before the end_of_record of {record.path}")
            record = _LcovRecord(value)
        elif record is not None:
            record.add(key, value, where)
        elif key not in ("TN", "VER"):
            raise InvalidReport(f"{where}: {key} outside a SF record")
    if record is not None:
        raise InvalidReport(f"truncated: the record for {record.path} has no end_of_record")
    rows = files.rows()
    if not rows:
        raise InvalidReport("empty lcov tracefile (no SF records)")
    return CoverageReport("lcov", files.lines(), files.branches(), rows, warnings=tuple(warnings))


def parse_lcov(source: Source) -> CoverageReport:
    with open_source(source) as stream:
        return _lcov_lines(stream)


# -- coverage.py JSON ---------------------------------------------------------------

def _coveragepy_totals(summary: Any, where: str) -> tuple[Totals, Totals | None]:
    if not isinstance(summary, dict) or "num_statements" not in summary or "covered_lines" not in summary:
        raise InvalidReport(f"{where} lacks num_statements/covered_lines")
    _rate(str(summary.get("percent_covered", 0)), f"{where} percent_covered", percent=True)
    lines = checked_totals(count(summary["num_statements"], f"{where} num_statements"),
                           count(summary["covered_lines"], f"{where} covered_lines"), where)
    branches = None
    if "num_branches" in summary:
        branches = checked_totals(count(summary["num_branches"], f"{where} num_branches"),
                                  count(summary.get("covered_branches"), f"{where} covered_branches"), where)
    return lines, branches


def coverage_from_coveragepy(document: Any) -> CoverageReport:
    if not isinstance(document, dict) or not isinstance(document.get("files"), dict):
        raise InvalidReport("coverage.py JSON needs an object with 'files' and 'totals'")
    lines, branches = _coveragepy_totals(document.get("totals"), "totals")
    files = _FileTally()
    for path, entry in document["files"].items():
        summary = entry.get("summary") if isinstance(entry, dict) else None
        files.add(path, *_coveragepy_totals(summary, f"files[{path!r}].summary"))
    return CoverageReport("coveragepy", lines, branches, files.rows())


def parse_coveragepy_json(source: Source) -> CoverageReport:
    # `coverage json` writes one object with `totals` after every file: there is no
    # record boundary to stream on, and the file is small next to the XML formats.
    with open_source(source) as stream:
        return coverage_from_coveragepy(load_json(stream))
