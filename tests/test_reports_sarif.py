"""SARIF 2.1.0: the simulator's logs give its facts; levels default as the spec says."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from extractors.reports import Finding, InvalidReport, ReportContext, SarifReport, parse_report, parse_sarif
from simulator import ci_reports

CONTEXT = ReportContext(repository="acme/ledger", run_id=7, source="github")


@pytest.mark.parametrize("seed, findings", [(1, 0), (2, 1), (3, 17), (4, 60)])
def test_simulator_sarif_parses_to_the_facts_it_encodes(seed: int, findings: int) -> None:
    document, facts = ci_reports.sarif_report(random.Random(seed), findings)
    report = parse_report(document, filename="results.sarif", context=CONTEXT)
    assert isinstance(report, SarifReport)
    assert len(report.findings) == facts["results"]
    by_level = Counter({level: 0 for level in ci_reports.SARIF_LEVELS})
    by_rule: Counter[str] = Counter()
    for (rule_id, level), total in report.counts.items():
        by_level[level] += total
        by_rule[rule_id] += total
    assert dict(by_level) == facts["by_level"]
    assert dict(sorted(by_rule.items())) == facts["by_rule"]
    assert all(finding.tool == "bandit" and finding.uri and finding.start_line for finding in report.findings)


def sarif(results: list[dict], rules: list[dict] | None = None, version: str = "2.1.0") -> bytes:
    return json.dumps({"version": version, "runs": [{
        "tool": {"driver": {"name": "lint", "rules": rules or []}},
        "artifacts": [{"location": {"uri": "src/indexed.py"}}],
        "results": results}]}).encode()


def test_levels_default_from_the_rule_then_kind_then_warning() -> None:
    rules = [{"id": "R1", "defaultConfiguration": {"level": "error"}},
             {"id": "R2", "messageStrings": {"default": {"text": "Use {0} not {1}."}}}]
    location = {"physicalLocation": {"artifactLocation": {"uri": "src/a.py"}, "region": {"startLine": 12}}}
    document = sarif([
        {"ruleId": "R1", "message": {"text": "explicit"}, "level": "note", "locations": [location]},
        {"ruleId": "R1", "message": {"text": "from the rule by id"}},
        {"ruleIndex": 0, "message": {"text": "from the rule by index"}},
        {"ruleId": "R2", "message": {"id": "default", "arguments": ["x", "y"]},
         "locations": [{"physicalLocation": {"artifactLocation": {"index": 0}}}]},
        {"ruleId": "R3", "kind": "pass", "message": {"text": "passed"}},
    ], rules)
    report = parse_sarif(document)
    assert report.findings == (
        Finding("lint", "R1", "note", "src/a.py", 12, "explicit"),
        Finding("lint", "R1", "error", None, None, "from the rule by id"),
        Finding("lint", "R1", "error", None, None, "from the rule by index"),
        Finding("lint", "R2", "warning", "src/indexed.py", None, "Use x not y."),
        Finding("lint", "R3", "none", None, None, "passed"),
    )
    assert report.counts == {("R1", "note"): 1, ("R1", "error"): 2, ("R2", "warning"): 1, ("R3", "none"): 1}


@pytest.mark.parametrize("document, reason", [
    (sarif([], version="2.0.0"), "SARIF version '2.0.0' is not supported"),
    (sarif([{"ruleId": "R", "level": "fatal", "message": {"text": "x"}}]), "level 'fatal' is not one of"),
    (json.dumps({"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}).encode(), "driver.name is missing"),
])
def test_invalid_sarif_is_refused(document: bytes, reason: str) -> None:
    with pytest.raises(InvalidReport, match=reason):
        parse_sarif(document)
