"""The pipeline benchmark's report: figures with their targets, the markdown table, and
the change against the previous result file of the same scale.

A result (benchmarks.pipeline) holds `figures`: name -> {"label", "value", "unit",
"target" (text or None), "pass" (True/False, None without a target or a value), "note"}.
A figure that was not measured has value None and says why in its note.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

# The targets of issue 10 (and issue 6's dbt targets): name -> (comparison, limit, text).
TARGETS: dict[str, tuple[str, float, str]] = {
    "requests_over_floor_full": ("<=", 1.05, "≤ 1.05 × the floor"),
    "quiet_night_max_requests_per_stream_scope": ("<=", 1, "≤ 1 per stream and scope"),
    "peak_rss_mb_extract": ("<=", 400, "≤ 400 MB (set for large)"),
    "dbt_full_build_seconds": ("<=", 90, "≤ 90 s on large (2 cores)"),
    "incremental_to_full_ratio": ("<=", 0.20, "≤ 20 % of the full build"),
    "dag_seconds": ("<=", 180, "≤ 3 minutes (`make demo` pipeline part)"),
}

RESULT_NAME = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})-(?P<scale>small|medium|large)(?P<dbt>-dbt)?\.json$")


def figure(label: str, value: float | int | None, unit: str = "", name: str | None = None,
           note: str | None = None) -> dict[str, Any]:
    """One row of the report; `name` picks its target from TARGETS and decides pass/fail."""
    target = TARGETS.get(name or "")
    passed = None
    if target is not None and value is not None:
        comparison, limit, _ = target
        passed = value <= limit if comparison == "<=" else value >= limit
    return {"label": label, "value": value, "unit": unit, "target": target[2] if target else None,
            "pass": passed, "note": note}


def _format(value: Any, unit: str) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        text = f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"
    else:
        text = f"{value:,}"
    return f"{text} {unit}".strip()


def markdown_table(result: dict[str, Any]) -> str:
    """The result as markdown: a heading naming the run, then one row per figure."""
    lines = [f"# Pipeline benchmark: `{result.get('scale')}` org, {result.get('date')}",
             "",
             f"Seed {result.get('seed')}, simulator anchor {result.get('anchor')}, commit {result.get('commit')}, "
             f"{result.get('cpus')} CPUs, status: {result.get('status')}.",
             "",
             "| figure | value | target | pass |",
             "| --- | --- | --- | --- |"]
    for figure_ in result.get("figures", {}).values():
        verdict = {True: "pass", False: "**FAIL**", None: "–"}[figure_["pass"]]
        value = _format(figure_["value"], figure_["unit"])
        if figure_.get("note"):
            value += f" ({figure_['note']})"
        lines.append(f"| {figure_['label']} | {value} | {figure_['target'] or '–'} | {verdict} |")
    return "\n".join(lines) + "\n"


def changes(previous: dict[str, Any] | None, current: dict[str, Any]) -> list[str]:
    """One line per figure of `current`: its value and the change against `previous`."""
    if previous is None:
        return ["no previous result of this scale to compare with"]
    lines = [f"change against {previous.get('file') or previous.get('date')}:"]
    before = previous.get("figures", {})
    for name, now in current.get("figures", {}).items():
        then = before.get(name)
        label = now["label"]
        if then is None:
            lines.append(f"  {label}: {_format(now['value'], now['unit'])} (new figure)")
            continue
        old, new = then.get("value"), now.get("value")
        if old is None or new is None:
            lines.append(f"  {label}: {_format(old, now['unit'])} -> {_format(new, now['unit'])}")
            continue
        delta = new - old
        relative = f", {delta / old:+.1%}" if old else ""
        verdict = "" if then.get("pass") == now.get("pass") or now.get("pass") is None else (
            " (now passes)" if now["pass"] else " (now FAILS)")
        lines.append(f"  {label}: {_format(old, now['unit'])} -> {_format(new, now['unit'])} "
                     f"({'+' if delta >= 0 else ''}{_format(delta, '')}{relative}){verdict}")
    return lines


def previous_result(results_dir: Path, scale: str, current_date: str) -> dict[str, Any] | None:
    """The result of the same scale the current run is compared with, read before the run
    writes anything: the newest file dated `current_date` or earlier (an earlier run of the
    same day included). Full runs (<date>-<scale>.json) and dbt-only reruns
    (<date>-<scale>-dbt.json) both count; other benchmarks' files do not."""
    candidates = []
    for path in results_dir.glob(f"*-{scale}*.json"):
        match = RESULT_NAME.match(path.name)
        if match and match["scale"] == scale and match["date"] <= current_date:
            candidates.append((match["date"], path.stat().st_mtime, path))
    if not candidates:
        return None
    path = max(candidates)[2]
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a readable result file ({error})") from None
    if not isinstance(loaded, dict) or not isinstance(loaded.get("figures"), dict):
        raise ValueError(f"{path}: a result file holds a JSON object with 'figures'")
    return {**loaded, "file": path.name}
