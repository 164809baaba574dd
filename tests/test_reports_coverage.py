"""Coverage parsers: real reports from real tools, the simulator's reports, a hand-built
coverage.py JSON, impossible numbers, and a 200k-line Cobertura file parsed in flat memory.

The expected totals of a real report are read here from the file itself with a plain
ElementTree read of the root or a regex, independently of the parser under test.
"""

from __future__ import annotations

import json
import random
import re
import tracemalloc
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from extractors.reports import (
    CoverageReport, InvalidReport, ReportContext, ReportError, Totals, UnknownReportFormat, parse_cobertura,
    parse_coveragepy_json, parse_jacoco, parse_lcov, parse_report,
)
from simulator import ci_reports
from tests.conftest import realdata_dir

CONTEXT = ReportContext(repository="acme/ledger", run_id=4242, source="github")
COVERAGE_SUFFIXES = (".xml", ".info", ".lcov")


def xml_root_tag(path: Path) -> str | None:
    if path.suffix != ".xml":
        return None
    _, root = next(ET.iterparse(path, events=("start",)))
    return root.tag


def realdata_coverage_files() -> list:
    root = realdata_dir() / "coverage"
    if not root.is_dir():
        return ["<realdata absent>"]  # the `realdata` fixture skips with the reason
    params = []
    for path in sorted(path for path in root.rglob("*") if path.suffix in COVERAGE_SUFFIXES):
        relative = str(path.relative_to(root))
        if xml_root_tag(path) == "project":
            relative_id = f"{relative} [an Ant build file, not a report: must be refused as an unknown format]"
            params.append(pytest.param(relative, id=relative_id))
        else:
            params.append(relative)
    return params


def expected_from_file(path: Path) -> tuple[str, Totals, Totals | None]:
    """(format, lines, branches) as the producing tool wrote them in `path`."""
    if path.suffix in (".info", ".lcov"):
        text = path.read_text(encoding="utf-8")
        sums = {key: sum(int(value) for value in re.findall(rf"^{key}:(\d+)\s*$", text, re.MULTILINE))
                for key in ("LF", "LH", "BRF", "BRH")}
        has_branches = re.search(r"^BRF:", text, re.MULTILINE) is not None
        return "lcov", Totals(sums["LF"], sums["LH"]), Totals(sums["BRF"], sums["BRH"]) if has_branches else None
    root = ET.parse(path).getroot()
    if root.tag == "report":
        counters = {counter.get("type"): counter for counter in root.findall("counter")}
        line, branch = counters["LINE"], counters["BRANCH"]
        return ("jacoco", Totals(int(line.get("missed")) + int(line.get("covered")), int(line.get("covered"))),
                Totals(int(branch.get("missed")) + int(branch.get("covered")), int(branch.get("covered"))))
    if root.tag == "coverage" and root.get("clover"):
        metrics = root.find("project/metrics")
        return ("clover", Totals(int(metrics.get("statements")), int(metrics.get("coveredstatements"))),
                Totals(int(metrics.get("conditionals")), int(metrics.get("coveredconditionals"))))
    if root.tag == "scoverage":
        return "scoverage", Totals(int(root.get("statement-count")), int(root.get("statements-invoked"))), None
    assert root.tag == "coverage", f"{path.name}: unexpected root <{root.tag}>"
    lines = Totals(int(float(root.get("lines-valid"))), int(float(root.get("lines-covered"))))
    branches = None
    if root.get("branches-valid") is not None:
        branches = Totals(int(float(root.get("branches-valid"))), int(float(root.get("branches-covered"))))
    return "cobertura", lines, branches


@pytest.mark.parametrize("relative", realdata_coverage_files())
def test_every_real_coverage_report_parses_to_the_totals_its_tool_wrote(realdata: Path, relative: str) -> None:
    path = realdata / "coverage" / relative
    if xml_root_tag(path) == "project":
        # JaCoCo_Ant.xml is the Ant build file that produced a JaCoCo report, not a report.
        with pytest.raises(UnknownReportFormat, match="unknown format"):
            parse_report(path, filename=relative, context=CONTEXT)
        return
    report = parse_report(path, filename=relative, context=CONTEXT)
    assert isinstance(report, CoverageReport)
    root = ET.parse(path).getroot() if path.suffix == ".xml" else None
    if root is not None and root.tag == "coverage" and not root.get("clover") and root.get("lines-valid") is None:
        # An older Cobertura writer: only `line-rate`; the lines are the class-level <line> elements.
        class_lines = root.findall(".//class/lines/line")
        counted = Totals(len(class_lines), sum(int(line.get("hits")) > 0 for line in class_lines))
        assert (report.format, report.lines) == ("cobertura", counted)
        written_rate = float(root.get("line-rate"))
        assert report.declared_line_rate == written_rate
        disagrees = abs(counted.covered / counted.valid - written_rate) > 1e-4
        assert any(warning.startswith("line-rate") for warning in report.warnings) == disagrees
        return
    fmt, lines, branches = expected_from_file(path)
    assert (report.format, report.lines) == (fmt, lines)
    if fmt != "lcov" or branches is not None:
        assert report.branches == branches
    assert report.files, "per-file rows"


