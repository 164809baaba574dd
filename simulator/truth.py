"""Ground-truth KPIs computed straight from the model objects.

These are the answers the warehouse must reproduce. They are deliberately
written as plain Python over the model (never over HTTP payloads, never SQL),
so a bug in extraction or in the dbt models cannot hide in both places.

One function per entry of `config/kpi_catalogue.yaml`, named by its `truth` field:

    deployment_frequency, lead_time_for_changes, change_failure_rate, recovery_time  (DORA)
    release_delays, release_on_time, production_bugs                                 (delivery)
    test_coverage, api_documentation_coverage, code_standard_findings, performance   (CI reports)
    security_alerts                                                                  (security)
    kpi_period, kpi_daily: every KPI per week, month and quarter (per day), per team and
    repository, from the same facts (simulator.truth_period)
    dora_metrics: the four keys per team and period with their DORA levels (simulator.truth_scores)
    kpi_scorecard: each team's scorecard rules judged per period, points and totals (simulator.truth_scores)

Every one accepts the whole `Simulation` as its first argument; those that read
GitHub only (deployment_frequency, lead_time_for_changes, change_failure_rate,
api_documentation_coverage, code_standard_findings, security_alerts, performance)
also accept a bare `Org`. Each returns a list of dicts, one per grain row, dates
as `datetime.date`, sorted deterministically. The implementations live in
`simulator.truth_dora`, `truth_delivery`, `truth_ci` and `truth_security`.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any, Iterable

from simulator.model import Org
from simulator.truth_common import (
    FAILED,
    PENDING,
    SUCCESSFUL,
    deployment_result,
    org_of,
    week_start,
    weeks_between as _weeks_between,
)
from simulator.truth_ci import (  # noqa: F401 (re-exported)
    ci_runs,
    api_documentation_coverage,
    code_standard_findings,
    github_artifact_facts,
    performance,
    test_coverage,
)
from simulator.truth_delivery import production_bugs, release_delay_summary, release_delays, release_on_time
from simulator.truth_dora import (
    change_failure_rate,
    incident_attributions,
    lead_time_for_changes,
    lead_time_pull_requests,
    recovery_events,
    recovery_time,
    rolled_back_deployments,
)
from simulator.truth_period import kpi_daily, kpi_period, kpi_period_values
from simulator.truth_scores import dora_metrics, kpi_scorecard
from simulator.truth_security import security_alerts

__all__ = [
    "FAILED", "PENDING", "SUCCESSFUL", "api_documentation_coverage", "change_failure_rate", "ci_runs",
    "code_standard_findings", "deployment_frequency", "dora_metrics", "deployment_result", "github_artifact_facts",
    "incident_attributions", "incidents", "kpi_daily", "kpi_period", "kpi_period_values", "kpi_scorecard", "lead_time_for_changes", "lead_time_pull_requests", "performance",
    "production_bugs", "production_deployments", "recovery_events", "recovery_time", "release_delay_summary",
    "release_delays", "release_on_time", "rollbacks", "rolled_back_deployments", "security_alerts", "test_coverage", "week_start",
]


def production_deployments(org: Org | Any, production_environments: Iterable[str] = ("production",)) -> list[dict]:
    """One row per production deployment, for debugging disagreements with the warehouse."""
    org = org_of(org)
    environments = set(production_environments)
    rows = [
        {
            "repo": deployment.repo,
            "id": deployment.id,
            "team": org.team_of(deployment.repo),
            "created_at": deployment.created_at,
            "result": deployment_result(deployment),
        }
        for deployment in org.all_deployments()
        if deployment.environment in environments
    ]
    return sorted(rows, key=lambda row: (row["created_at"], row["repo"], row["id"]))


def deployment_frequency(org: Org | Any, production_environments: Iterable[str] = ("production",)) -> list[dict]:
    """Weekly production deployments per team, zero-filled over the org's whole week range.

    `org`: the GitHub `Org` or the whole Simulation. Columns: team, week_start,
    deployments (all production deployments created that week), successful_deployments
    (the KPI), failed_deployments. Sorted by (team, week_start).
    """
    org = org_of(org)
    rows = production_deployments(org, production_environments)
    teams = sorted(team.name for team in org.teams)
    if not rows:
        return []
    weeks = [week_start(row["created_at"]) for row in rows]
    all_weeks = _weeks_between(min(weeks), max(weeks))
    totals: Counter[tuple[str, date]] = Counter()
    by_result: Counter[tuple[str, date, str]] = Counter()
    for row, week in zip(rows, weeks):
        totals[(row["team"], week)] += 1
        by_result[(row["team"], week, row["result"])] += 1
    return [
        {
            "team": team,
            "week_start": week,
            "deployments": totals[(team, week)],
            "successful_deployments": by_result[(team, week, SUCCESSFUL)],
            "failed_deployments": by_result[(team, week, FAILED)],
        }
        for team in teams
        for week in all_weeks
    ]


def incidents(org: Org) -> list[dict]:
    """Issues labelled `incident`, each with the production deployment that caused it."""
    deployments = {deployment.id: deployment for deployment in org.all_deployments()}
    rows = []
    for issue in org.all_issues():
        if "incident" not in issue.labels:
            continue
        cause = deployments.get(issue.caused_by_deployment) if issue.caused_by_deployment is not None else None
        rows.append({
            "repo": issue.repo, "number": issue.number, "team": org.team_of(issue.repo),
            "opened_at": issue.created_at, "closed_at": issue.closed_at,
            "deployment_id": issue.caused_by_deployment, "deployment_sha": cause.sha if cause else None,
            "deployment_result": deployment_result(cause) if cause else None,
        })
    return sorted(rows, key=lambda row: (row["opened_at"], row["repo"], row["number"]))


def rollbacks(org: Org) -> list[dict]:
    """Production deployments of a commit older (on the default branch) than the one deployed before."""
    rows = []
    for repo in org.repositories:
        position = {commit.sha: index for index, commit in enumerate(repo.commits)}
        previous: int | None = None
        for deployment in sorted((d for d in org.deployments.get(repo.full_name, []) if d.environment == "production"),
                                 key=lambda d: (d.created_at, d.id)):
            current = position.get(deployment.sha)
            if current is None:
                continue
            if previous is not None and current < previous:
                rows.append({"repo": repo.full_name, "id": deployment.id, "sha": deployment.sha,
                             "created_at": deployment.created_at})
            previous = current
    return sorted(rows, key=lambda row: (row["created_at"], row["repo"], row["id"]))
