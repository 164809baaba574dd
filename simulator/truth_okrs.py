"""Ground truth for the OKR marts (okr_key_results, okr_objectives), in plain Python.

The OKRs themselves are configuration (config/okrs/, read by kpi.okrs); what must agree
is how they are measured and scored: a KPI key result reads the KPI's quarter value from
`truth_period.kpi_period_values` (never from SQL) at the owner team's row or the
repository's row; a KPI counted over the period (catalogue period_aggregation: facts
in_period, value count or sum) is read as a weekly rate over the elapsed part of the
period; a manual key result reads its latest check-in on or before the as-of date.
Scores and statuses follow config/okr_scoring.yaml (kpi.okr_scoring).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from simulator.truth_ci import ArtifactFacts, github_artifact_facts
from simulator.truth_common import simulation_of
from simulator.truth_period import _as_of, kpi_period_values, midnight


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def _weekly_rate_kpis(catalogue: Any) -> set[str]:
    return {kpi.id for kpi in catalogue.kpis if kpi.period_aggregation is not None
            and kpi.period_aggregation.facts == "in_period" and kpi.period_aggregation.value in ("count", "sum")}


def okr_key_results(source: Any, objectives: Iterable[dict], key_results: Iterable[dict],
                    check_ins: Iterable[dict], scoring: Any, catalogue: Any, as_of: datetime | None = None,
                    artifact_facts: ArtifactFacts = github_artifact_facts) -> list[dict]:
    """One dict per key result: current_value, progress, score, expected_progress, status
    (the rows of kpi.okrs: objective_rows(), key_result_rows(), check_in_rows())."""
    sim = simulation_of(source)
    now = _as_of(sim, as_of)
    quarters = {(row["period_start"], row["team"], row["repository"], row["kpi_id"]): row
                for row in kpi_period_values(sim, ("quarter",), now, artifact_facts)}
    weekly = _weekly_rate_kpis(catalogue)
    by_objective = {objective["objective_id"]: objective for objective in objectives}
    latest: dict[str, dict] = {}
    for check_in in check_ins:
        if check_in["check_in_date"] <= now.date():
            current = latest.get(check_in["key_result_id"])
            if current is None or check_in["check_in_date"] > current["check_in_date"]:
                latest[check_in["key_result_id"]] = check_in
    rows = []
    for key_result in key_results:
        objective = by_objective[key_result["objective_id"]]
        start, end = objective["period_start"], objective["period_end"]
        period_days = (end - start).days
        elapsed_days = max(0.0, (min(now, midnight(end)) - midnight(start)).total_seconds() / 86400)
        if key_result["kind"] == "manual":
            check_in = latest.get(key_result["key_result_id"])
            value = check_in["value"] if check_in else None
        else:
            repository = key_result["repository"] if key_result["scope"] == "repository" else None
            period = quarters.get((start, objective["owner_team"], repository, key_result["kpi_id"]))
            value = period["value"] if period else None
            if key_result["kpi_id"] in weekly:
                value = value / (elapsed_days / 7.0) if value is not None and elapsed_days > 0 else None
        progress = None if value is None else (value - key_result["baseline"]) / (
            key_result["target"] - key_result["baseline"])
        score = None if progress is None else _clamp(progress)
        expected = _clamp(elapsed_days / period_days)
        rows.append({"key_result_id": key_result["key_result_id"], "objective_id": key_result["objective_id"],
                     "team": objective["owner_team"], "weight": key_result["weight"], "current_value": value,
                     "progress": progress, "score": score, "expected_progress": expected,
                     "status": scoring.status(score, expected)})
    return sorted(rows, key=lambda row: row["key_result_id"])


def okr_objectives(objectives: Iterable[dict], key_result_rows: Iterable[dict], scoring: Any) -> list[dict]:
    """One dict per objective: the weighted score of its key results with data, whether it
    meets its success threshold, its status, and its aligned children's and descendants'
    mean scores."""
    objectives = list(objectives)
    key_result_rows = list(key_result_rows)
    own: dict[str, dict] = {}
    for objective in objectives:
        mine = [row for row in key_result_rows if row["objective_id"] == objective["objective_id"]]
        scored = [row for row in mine if row["score"] is not None]
        weights = sum(row["weight"] for row in scored)
        score = sum(row["weight"] * row["score"] for row in scored) / weights if scored and weights else None
        expected = max((row["expected_progress"] for row in mine), default=None)
        threshold = scoring.success_threshold(objective["objective_type"])
        own[objective["objective_id"]] = {
            "objective_id": objective["objective_id"], "score": score, "key_results": len(mine),
            "key_results_with_data": len(scored), "success_threshold": threshold,
            "meets_success_threshold": None if score is None else score >= threshold,
            "status": "no_data" if score is None else scoring.status(score, expected),
        }
    parent_of = {o["objective_id"]: o["parent_objective_id"] for o in objectives}

    def ancestors(objective_id: str) -> list[str]:
        chain, parent = [], parent_of.get(objective_id)
        while parent is not None:
            chain.append(parent)
            parent = parent_of.get(parent)
        return chain

    for objective_id, row in own.items():
        children = [own[o] for o, parent in parent_of.items() if parent == objective_id]
        descendants = [own[o] for o in own if objective_id in ancestors(o)]
        row["aligned_children"] = len(children)
        row["aligned_descendants"] = len(descendants)
        row["children_mean_score"] = _mean([c["score"] for c in children])
        row["descendants_mean_score"] = _mean([d["score"] for d in descendants])
    return sorted(own.values(), key=lambda row: row["objective_id"])


def okr_alignment(objectives: Iterable[dict]) -> list[dict]:
    """objective_id, root_objective_id, depth, path ("root > ... > objective")."""
    objectives = list(objectives)
    parent_of = {o["objective_id"]: o["parent_objective_id"] for o in objectives}
    rows = []
    for objective_id in parent_of:
        chain = [objective_id]
        while parent_of.get(chain[-1]) is not None:
            chain.append(parent_of[chain[-1]])
        rows.append({"objective_id": objective_id, "root_objective_id": chain[-1], "depth": len(chain) - 1,
                     "path": " > ".join(reversed(chain))})
    return sorted(rows, key=lambda row: row["objective_id"])


def _mean(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) / len(present) if present else None

