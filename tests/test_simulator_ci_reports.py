"""ci_reports: documents are real formats (same parser works on real reports) and carry their facts."""

from __future__ import annotations

import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from simulator import ci_reports
from simulator.ci_reports import coverage_facts, coverage_report

FILES = ["src/app/service.py", "src/app/router.py", "src/db/store.py"]


def parse_cobertura(data: bytes) -> dict:
    root = ET.fromstring(data)
    lines = root.findall("./packages/package/classes/class/lines/line")
    return {"lines_valid": int(root.get("lines-valid")) if root.get("lines-valid") else len(lines),
            "lines_covered": int(root.get("lines-covered")) if root.get("lines-covered")
            else sum(1 for line in lines if int(line.get("hits")) > 0),
            "line_rate": float(root.get("line-rate")), "class_lines": len(lines),
            "class_hits": sum(1 for line in lines if int(line.get("hits")) > 0)}


def parse_jacoco(data: bytes) -> dict:
    root = ET.fromstring(data)
    counter = next(c for c in root.findall("./counter") if c.get("type") == "LINE")
    missed, covered = int(counter.get("missed")), int(counter.get("covered"))
    return {"lines_valid": missed + covered, "lines_covered": covered}


def parse_lcov(data: bytes) -> dict:
    valid = covered = da = da_hit = 0
    for line in data.decode().splitlines():
        if line.startswith("LF:"):
            valid += int(line[3:])
        elif line.startswith("LH:"):
            covered += int(line[3:])
        elif line.startswith("DA:"):
            da += 1
            da_hit += int(line[3:].split(",")[1]) > 0
    return {"lines_valid": valid, "lines_covered": covered, "da": da, "da_hit": da_hit}


def test_every_coverage_format_is_deterministic_and_encodes_its_facts():
    for fmt in ci_reports.COVERAGE_FORMATS:
        # given the same seed twice
        first = coverage_report(fmt, random.Random(3), FILES, 0.72)
        second = coverage_report(fmt, random.Random(3), FILES, 0.72)
        # then bytes and facts agree, and the cheap facts match the rendered ones
        assert first == second
        data, facts = first
        assert coverage_facts(random.Random(3), FILES, 0.72, fmt) == facts
        assert facts["line_rate"] == pytest.approx(facts["lines_covered"] / facts["lines_valid"])
        assert 0.5 < facts["line_rate"] < 0.95
        parsed = {"cobertura": parse_cobertura, "jacoco": parse_jacoco, "lcov": parse_lcov,
                  "coveragepy": lambda d: {"lines_valid": json.loads(d)["totals"]["num_statements"],
                                           "lines_covered": json.loads(d)["totals"]["covered_lines"]}}[fmt](data)
        assert (parsed["lines_valid"], parsed["lines_covered"]) == (facts["lines_valid"], facts["lines_covered"])


def test_cobertura_line_elements_agree_with_the_root_totals():
    data, facts = coverage_report("cobertura", random.Random(9), FILES, 0.4)
    parsed = parse_cobertura(data)
    assert parsed["class_lines"] == facts["lines_valid"]
    assert parsed["class_hits"] == facts["lines_covered"]
    assert parsed["line_rate"] == pytest.approx(facts["line_rate"], abs=5e-5)


def test_lcov_da_records_agree_with_lf_lh():
    data, facts = coverage_report("lcov", random.Random(5), FILES, 0.6)
    parsed = parse_lcov(data)
    assert (parsed["da"], parsed["da_hit"]) == (facts["lines_valid"], facts["lines_covered"])
    assert data.decode().count("end_of_record") == len(FILES)


def test_coveragepy_json_percent_and_line_lists_match():
    data, facts = coverage_report("coveragepy", random.Random(5), {"a.py": 50, "b/c.py": 20}, 0.5)
    document = json.loads(data)
    assert set(document) == {"meta", "files", "totals"}
    assert document["totals"]["percent_covered"] == pytest.approx(100 * facts["line_rate"])
    for path, entry in document["files"].items():
        assert len(entry["executed_lines"]) == facts["files"][path]["lines_covered"]
        assert len(entry["executed_lines"]) + len(entry["missing_lines"]) == entry["summary"]["num_statements"]
    assert facts["lines_valid"] == 70  # pinned sizes are honoured


