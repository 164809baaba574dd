"""Deterministic report documents that CI jobs produce, in the formats real tools emit.

Every generator takes a `random.Random` and returns `(document_bytes, facts)`:
the bytes are what a CI server archives (and what the warehouse's parsers will
read), `facts` are the true numbers encoded in them, so the ground truth never
has to parse its own output.

Formats (shapes checked against real reports in `shared/realdata/coverage/`):

* `cobertura`  -- Cobertura XML as coverage.py / gocover-cobertura write it:
  `<coverage line-rate lines-valid lines-covered ...>` > packages > package >
  classes > class(filename) > lines > `<line number hits/>`.
* `jacoco`     -- JaCoCo XML: `<report>` > package > class/sourcefile, with
  `<counter type="LINE" missed covered/>` at sourcefile, package and report level.
* `lcov`       -- lcov tracefile: `TN:`, `SF:`, `DA:<line>,<hits>`, `LF:`, `LH:`, `end_of_record`.
* `coveragepy` -- `coverage json` (format 2): `meta`, `files.<path>.{executed_lines,
  missing_lines, excluded_lines, summary}`, `totals.{covered_lines, num_statements,
  percent_covered, ...}`.

Coverage facts: `{"format", "lines_valid", "lines_covered", "line_rate", "files":
{path: {"lines_valid", "lines_covered"}}}` where `line_rate = lines_covered /
lines_valid` (0.0 when there are no lines) -- the exact ratio, unrounded; the
documents carry it rounded the way each tool does (Cobertura 4 decimals,
coverage.py full float).

`coverage_facts(rng, files, line_rate)` consumes the rng exactly like
`coverage_report` and returns the same facts without rendering, so a CI
simulator can know a build's coverage cheaply and render the artifact lazily.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Mapping, Sequence, Union
from xml.sax.saxutils import quoteattr

COVERAGE_FORMATS = ("cobertura", "jacoco", "lcov", "coveragepy")
# Where each format is conventionally written (used as the archived artifact path).
COVERAGE_PATHS = {
    "cobertura": "coverage.xml",
    "jacoco": "target/site/jacoco/jacoco.xml",
    "lcov": "coverage/lcov.info",
    "coveragepy": "coverage.json",
}
DEFAULT_GENERATED_AT = datetime(2024, 1, 1, tzinfo=UTC)
SARIF_LEVELS = ("error", "warning", "note")
# Source paths (statement counts drawn from the rng) or {path: statement count} (fixed).
Files = Union[Sequence[str], Mapping[str, int]]


# -- coverage -----------------------------------------------------------------------


@dataclass(frozen=True)
class _FilePlan:
    path: str
    statements: int
    covered: int
    seed: int  # drives line numbers and hit counts at render time


def _plan(rng: random.Random, files: Files, line_rate: float) -> list[_FilePlan]:
    if not 0.0 <= line_rate <= 1.0:
        raise ValueError(f"line_rate must be within [0, 1], got {line_rate}")
    plans = []
    for path in files:
        statements = files[path] if isinstance(files, Mapping) else rng.randint(12, 140)
        rate = min(max(line_rate + rng.uniform(-0.12, 0.12), 0.0), 1.0)
        if line_rate in (0.0, 1.0):
            rate = line_rate
        plans.append(_FilePlan(path, statements, round(statements * rate), rng.getrandbits(32)))
    return plans


def _facts(fmt: str, plans: list[_FilePlan]) -> dict[str, Any]:
    valid = sum(p.statements for p in plans)
    covered = sum(p.covered for p in plans)
    return {
        "format": fmt,
        "lines_valid": valid,
        "lines_covered": covered,
        "line_rate": covered / valid if valid else 0.0,
        "files": {p.path: {"lines_valid": p.statements, "lines_covered": p.covered} for p in plans},
    }


def _lines(plan: _FilePlan) -> list[tuple[int, int]]:
    """(line number, hits) for every statement of a file, ascending."""
    rng = random.Random(plan.seed)
    numbers, line = [], 0
    for _ in range(plan.statements):
        line += rng.choice((1, 1, 1, 2, 3))
        numbers.append(line)
    covered = set(rng.sample(range(plan.statements), plan.covered))
    return [(number, rng.randint(1, 40) if index in covered else 0) for index, number in enumerate(numbers)]


def coverage_facts(rng: random.Random, files: Files, line_rate: float, fmt: str = "cobertura") -> dict[str, Any]:
    """The facts `coverage_report` would return for the same rng state, without rendering."""
    return _facts(fmt, _plan(rng, files, line_rate))


def coverage_report(fmt: str, rng: random.Random, files: Files, line_rate: float, *,
                    generated_at: datetime = DEFAULT_GENERATED_AT) -> tuple[bytes, dict[str, Any]]:
    """A coverage report over `files` near `line_rate`; returns (bytes, facts).

    `files` is a sequence of source paths (each gets 12-140 statements from the
    rng) or a mapping {path: statements} to pin the sizes (a CI job's builds
    keep their files' sizes). Each file's covered share is `line_rate` +- 0.12
    (exactly 0 or 1 when `line_rate` is), so the encoded overall rate is near,
    not equal to, `line_rate`: `facts["line_rate"]` is the true one.
    """
    if fmt not in COVERAGE_FORMATS:
        raise ValueError(f"unknown coverage format {fmt!r}; known: {COVERAGE_FORMATS}")
    plans = _plan(rng, files, line_rate)
    facts = _facts(fmt, plans)
    render = {"cobertura": _cobertura, "jacoco": _jacoco, "lcov": _lcov, "coveragepy": _coveragepy}[fmt]
    return render(plans, facts, generated_at), facts


def _packages(plans: list[_FilePlan]) -> dict[str, list[_FilePlan]]:
    grouped: dict[str, list[_FilePlan]] = {}
    for plan in plans:
        directory = plan.path.rsplit("/", 1)[0] if "/" in plan.path else ""
        grouped.setdefault(directory, []).append(plan)
    return grouped


def _rate(covered: int, valid: int) -> str:
    # coverage.py's Cobertura writer: rounded to 4 decimals, "1" / "0" without decimals.
    value = round(covered / valid, 4) if valid else 1.0
    return f"{value:g}" if value in (0.0, 1.0) else f"{value:.4f}".rstrip("0")


def _cobertura(plans: list[_FilePlan], facts: dict, generated_at: datetime) -> bytes:
    out = ['<?xml version="1.0" ?>',
           f'<coverage version="7.4.4" timestamp="{int(generated_at.timestamp() * 1000)}" '
           f'lines-valid="{facts["lines_valid"]}" lines-covered="{facts["lines_covered"]}" '
           f'line-rate="{_rate(facts["lines_covered"], facts["lines_valid"])}" branches-covered="0" '
           f'branches-valid="0" branch-rate="0" complexity="0">',
           "\t<!-- Generated by coverage.py: https://coverage.readthedocs.io/en/7.4.4 -->",
           "\t<sources>", "\t\t<source>/builds/src</source>", "\t</sources>", "\t<packages>"]
    for package, members in _packages(plans).items():
        valid = sum(p.statements for p in members)
        covered = sum(p.covered for p in members)
        out.append(f'\t\t<package name={quoteattr(package.replace("/", ".") or ".")} '
                   f'line-rate="{_rate(covered, valid)}" branch-rate="0" complexity="0">')
        out.append("\t\t\t<classes>")
        for plan in members:
            name = plan.path.rsplit("/", 1)[-1]
            out.append(f'\t\t\t\t<class name={quoteattr(name)} filename={quoteattr(plan.path)} '
                       f'complexity="0" line-rate="{_rate(plan.covered, plan.statements)}" branch-rate="0">')
            out.append("\t\t\t\t\t<methods/>")
            out.append("\t\t\t\t\t<lines>")
            out.extend(f'\t\t\t\t\t\t<line number="{number}" hits="{hits}"/>' for number, hits in _lines(plan))
            out.append("\t\t\t\t\t</lines>")
            out.append("\t\t\t\t</class>")
        out.append("\t\t\t</classes>")
        out.append("\t\t</package>")
    out += ["\t</packages>", "</coverage>", ""]
    return "\n".join(out).encode()


def _jacoco_counters(indent: str, missed: int, covered: int, methods: tuple[int, int],
                     classes: tuple[int, int] | None) -> list[str]:
    rows = [
        f'{indent}<counter type="INSTRUCTION" missed="{missed * 4}" covered="{covered * 4}"/>',
        f'{indent}<counter type="LINE" missed="{missed}" covered="{covered}"/>',
        f'{indent}<counter type="COMPLEXITY" missed="{methods[0]}" covered="{methods[1]}"/>',
        f'{indent}<counter type="METHOD" missed="{methods[0]}" covered="{methods[1]}"/>',
    ]
    if classes is not None:
        rows.append(f'{indent}<counter type="CLASS" missed="{classes[0]}" covered="{classes[1]}"/>')
    return rows


def _jacoco(plans: list[_FilePlan], facts: dict, generated_at: datetime) -> bytes:
    start = int(generated_at.timestamp() * 1000)
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
           '<!DOCTYPE report PUBLIC "-//JACOCO//DTD Report 1.1//EN" "report.dtd">',
           '<report name="build">',
           f'  <sessioninfo id="ci-{start}" start="{start}" dump="{start + 4213}"/>']
    total_methods = [0, 0]
    total_classes = [0, 0]
    for package, members in _packages(plans).items():
        out.append(f"  <package name={quoteattr(package)}>")
        package_methods = [0, 0]
        package_classes = [0, 0]
        sourcefiles = []
        for plan in members:
            filename = plan.path.rsplit("/", 1)[-1]
            klass = f"{package}/{filename.rsplit('.', 1)[0]}" if package else filename.rsplit(".", 1)[0]
            lines = _lines(plan)
            # One method per ~10 lines; a method counts as covered when any of its lines is.
            chunks = [lines[i:i + 10] for i in range(0, len(lines), 10)]
            m_cov = sum(1 for chunk in chunks if any(hits for _, hits in chunk))
            methods = (len(chunks) - m_cov, m_cov)
            classes = (0, 1) if m_cov else (1, 0)
            missed = plan.statements - plan.covered
            out.append(f"    <class name={quoteattr(klass)} sourcefilename={quoteattr(filename)}>")
            for index, chunk in enumerate(chunks):
                c_missed = sum(1 for _, hits in chunk if not hits)
                c_covered = len(chunk) - c_missed
                out.append(f'      <method name="method{index}" desc="()V" line="{chunk[0][0]}">')
                out += _jacoco_counters("        ", c_missed, c_covered,
                                        (0, 1) if c_covered else (1, 0), None)
                out.append("      </method>")
            out += _jacoco_counters("      ", missed, plan.covered, methods, classes)
            out.append("    </class>")
            source = [f"    <sourcefile name={quoteattr(filename)}>"]
            for number, hits in lines:
                mi, ci = (0, 4) if hits else (4, 0)
                source.append(f'      <line nr="{number}" mi="{mi}" ci="{ci}" mb="0" cb="0"/>')
            source += _jacoco_counters("      ", missed, plan.covered, methods, classes)
            source.append("    </sourcefile>")
            sourcefiles += source
            for acc, values in ((package_methods, methods), (package_classes, classes)):
                acc[0] += values[0]
                acc[1] += values[1]
        out += sourcefiles
        valid = sum(p.statements for p in members)
        covered = sum(p.covered for p in members)
        out += _jacoco_counters("    ", valid - covered, covered, tuple(package_methods), tuple(package_classes))
        out.append("  </package>")
        for acc, values in ((total_methods, package_methods), (total_classes, package_classes)):
            acc[0] += values[0]
            acc[1] += values[1]
    out += _jacoco_counters("  ", facts["lines_valid"] - facts["lines_covered"], facts["lines_covered"],
                            tuple(total_methods), tuple(total_classes))
    out += ["</report>", ""]
    return "\n".join(out).encode()


def _lcov(plans: list[_FilePlan], facts: dict, generated_at: datetime) -> bytes:
    out = []
    for plan in plans:
        out += ["TN:", f"SF:{plan.path}"]
        out += [f"DA:{number},{hits}" for number, hits in _lines(plan)]
        out += [f"LF:{plan.statements}", f"LH:{plan.covered}", "end_of_record"]
    return ("\n".join(out) + "\n").encode()


def _percent(covered: int, valid: int) -> float:
    return 100.0 * covered / valid if valid else 100.0


def _summary(covered: int, valid: int) -> dict[str, Any]:
    percent = _percent(covered, valid)
    return {"covered_lines": covered, "num_statements": valid, "percent_covered": percent,
            "percent_covered_display": str(math.floor(percent + 0.5)) if valid else "100",
            "missing_lines": valid - covered, "excluded_lines": 0}


def _coveragepy(plans: list[_FilePlan], facts: dict, generated_at: datetime) -> bytes:
    files = {}
    for plan in plans:
        lines = _lines(plan)
        files[plan.path] = {
            "executed_lines": [number for number, hits in lines if hits],
            "summary": _summary(plan.covered, plan.statements),
            "missing_lines": [number for number, hits in lines if not hits],
            "excluded_lines": [],
        }
    document = {
        "meta": {"format": 2, "version": "7.4.4", "timestamp": generated_at.strftime("%Y-%m-%dT%H:%M:%S.%f"),
                 "branch_coverage": False, "show_contexts": False},
        "files": files,
        "totals": _summary(facts["lines_covered"], facts["lines_valid"]),
    }
    return json.dumps(document, indent=4).encode()


# -- SARIF --------------------------------------------------------------------------

_SARIF_RULES = (  # (id, name, default level, text)
    ("B101", "assert_used", "note", "Use of assert detected."),
    ("B105", "hardcoded_password_string", "warning", "Possible hardcoded password."),
    ("B303", "blacklist_md5", "warning", "Use of insecure MD2, MD4, MD5, or SHA1 hash function."),
    ("B602", "subprocess_popen_with_shell_equals_true", "error", "subprocess call with shell=True identified."),
    ("B608", "hardcoded_sql_expressions", "error", "Possible SQL injection vector through string-based query."),
    ("B113", "request_without_timeout", "warning", "Requests call without timeout."),
)


def sarif_report(rng: random.Random, findings: int, *, files: Sequence[str] = ("src/app.py", "src/db.py", "src/api.py"),
                 tool: str = "bandit") -> tuple[bytes, dict[str, Any]]:
    """A SARIF 2.1.0 log with `findings` results; facts: {"results", "by_level", "by_rule", "rules"}.

    `by_level` always has the keys error/warning/note; a result's `level` is its
    rule's `defaultConfiguration.level` (written explicitly on every result).
    """
    if findings < 0:
        raise ValueError("findings must be >= 0")
    rules = [{
        "id": rule_id, "name": name, "shortDescription": {"text": text}, "fullDescription": {"text": text},
        "defaultConfiguration": {"level": level},
        "helpUri": f"https://bandit.readthedocs.io/en/latest/plugins/{rule_id.lower()}_{name}.html",
        "properties": {"tags": ["security"]},
    } for rule_id, name, level, text in _SARIF_RULES]
    results = []
    by_level = {level: 0 for level in SARIF_LEVELS}
    by_rule: dict[str, int] = {}
    for _ in range(findings):
        index = rng.randrange(len(_SARIF_RULES))
        rule_id, _name, level, text = _SARIF_RULES[index]
        by_level[level] += 1
        by_rule[rule_id] = by_rule.get(rule_id, 0) + 1
        line = rng.randint(1, 400)
        results.append({
            "ruleId": rule_id, "ruleIndex": index, "level": level, "message": {"text": text},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": rng.choice(list(files)), "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": line, "endLine": line, "startColumn": rng.randint(1, 40)},
            }}],
        })
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": tool, "version": "1.7.9", "informationUri": "https://github.com/PyCQA/bandit",
                                "rules": rules}},
            "results": results,
            "columnKind": "utf16CodeUnits",
        }],
    }
    facts = {"results": findings, "by_level": by_level, "by_rule": dict(sorted(by_rule.items())),
             "rules": len(rules)}
    return json.dumps(document, indent=2).encode(), facts


# -- OpenAPI ------------------------------------------------------------------------

_RESOURCES = ("accounts", "invoices", "payments", "customers", "orders", "refunds", "reports", "webhooks",
              "sessions", "products", "subscriptions", "events")
_METHODS = ("get", "post", "put", "delete", "patch")


def openapi_spec(rng: random.Random, service: str, operations: int,
                 documented_share: float) -> tuple[bytes, dict[str, Any]]:
    """An OpenAPI 3.0.3 JSON description with `operations` operations.

    An operation is *documented* (the README's definition) when it has a summary or
    a description, every parameter has a description, every response has a
    description and every 2xx response with a body has a schema; exactly
    `round(operations * documented_share)` are (they have all of these). The others
    carry only `operationId`, an undescribed `id` parameter on item paths and
    `responses: {"200": {"description": ""}}`.
    Facts: {"operations", "documented_operations", "documentation_coverage"}
    (documented / operations, 0.0 for an empty spec) and "documented_ids".
    """
    if not 0.0 <= documented_share <= 1.0:
        raise ValueError("documented_share must be within [0, 1]")
    slots = [(f"/{resource}" + ("/{id}" if detail else ""), method)
             for resource in _RESOURCES for detail in (False, True)
             for method in (_METHODS[1:] if detail else _METHODS[:2])]
    while len(slots) < operations:  # more operations than the stock paths: versioned copies
        slots += [(f"/v{len(slots) // 100 + 2}{path}", method) for path, method in slots[:operations - len(slots)]]
    chosen = sorted(rng.sample(slots, operations))
    documented = set(rng.sample(range(operations), round(operations * documented_share)))
    paths: dict[str, dict] = {}
    documented_ids = []
    for index, (path, method) in enumerate(chosen):
        resource = path.rsplit("/", 2)[-2] if path.endswith("{id}") else path.rsplit("/", 1)[-1]
        op_id = f"{method}_{path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}"
        operation: dict[str, Any] = {"operationId": op_id, "tags": [resource]}
        if path.endswith("{id}"):
            operation["parameters"] = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
        if index in documented:
            if path.endswith("{id}"):
                operation["parameters"][0]["description"] = f"Id of the {resource} resource."
            documented_ids.append(op_id)
            verb = {"get": "Get", "post": "Create", "put": "Replace", "delete": "Delete", "patch": "Update"}[method]
            operation["summary"] = f"{verb} {resource}"
            operation["description"] = f"{verb} {resource} of the {service} service."
            code = "201" if method == "post" else "204" if method == "delete" else "200"
            responses: dict[str, Any] = {code: {"description": "Success"}}
            if code != "204":
                responses[code]["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Resource"}}}
            responses["404" if "{id}" in path else "400"] = {
                "description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            operation["responses"] = responses
        else:
            operation["responses"] = {"200": {"description": ""}}
        paths.setdefault(path, {})[method] = operation
    document = {
        "openapi": "3.0.3",
        "info": {"title": f"{service} API", "version": f"1.{rng.randint(0, 30)}.{rng.randint(0, 9)}"},
        "servers": [{"url": f"https://{service}.internal.example.com"}],
        "paths": paths,
        "components": {"schemas": {
            "Resource": {"type": "object", "properties": {"id": {"type": "string"}, "created_at": {
                "type": "string", "format": "date-time"}}, "required": ["id"]},
            "Error": {"type": "object", "properties": {"code": {"type": "integer"}, "message": {"type": "string"}}},
        }},
    }
    facts = {"operations": operations, "documented_operations": len(documented),
             "documentation_coverage": len(documented) / operations if operations else 0.0,
             "documented_ids": sorted(documented_ids)}
    return json.dumps(document, indent=2).encode(), facts


# -- load-test summary --------------------------------------------------------------


def benchmark_result(rng: random.Random, service: str, *, duration_s: int = 300) -> tuple[bytes, dict[str, Any]]:
    """A k6 `--summary-export` JSON (trend stats avg,min,med,max,p(90),p(95),p(99)).

    Facts (exactly the values written, milliseconds rounded to 3 decimals):
    {"service", "p50_ms" (= `med`), "p95_ms", "p99_ms", "requests", "requests_per_second"
    (= `http_reqs.rate`), "error_rate" (= `http_req_failed.value` = failed / requests),
    "failed_requests"}. Note k6's Rate metric counts *true* samples as `passes`, so for
    `http_req_failed` `passes` is the number of failed requests.
    """
    median = rng.uniform(15, 120)
    p90 = median * rng.uniform(1.6, 2.4)
    p95 = p90 * rng.uniform(1.1, 1.4)
    p99 = p95 * rng.uniform(1.3, 2.2)
    minimum = median * rng.uniform(0.1, 0.4)
    maximum = p99 * rng.uniform(1.2, 3.0)
    avg = median * rng.uniform(1.05, 1.3)
    rps = rng.uniform(40, 900)
    requests = int(rps * duration_s)
    failed = round(requests * rng.choice((0.0, rng.uniform(0.0, 0.004), rng.uniform(0.0, 0.05))))
    ms = {name: round(value, 3) for name, value in
          (("avg", avg), ("min", minimum), ("med", median), ("max", maximum), ("p(90)", p90),
           ("p(95)", p95), ("p(99)", p99))}
    rate = round(requests / duration_s, 6)
    error_rate = failed / requests if requests else 0.0
    trend = dict(ms)
    waiting = {name: round(value * 0.93, 3) for name, value in ms.items()}
    document = {
        "root_group": {"name": "", "path": "", "id": "d41d8cd98f00b204e9800998ecf8427e", "groups": [], "checks": [
            {"name": "status is 2xx", "path": "::status is 2xx", "id": "1d6b3e5b9d3d2d3c2c0e5a61c1e9b3c1",
             "passes": requests - failed, "fails": failed}]},
        "metrics": {
            "http_req_duration": trend,
            "http_req_waiting": waiting,
            "http_reqs": {"count": requests, "rate": rate},
            "http_req_failed": {"passes": failed, "fails": requests - failed, "value": error_rate},
            "iterations": {"count": requests, "rate": rate},
            "vus": {"value": 1, "min": 1, "max": 50},
            "vus_max": {"value": 50, "min": 50, "max": 50},
            "checks": {"passes": requests - failed, "fails": failed,
                       "value": (requests - failed) / requests if requests else 0.0},
            "data_received": {"count": requests * 812, "rate": round(requests * 812 / duration_s, 3)},
        },
        "options": {"summaryTrendStats": ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"],
                    "summaryTimeUnit": "", "noColor": False},
    }
    facts = {"service": service, "p50_ms": ms["med"], "p95_ms": ms["p(95)"], "p99_ms": ms["p(99)"],
             "requests": requests, "requests_per_second": rate, "error_rate": error_rate,
             "failed_requests": failed}
    return json.dumps(document, indent=2).encode(), facts
