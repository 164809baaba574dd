"""SARIF 2.1.0 logs (code scanning, linters) as flat findings and counts by (rule, level).

A result's level follows SARIF 2.1.0 §3.27.10: its own `level`; else, when its `kind`
is present and not "fail", "none"; else its rule's `defaultConfiguration.level`; else
"warning". Its rule is found by `ruleId`, `rule.id` or `ruleIndex` in the run's driver.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

from extractors.reports.errors import InvalidReport
from extractors.reports.sources import Source, load_json, open_source

SARIF_VERSION = "2.1.0"
LEVELS = ("error", "warning", "note", "none")
_PLACEHOLDER = re.compile(r"\{(\d+)\}")


@dataclass(frozen=True)
class Finding:
    tool: str
    rule_id: str | None
    level: str
    uri: str | None
    start_line: int | None
    message: str


@dataclass(frozen=True)
class SarifReport:
    kind: ClassVar[str] = "sarif"
    format: ClassVar[str] = "sarif"
    version: str
    findings: tuple[Finding, ...]

    @property
    def counts(self) -> dict[tuple[str | None, str], int]:
        """Findings per (rule id, level)."""
        return dict(Counter((finding.rule_id, finding.level) for finding in self.findings))


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidReport(f"{where} must be an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidReport(f"{where} must be an array")
    return value


class _Run:
    def __init__(self, run: dict[str, Any], where: str) -> None:
        driver = _object(_object(run.get("tool"), f"{where}.tool").get("driver"), f"{where}.tool.driver")
        self.tool = driver.get("name")
        if not isinstance(self.tool, str) or not self.tool:
            raise InvalidReport(f"{where}.tool.driver.name is missing")
        self.rules = [_object(rule, f"{where} rule") for rule in _list(driver.get("rules"), f"{where} rules")]
        self.rules_by_id = {rule.get("id"): rule for rule in self.rules}
        self.artifacts = _list(run.get("artifacts"), f"{where}.artifacts")

    def rule(self, result: dict[str, Any]) -> dict[str, Any]:
        reference = _object(result.get("rule"), "result.rule")
        index = result.get("ruleIndex", reference.get("index"))
        if isinstance(index, int) and 0 <= index < len(self.rules):
            return self.rules[index]
        return self.rules_by_id.get(result.get("ruleId") or reference.get("id"), {})

    def finding(self, result: dict[str, Any], where: str) -> Finding:
        rule = self.rule(result)
        rule_id = result.get("ruleId") or _object(result.get("rule"), "result.rule").get("id") or rule.get("id")
        return Finding(self.tool, rule_id, self._level(result, rule, where), *self._location(result, where),
                       self._message(result, rule))

    @staticmethod
    def _level(result: dict[str, Any], rule: dict[str, Any], where: str) -> str:
        level = result.get("level")
        if level is None:
            kind = result.get("kind")
            if kind is not None and kind != "fail":
                level = "none"
            else:
                level = _object(rule.get("defaultConfiguration"), "defaultConfiguration").get("level", "warning")
        if level not in LEVELS:
            raise InvalidReport(f"{where}: level {level!r} is not one of {', '.join(LEVELS)}")
        return level

    def _location(self, result: dict[str, Any], where: str) -> tuple[str | None, int | None]:
        locations = _list(result.get("locations"), f"{where}.locations")
        if not locations:
            return None, None
        physical = _object(_object(locations[0], f"{where} location").get("physicalLocation"), "physicalLocation")
        artifact = _object(physical.get("artifactLocation"), "artifactLocation")
        uri = artifact.get("uri")
        index = artifact.get("index")
        if uri is None and isinstance(index, int) and 0 <= index < len(self.artifacts):
            uri = _object(_object(self.artifacts[index], "artifact").get("location"), "artifact location").get("uri")
        start_line = _object(physical.get("region"), "region").get("startLine")
        return uri, start_line if isinstance(start_line, int) else None

    @staticmethod
    def _message(result: dict[str, Any], rule: dict[str, Any]) -> str:
        message = _object(result.get("message"), "result.message")
        text = message.get("text")
        if text is None and message.get("id"):
            strings = _object(rule.get("messageStrings"), "messageStrings")
            text = _object(strings.get(message["id"]), "messageString").get("text")
        arguments = [str(argument) for argument in _list(message.get("arguments"), "message.arguments")]
        return _PLACEHOLDER.sub(
            lambda match: arguments[int(match.group(1))] if int(match.group(1)) < len(arguments) else match.group(0),
            text or "")


def sarif_from_document(document: Any) -> SarifReport:
    log = _object(document, "SARIF log")
    version = log.get("version")
    if version != SARIF_VERSION:
        raise InvalidReport(f"SARIF version {version!r} is not supported (expected {SARIF_VERSION!r})")
    findings = []
    for run_index, run_document in enumerate(_list(log.get("runs"), "runs")):
        where = f"runs[{run_index}]"
        run = _Run(_object(run_document, where), where)
        for result_index, result in enumerate(_list(run_document.get("results"), f"{where}.results")):
            result_where = f"{where}.results[{result_index}]"
            findings.append(run.finding(_object(result, result_where), result_where))
    return SarifReport(version, tuple(findings))


def parse_sarif(source: Source) -> SarifReport:
    # A SARIF log is one JSON object (runs nest results): it is loaded whole.
    with open_source(source) as stream:
        return sarif_from_document(load_json(stream))