def test_our_reports_and_real_reports_parse_with_the_same_rules(realdata: Path):
    # given real Cobertura (coverage.py, coverlet, Java), JaCoCo and lcov reports
    coverage = realdata / "coverage"
    cobertura = [coverage / "danielpalme__ReportGenerator/src/Testprojects/Java/Reports/Cobertura2.1.1.xml",
                 coverage / "danielpalme__ReportGenerator/src/Testprojects/CSharp/Reports/Cobertura_coverlet.xml"]
    for path in cobertura:
        real = parse_cobertura(path.read_bytes())
        assert real["lines_valid"] > 0 and 0 <= real["line_rate"] <= 1
    real_jacoco = parse_jacoco((coverage / "danielpalme__ReportGenerator/src/Testprojects/Java/Reports/JaCoCo0.8.3.xml").read_bytes())
    assert real_jacoco == {"lines_valid": 38, "lines_covered": 26}
    real_lcov = parse_lcov((coverage / "Bachmann1234__diff_cover/tests/fixtures/real_python_coverage.lcov").read_bytes())
    assert real_lcov["lines_valid"] == real_lcov["da"] and real_lcov["lines_covered"] == real_lcov["da_hit"]
    # then the same parsers read our documents into the facts
    for fmt, parser in (("cobertura", parse_cobertura), ("jacoco", parse_jacoco), ("lcov", parse_lcov)):
        data, facts = coverage_report(fmt, random.Random(1), FILES, 0.8)
        parsed = parser(data)
        assert (parsed["lines_valid"], parsed["lines_covered"]) == (facts["lines_valid"], facts["lines_covered"])


def test_sarif_counts_by_level_match_the_results():
    data, facts = ci_reports.sarif_report(random.Random(2), 25)
    log = json.loads(data)
    assert log["version"] == "2.1.0"
    results = log["runs"][0]["results"]
    assert len(results) == facts["results"] == 25
    rule_ids = {rule["id"] for rule in log["runs"][0]["tool"]["driver"]["rules"]}
    for level in ci_reports.SARIF_LEVELS:
        assert sum(1 for r in results if r["level"] == level) == facts["by_level"][level]
    assert all(r["ruleId"] in rule_ids and r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
               for r in results)


def test_openapi_documentation_coverage_is_computable_from_the_spec():
    data, facts = ci_reports.openapi_spec(random.Random(4), "payments", 30, 0.6)
    spec = json.loads(data)
    operations = [op for item in spec["paths"].values() for op in item.values()]
    documented = [op for op in operations if op.get("summary") and op.get("description")
                  and all(r.get("description") for r in op["responses"].values())]
    assert spec["openapi"].startswith("3.0")
    assert len(operations) == facts["operations"] == 30
    assert len(documented) == facts["documented_operations"] == 18
    assert facts["documentation_coverage"] == pytest.approx(0.6)


def test_benchmark_summary_carries_the_facts():
    data, facts = ci_reports.benchmark_result(random.Random(8), "payments-api")
    metrics = json.loads(data)["metrics"]
    assert metrics["http_req_duration"]["med"] == facts["p50_ms"]
    assert metrics["http_req_duration"]["p(95)"] == facts["p95_ms"]
    assert metrics["http_req_duration"]["p(99)"] == facts["p99_ms"]
    assert facts["p50_ms"] < facts["p95_ms"] < facts["p99_ms"]
    assert metrics["http_reqs"]["rate"] == facts["requests_per_second"]
    assert metrics["http_req_failed"]["value"] == facts["error_rate"]
    assert metrics["http_req_failed"]["passes"] == facts["failed_requests"]
