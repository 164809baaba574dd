"""Helpers shared by the ground-truth modules (`simulator.truth` and `simulator.truth_*`).

Nothing here imports another simulator source module (Jenkins, GitLab, Jira, the
GitHub API): those modules import `simulator.truth` themselves, so the truth
modules stay at the bottom of the import graph and reach the other sources only
through the objects they are handed (or lazily, inside a function).
"""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Iterable

from simulator.model import Deployment, Org

if TYPE_CHECKING:  # pragma: no cover - typing only; importing it would pull every source in
    from simulator.simulation import Simulation

SUCCESSFUL = "successful"
FAILED = "failed"
PENDING = "pending"
DEFAULT_PRODUCTION_ENVIRONMENTS = ("production",)


def deciding_status(deployment: Deployment):
    """The latest status (by created_at, then id) other than `inactive`: GitHub adds an
    `inactive` status to a superseded successful deployment of a non-production
    environment, which does not undo that it succeeded."""
    statuses = [status for status in deployment.statuses if status.state != "inactive"]
    return max(statuses, key=lambda status: (status.created_at, status.id)) if statuses else None


def deployment_result(deployment: Deployment) -> str:
    """`successful`, `failed` or `pending`, from the deciding status (see `deciding_status`)."""
    latest = deciding_status(deployment)
    state = latest.state if latest is not None else None
    if state == "success":
        return SUCCESSFUL
    if state in ("failure", "error"):
        return FAILED
    return PENDING


def deployment_finished_at(deployment: Deployment) -> datetime | None:
    """When a deployment reached its result: the time of its deciding status if that is final."""
    latest = deciding_status(deployment)
    if latest is None or latest.state not in ("success", "failure", "error"):
        return None
    return latest.created_at


def week_start(moment: datetime) -> date:
    """Monday of the ISO week containing `moment`, taken in UTC."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def week_end(week: date) -> datetime:
    """The first instant after the week starting `week` (next Monday 00:00 UTC)."""
    return datetime.combine(week + timedelta(days=7), time(0, 0), tzinfo=UTC)


def weeks_between(first: date, last: date) -> list[date]:
    weeks = []
    week = first
    while week <= last:
        weeks.append(week)
        week += timedelta(days=7)
    return weeks


def org_of(source: Any) -> Org:
    """The GitHub org of a `Simulation`, or `source` itself when it already is an `Org`."""
    if isinstance(source, Org):
        return source
    org = getattr(source, "org", None)
    if isinstance(org, Org):
        return org
    raise TypeError(f"expected a Simulation or an Org, got {type(source).__name__}")


def simulation_of(source: Any) -> "Simulation":
    """`source` when it carries every source (a `Simulation`); a bare Org is not enough."""
    if isinstance(source, Org) or getattr(source, "org", None) is None:
        raise TypeError("this KPI reads Jira/Jenkins/GitLab too: pass the whole Simulation, not an Org")
    return source


def hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400


def median_or_none(values: Iterable[float]) -> float | None:
    values = list(values)
    return statistics.median(values) if values else None


def mean_or_none(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def ratio_or_none(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def production_deployments_by_repo(org: Org, production_environments: Iterable[str]) -> dict[str, list[Deployment]]:
    """Per repository full name, its production deployments ordered by (created_at, id)."""
    environments = set(production_environments)
    return {
        repo.full_name: sorted((d for d in org.deployments.get(repo.full_name, []) if d.environment in environments),
                               key=lambda d: (d.created_at, d.id))
        for repo in org.repositories
    }


def team_names(org: Org) -> list[str]:
    return sorted(team.name for team in org.teams)