def test_real_legacy_cobertura_that_contradicts_its_line_rate_is_flagged(realdata: Path) -> None:
    # diff_cover's fixture says line-rate 0.8792 but lists 5 covered lines out of 10.
    report = parse_cobertura(realdata / "coverage/Bachmann1234__diff_cover/tests/fixtures/coverage.xml")
    assert report.lines == Totals(10, 5)
    assert report.warnings == ("line-rate 0.8792 written in the file disagrees with 5 of 10 counted (0.500000)",)


def test_real_lcov_per_file_rows_follow_their_records(realdata: Path) -> None:
    report = parse_lcov(realdata / "coverage/danielpalme__ReportGenerator/src/Testprojects/C++/Reports/lcov.info")
    assert {row.path: (row.lines.valid, row.lines.covered) for row in report.files} == {
        "C:\\temp\\sub\\calculator.cpp": (4, 4), "C:\\temp\\main.cpp": (11, 9), "C:\\temp\\calculator.cpp": (4, 4)}


def test_real_jacoco_files_are_package_qualified(realdata: Path) -> None:
    report = parse_jacoco(realdata / "coverage/danielpalme__ReportGenerator/src/Testprojects/Java/Reports/JaCoCo0.8.3.xml")
    assert all(row.path.startswith("test/") for row in report.files)
    assert sum((row.lines for row in report.files), Totals(0, 0)) == report.lines


@pytest.mark.parametrize("fmt", ci_reports.COVERAGE_FORMATS)
def test_simulator_coverage_reports_parse_to_the_facts_they_encode(fmt: str) -> None:
    files = ["src/app/service.py", "src/app/router.py", "src/db/store.py", "setup.py"]
    document, facts = ci_reports.coverage_report(fmt, random.Random(11), files, 0.68)
    report = parse_report(document, filename=ci_reports.COVERAGE_PATHS[fmt], context=CONTEXT)
    assert report.format == fmt
    assert report.lines == Totals(facts["lines_valid"], facts["lines_covered"])
    assert report.lines.rate == pytest.approx(facts["line_rate"])
    assert {row.path: {"lines_valid": row.lines.valid, "lines_covered": row.lines.covered}
            for row in report.files} == facts["files"]
    assert report.warnings == ()


def test_coveragepy_json_with_branches() -> None:
    # No real coverage.py JSON is in the corpus: this one follows coverage.py's documented
    # `coverage json` format 2 (meta, files.<path>.summary, totals), run with --branch.
    summary_a = {"covered_lines": 8, "num_statements": 10, "percent_covered": 75.0, "missing_lines": 2,
                 "excluded_lines": 0, "num_branches": 6, "num_partial_branches": 1, "covered_branches": 4,
                 "missing_branches": 2}
    summary_b = {"covered_lines": 3, "num_statements": 3, "percent_covered": 100.0, "missing_lines": 0,
                 "excluded_lines": 1, "num_branches": 0, "num_partial_branches": 0, "covered_branches": 0,
                 "missing_branches": 0}
    document = {
        "meta": {"format": 2, "version": "7.4.4", "timestamp": "2024-03-01T10:00:00.000000",
                 "branch_coverage": True, "show_contexts": False},
        "files": {
            "pkg/a.py": {"executed_lines": [1, 2, 3, 4, 5, 6, 7, 8], "summary": summary_a, "missing_lines": [9, 10],
                         "excluded_lines": [], "executed_branches": [[2, 3]], "missing_branches": [[5, 7]]},
            "pkg/b.py": {"executed_lines": [1, 2, 3], "summary": summary_b, "missing_lines": [],
                         "excluded_lines": [4], "executed_branches": [], "missing_branches": []},
        },
        "totals": {"covered_lines": 11, "num_statements": 13, "percent_covered": 79.16666666666667,
                   "percent_covered_display": "79", "missing_lines": 2, "excluded_lines": 1, "num_branches": 6,
                   "num_partial_branches": 1, "covered_branches": 4, "missing_branches": 2},
    }
    report = parse_coveragepy_json(json.dumps(document).encode())
    assert (report.format, report.lines, report.branches) == ("coveragepy", Totals(13, 11), Totals(6, 4))
    assert [(row.path, row.lines, row.branches) for row in report.files] == [
        ("pkg/a.py", Totals(10, 8), Totals(6, 4)), ("pkg/b.py", Totals(3, 3), Totals(0, 0))]


