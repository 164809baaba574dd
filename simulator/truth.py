"""Ground-truth KPIs computed straight from the model objects.

These are the answers the warehouse must reproduce. They are deliberately
written as plain Python over the model (never over HTTP payloads, never SQL),
so a bug in extraction or in the dbt models cannot hide in both places.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Iterable

from simulator.model import Deployment, Org

SUCCESSFUL = "successful"
FAILED = "failed"
PENDING = "pending"


def deployment_result(deployment: Deployment) -> str:
    """`successful`, `failed` or `pending`, from the latest status (by created_at, then id)."""
    latest = deployment.latest_status()
    state = latest.state if latest is not None else None
    if state == "success":
        return SUCCESSFUL
    if state in ("failure", "error"):
        return FAILED
    return PENDING


def week_start(moment: datetime) -> date:
    """Monday of the ISO week containing `moment`, taken in UTC."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def production_deployments(org: Org, production_environments: Iterable[str] = ("production",)) -> list[dict]:
    """One row per production deployment, for debugging disagreements with the warehouse."""
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


def deployment_frequency(org: Org, production_environments: Iterable[str] = ("production",)) -> list[dict]:
    """Weekly production deployments per team, zero-filled over the org's whole week range."""
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


def _weeks_between(first: date, last: date) -> list[date]:
    weeks = []
    week = first
    while week <= last:
        weeks.append(week)
        week += timedelta(days=7)
    return weeks


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
