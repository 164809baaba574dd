"""Ground truth for dora_metrics (DORA levels) and kpi_scorecard (team points), re-exported by `simulator.truth`.

Both read a team's value for a period from the kpi_period truth (simulator.truth_period,
computed from the period's facts) and judge it in plain Python: the DORA 2023 thresholds
come from the KPI catalogue (`dora_levels`, the one place they are written), a team's
scorecard rules from config/scorecards.yaml (kpi.scorecards). Never from SQL.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

from simulator.truth_period import PERIOD_GRAINS

DORA_KEYS = ("deployment_frequency", "lead_time_for_changes", "change_failure_rate",
             "failed_deployment_recovery_time")


def _team_values(period_rows: Iterable[dict], kpi_ids: Iterable[str], grains: Iterable[str] = PERIOD_GRAINS) -> dict:
    """(team, grain, period_start) -> {kpi_id: kpi_period row} for team rows."""
    wanted, grains = set(kpi_ids), set(grains)
    values: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for row in period_rows:
        if row["repository"] is None and row["kpi_id"] in wanted and row["period_grain"] in grains:
            values[(row["team"], row["period_grain"], row["period_start"])][row["kpi_id"]] = row
    return values


def dora_metrics(period_rows: Iterable[dict], catalogue: Any = None) -> list[dict]:
    """The four keys per team and period with their DORA level.

    `period_rows`: the kpi_period truth (simulator.truth_period.kpi_period). For each team
    and period: successful_deployments (deployment frequency), deployments_per_day (/ days
    in the period), deployed_pull_requests and median_lead_time_hours, failed_changes and
    change_failure_rate, recovered_failures and median_recovery_hours, and for each key the
    level of the catalogue's dora_levels (`<key>_level`; None without data). Sorted by
    (team, period_grain, period_start)."""
    if catalogue is None:
        from kpi.catalogue import load_catalogue

        catalogue = load_catalogue()
    levels = catalogue.dora_levels
    rows = []
    for (team, grain, start), keys in sorted(_team_values(period_rows, DORA_KEYS).items()):
        frequency, lead_time = keys["deployment_frequency"], keys["lead_time_for_changes"]
        failure_rate, recovery = keys["change_failure_rate"], keys["failed_deployment_recovery_time"]
        days = (frequency["period_end"] - start).days

        def level(kpi_id: str) -> str | None:
            return levels.key(kpi_id).level_of(keys[kpi_id]["value"], days)

        deployments = frequency["value"]
        rows.append({
            "team": team, "period_grain": grain, "period_start": start, "period_end": frequency["period_end"],
            "days_in_period": days, "is_complete": frequency["is_complete"],
            "successful_deployments": None if deployments is None else int(deployments),
            "deployments_per_day": None if deployments is None else deployments / days,
            "deployment_frequency_level": level("deployment_frequency"),
            "deployed_pull_requests": lead_time["observations"],
            "median_lead_time_hours": lead_time["value"], "lead_time_level": level("lead_time_for_changes"),
            "failed_changes": None if failure_rate["numerator"] is None else int(failure_rate["numerator"]),
            "change_failure_rate": failure_rate["value"], "change_failure_rate_level": level("change_failure_rate"),
            "recovered_failures": recovery["observations"], "median_recovery_hours": recovery["value"],
            "recovery_time_level": level("failed_deployment_recovery_time"),
        })
    return rows


def kpi_scorecard(period_rows: Iterable[dict], scorecards: Any) -> list[dict]:
    """Every team's scorecard rules judged for every period of the scorecard's grain.

    `period_rows`: the kpi_period truth; `scorecards`: kpi.scorecards.Scorecards (the
    validated config/scorecards.yaml). For each rule and period, the team's value for the
    period and its status: no_data (value None; 0 points), met (the rule's target holds;
    its points), missed (its floor holds; its negative points), else not_met (0); then per
    team and period: total_points, rules_met, rules_missed, rules_without_data. Sorted by
    (team, period_grain, period_start, kpi_id)."""
    rows = list(period_rows)
    values = {(r["team"], r["period_grain"], r["period_start"], r["kpi_id"]): r for r in rows if r["repository"] is None}
    result = []
    for card in scorecards.scorecards:
        starts = sorted({start for team, grain, start, _ in values if team == card.team and grain == card.period_grain})
        for start in starts:
            judged = []
            for rule in card.rules:
                row = values[(card.team, card.period_grain, start, rule.kpi_id)]
                value = row["value"]
                if value is None:
                    status, points = "no_data", 0
                elif rule.met is not None and rule.met.holds(value):
                    status, points = "met", rule.met.points
                elif rule.missed is not None and rule.missed.holds(value):
                    status, points = "missed", rule.missed.points
                else:
                    status, points = "not_met", 0
                judged.append({
                    "team": card.team, "period_grain": card.period_grain, "period_start": start,
                    "period_end": row["period_end"], "is_complete": row["is_complete"], "kpi_id": rule.kpi_id,
                    "rule": rule.describe(), "description": rule.description, "value": value, "status": status,
                    "is_met": None if status == "no_data" else status == "met", "points": points,
                })
            totals = {"total_points": sum(r["points"] for r in judged),
                      "rules_met": sum(r["status"] == "met" for r in judged),
                      "rules_missed": sum(r["status"] == "missed" for r in judged),
                      "rules_without_data": sum(r["status"] == "no_data" for r in judged)}
            result += [{**r, **totals} for r in judged]
    return sorted(result, key=lambda r: (r["team"], r["period_grain"], r["period_start"], r["kpi_id"]))