def test_coveragepy_json_without_branch_measurement_has_no_branch_totals() -> None:
    document, _ = ci_reports.coverage_report("coveragepy", random.Random(2), ["a.py"], 0.5)
    assert parse_coveragepy_json(document).branches is None


@pytest.mark.parametrize("document, reason", [
    (b'<coverage lines-valid="10" lines-covered="12" line-rate="1.2"><packages/></coverage>',
     "coverage above 100 %"),
    (b'<coverage line-rate="1.5"><packages/></coverage>', "line-rate 1.5 is outside 0..1 (coverage above 100 %)"),
    (b'<coverage lines-valid="-3" lines-covered="0"><packages/></coverage>', "lines-valid is negative"),
    (b'<report name="x"><counter type="LINE" missed="-1" covered="3"/></report>', "counter missed is negative"),
    (b"SF:a.c\nDA:1,1\nLF:1\nLH:2\nend_of_record\n", "coverage above 100 %"),
    (b'{"meta": {}, "files": {}, "totals": {"num_statements": 4, "covered_lines": 5, "percent_covered": 125.0}}',
     "percent_covered 125.0 is outside 0..100"),
], ids=["cobertura-counts", "cobertura-rate", "cobertura-negative", "jacoco-negative", "lcov", "coveragepy"])
def test_impossible_coverage_is_an_error_naming_file_repository_and_run(document: bytes, reason: str) -> None:
    with pytest.raises(ReportError) as raised:
        parse_report(document, filename="coverage-report", context=CONTEXT)
    message = str(raised.value)
    assert reason in message
    assert message.startswith("coverage-report: ") and "repository acme/ledger" in message and "run 4242" in message


def test_truncated_lcov_record_is_an_error() -> None:
    with pytest.raises(InvalidReport, match="the record for src/a.py has no end_of_record"):
        parse_lcov(b"TN:\nSF:src/a.py\nDA:1,1\nLF:1\n")


def test_cobertura_branches_come_from_condition_coverage_when_the_root_has_no_counts() -> None:
    document = b"""<coverage line-rate="0.5"><packages><package name="p"><classes>
        <class name="A" filename="a.py"><lines>
          <line number="1" hits="1" branch="true" condition-coverage="50% (1/2)"/>
          <line number="2" hits="0"/>
        </lines></class></classes></package></packages></coverage>"""
    report = parse_cobertura(document)
    assert (report.lines, report.branches, report.warnings) == (Totals(2, 1), Totals(2, 1), ())


def test_entity_declarations_are_refused() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE coverage [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b'<coverage line-rate="0"><packages><package name="&b;"/></packages></coverage>')
    with pytest.raises(InvalidReport, match="declares entities"):
        parse_cobertura(bomb)


def write_large_cobertura(path: Path, classes: int, lines_per_class: int) -> Totals:
    valid = classes * lines_per_class
    covered = sum(1 for number in range(lines_per_class) if number % 3) * classes
    with path.open("w", encoding="utf-8") as out:
        out.write(f'<?xml version="1.0" ?>\n<coverage version="7.4.4" lines-valid="{valid}" '
                  f'lines-covered="{covered}" line-rate="{covered / valid:.4f}" branches-valid="0" '
                  'branches-covered="0" branch-rate="0">\n<packages><package name="big"><classes>\n')
        for index in range(classes):
            out.write(f'<class name="m{index}.py" filename="src/big/m{index}.py" line-rate="0"><methods/><lines>\n')
            out.writelines(f'<line number="{number + 1}" hits="{number % 3}"/>\n' for number in range(lines_per_class))
            out.write("</lines></class>\n")
        out.write("</classes></package></packages></coverage>\n")
    return Totals(valid, covered)


def test_a_200k_line_cobertura_report_streams_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "coverage.xml"
    expected = write_large_cobertura(path, classes=200, lines_per_class=1000)
    assert path.stat().st_size > 5_000_000
    tracemalloc.start()
    try:
        report = parse_cobertura(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.lines == expected and len(report.files) == 200
    assert sum((row.lines for row in report.files), Totals(0, 0)) == expected
    # A tree of 200k <line> elements would take well over 50 MB; streaming holds one chunk.
    assert peak < 5_000_000, f"peak {peak} bytes"
