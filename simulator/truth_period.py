"""Ground truth for the long-form KPI marts kpi_period and kpi_daily (re-exported by `simulator.truth`).

Every KPI of config/kpi_catalogue.yaml for every day, ISO week, calendar month and
calendar quarter, per team and per repository, computed in plain Python from the facts
the weekly truths are made of (deployments, pull requests, failures, releases, Jira bugs,
CI runs' report facts, security alerts) -- never from the weekly values, never from SQL.

How each KPI becomes a period value is the catalogue's `period_aggregation`; it is
written out here once more, KPI by KPI, in `PERIOD_AGGREGATION`, and a test holds the two
to each other:
  * facts `in_period`: the facts whose moment falls in the period;
    `latest_per_repository`: per repository its latest CI run started in the period
    (order: start, source, run id), the team value combining those runs;
    `open_at_period_end`: the facts open at the period's end (its first day after, 00:00 UTC);
  * value `count` / `sum` / `ratio` (sum of numerators / sum of denominators) / `percent`
    (100 * that) / `mean` (the same quotient, one denominator per fact) / `median` / `max`.
Where a period has no fact the value is None ("no data"), except for the zero-filled KPIs
inside their range (`ZERO_FILL`): 0 for a count, numerator and denominator 0 (value None)
for a ratio.

Rows: every team (of the org, plus any team a fact belongs to) for every KPI and every
period from the earliest fact (or range bound) of any KPI to the as-of moment (or the
latest fact when later); and, for KPIs with repository rows, every repository with a fact
of the KPI (or in its zero-fill range) for every one of those periods.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Iterable

from simulator.truth_ci import ArtifactFacts, github_artifact_facts, report_runs
from simulator.truth_common import (
    DEFAULT_PRODUCTION_ENVIRONMENTS,
    SUCCESSFUL,
    deployment_result,
    production_deployments_by_repo,
    simulation_of,
    team_names,
)
from simulator.truth_delivery import release_delays
from simulator.truth_dora import (
    incident_attributions,
    lead_time_pull_requests,
    recovery_events,
    rolled_back_deployments,
)
from simulator.truth_security import _closed_at

PERIOD_GRAINS = ("week", "month", "quarter")  # kpi_period
DAILY_GRAIN = ("day",)                        # kpi_daily

# kpi_id -> (facts, value): the catalogue's period_aggregation, written out independently.
PERIOD_AGGREGATION = {
    "deployment_frequency": ("in_period", "count"),
    "lead_time_for_changes": ("in_period", "median"),
    "change_failure_rate": ("in_period", "ratio"),
    "failed_deployment_recovery_time": ("in_period", "median"),
    "release_delay": ("in_period", "mean"),
    "release_on_time": ("in_period", "ratio"),
    "production_bugs": ("in_period", "count"),
    "test_coverage": ("latest_per_repository", "percent"),
    "api_documentation_coverage": ("latest_per_repository", "percent"),
    "code_standard_findings": ("latest_per_repository", "sum"),
    "security_alerts": ("open_at_period_end", "count"),
    "performance_p95_latency": ("latest_per_repository", "max"),
}
ZERO_FILL = {"deployment_frequency", "change_failure_rate", "production_bugs", "security_alerts"}
NO_REPOSITORY_ROWS = {"production_bugs"}  # a Jira issue carries no repository


# -- periods -------------------------------------------------------------------------


def day_of(moment: datetime | date) -> date:
    """The UTC day of a moment (a date is its own day)."""
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).date()
    return moment


def period_start(moment: datetime | date, grain: str) -> date:
    """First day of the `grain` period (day, ISO week, calendar month, calendar quarter) containing `moment`."""
    day = day_of(moment)
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    raise ValueError(f"unknown period grain {grain!r}")


def period_end(start: date, grain: str) -> date:
    """The first day after the period starting `start`."""
    if grain == "day":
        return start + timedelta(days=1)
    if grain == "week":
        return start + timedelta(days=7)
    months = {"month": 1, "quarter": 3}[grain]
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


def periods_between(first: datetime | date, last: datetime | date, grain: str) -> list[date]:
    """Starts of every `grain` period from the one containing `first` to the one containing `last`."""
    starts, start, stop = [], period_start(first, grain), period_start(last, grain)
    while start <= stop:
        starts.append(start)
        start = period_end(start, grain)
    return starts


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


# -- facts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """One fact of one KPI: its team and repository (None when it carries none), the moment
    that puts it in a period, and its value or its parts of a ratio."""

    kpi_id: str
    team: str
    repo: str | None
    at: datetime | date
    value: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    closed_at: datetime | None = None          # open_at_period_end: when it stopped being open
    order: tuple = field(default=())           # latest_per_repository: (started_at, source, run_id)


@dataclass(frozen=True)
class Frame:
    """Where a zero-filled KPI reads 0: a team (repo None) or a repository of a team, over
    the periods from the one containing `first` to the one containing `last`."""

    kpi_id: str
    team: str
    repo: str | None
    first: datetime
    last: datetime


def _as_of(sim: Any, as_of: datetime | None) -> datetime:
    return (as_of or sim.org.anchor).astimezone(UTC)


def kpi_facts(source: Any, as_of: datetime | None = None, artifact_facts: ArtifactFacts = github_artifact_facts,
              production_environments: Iterable[str] = DEFAULT_PRODUCTION_ENVIRONMENTS) -> list[Fact]:
    """Every fact of every KPI, from the model objects (through the weekly truths' per-fact rows)."""
    sim = simulation_of(source)
    org = sim.org
    facts: list[Fact] = []
    by_repo = production_deployments_by_repo(org, production_environments)
    successful = [d for deployments in by_repo.values() for d in deployments if deployment_result(d) == SUCCESSFUL]
    with_incident = {row["deployment_id"] for row in incident_attributions(org, production_environments)
                     if row["deployment_id"] is not None}
    rolled_back = rolled_back_deployments(org, production_environments)
    for deployment in successful:
        team = org.team_of(deployment.repo)
        failed = deployment.id in with_incident or deployment.id in rolled_back
        facts.append(Fact("deployment_frequency", team, deployment.repo, deployment.created_at, value=1))
        facts.append(Fact("change_failure_rate", team, deployment.repo, deployment.created_at,
                          numerator=1 if failed else 0, denominator=1))
    for row in lead_time_pull_requests(org, production_environments):
        if row["lead_time_hours"] is not None:
            facts.append(Fact("lead_time_for_changes", row["team"], row["repo"], row["deployment_created_at"],
                              value=row["lead_time_hours"]))
    for row in recovery_events(sim, production_environments):
        if row["recovery_hours"] is not None:
            facts.append(Fact("failed_deployment_recovery_time", row["team"], row["repo"], row["started_at"],
                              value=row["recovery_hours"]))
    for row in release_delays(sim, as_of=_as_of(sim, as_of)):
        if row["delay_days"] is None:
            continue
        repo = row["container"] if row["source"] == "github" else None
        facts.append(Fact("release_delay", row["team"], repo, row["planned_date"],
                          numerator=row["delay_days"], denominator=1))
        facts.append(Fact("release_on_time", row["team"], repo, row["planned_date"],
                          numerator=1 if row["on_time"] else 0, denominator=1))
    for issue in sim.jira.select(["Bug"], "production"):
        facts.append(Fact("production_bugs", issue.team, None, issue.created, value=1))
    report_values = {
        "test_coverage": ("coverage", lambda f: {"numerator": f["lines_covered"], "denominator": f["lines_valid"]}),
        "api_documentation_coverage": (
            "openapi", lambda f: {"numerator": f["documented_operations"], "denominator": f["operations"]}),
        "code_standard_findings": (
            "sarif", lambda f: {"value": f["by_level"].get("error", 0) + f["by_level"].get("warning", 0)}),
        "performance_p95_latency": ("performance", lambda f: {"value": f["p95_ms"]}),
    }
    for kpi_id, (kind, values) in report_values.items():
        for run in report_runs(sim, kind, artifact_facts):
            facts.append(Fact(kpi_id, run["team"], run["repo"], run["started_at"], order=run["order"],
                              **values(run["facts"])))
    for repo in org.repositories:
        for alert in org.security_alerts.get(repo.full_name, []):
            facts.append(Fact("security_alerts", org.team_of(alert.repo), alert.repo, alert.created_at, value=1,
                              closed_at=_closed_at(alert)))
    return facts


def zero_fill_frames(source: Any, as_of: datetime | None = None,
                     production_environments: Iterable[str] = DEFAULT_PRODUCTION_ENVIRONMENTS) -> list[Frame]:
    """The zero-fill ranges the catalogue's rules name (see `ZERO_FILL`)."""
    sim = simulation_of(source)
    org = sim.org
    now = _as_of(sim, as_of)
    teams = team_names(org)
    frames: list[Frame] = []
    production = [d for deployments in production_deployments_by_repo(org, production_environments).values()
                  for d in deployments]
    if production:
        first, last = min(d.created_at for d in production), max(d.created_at for d in production)
        repos = sorted({d.repo for d in production})
        for kpi_id in ("deployment_frequency", "change_failure_rate"):
            frames += [Frame(kpi_id, team, None, first, last) for team in teams]
            frames += [Frame(kpi_id, org.team_of(repo), repo, first, last) for repo in repos]
    bugs = list(sim.jira.select(["Bug"], "production"))
    if bugs:
        first = min(issue.created for issue in bugs)
        frames += [Frame("production_bugs", team, None, first, now)
                   for team in sorted({project.team for project in sim.jira.projects})]
    alerts = [alert for repo in org.repositories for alert in org.security_alerts.get(repo.full_name, [])]
    if alerts:
        first = min(alert.created_at for alert in alerts)
        frames += [Frame("security_alerts", team, None, first, now) for team in teams]
        frames += [Frame("security_alerts", org.team_of(repo), repo, first, now)
                   for repo in sorted({alert.repo for alert in alerts})]
    return frames


# -- values --------------------------------------------------------------------------


def _reduce(method: str, facts: list[Fact]) -> dict:
    """value, numerator, denominator and observations of a non-empty list of facts."""
    n = len(facts)
    if method == "count":
        return {"value": float(n), "numerator": float(n), "denominator": None}
    if method == "sum":
        total = float(sum(f.value for f in facts))
        return {"value": total, "numerator": total, "denominator": None}
    if method == "median":
        return {"value": float(statistics.median(f.value for f in facts)), "numerator": None, "denominator": None}
    if method == "max":
        return {"value": float(max(f.value for f in facts)), "numerator": None, "denominator": None}
    numerator = float(sum(f.numerator for f in facts))
    denominator = float(sum(f.denominator for f in facts))
    if not denominator:
        value = None
    elif method == "percent":
        value = 100.0 * (numerator / denominator)
    else:  # ratio, mean
        value = numerator / denominator
    return {"value": value, "numerator": numerator, "denominator": denominator}


def _zero_filled(method: str) -> dict:
    if method == "ratio":
        return {"value": None, "numerator": 0.0, "denominator": 0.0}
    return {"value": 0.0, "numerator": 0.0, "denominator": None}


def _facts_of_period(facts: list[Fact], grain: str, start: date, end: date, facts_kind: str) -> list[Fact]:
    """The facts a period's value is computed from, among `facts` (one team's or repository's)."""
    if facts_kind == "in_period":
        return [f for f in facts if period_start(f.at, grain) == start]
    if facts_kind == "open_at_period_end":
        boundary = midnight(end)
        return [f for f in facts if f.at < boundary and (f.closed_at is None or f.closed_at >= boundary)]
    latest: dict[str, Fact] = {}  # latest_per_repository
    for fact in facts:
        if period_start(fact.at, grain) == start and (fact.repo not in latest or fact.order > latest[fact.repo].order):
            latest[fact.repo] = fact
    return list(latest.values())


def _by_period(facts: list[Fact], grain: str) -> dict[date, list[Fact]]:
    grouped: dict[date, list[Fact]] = defaultdict(list)
    for fact in facts:
        grouped[period_start(fact.at, grain)].append(fact)
    return grouped


def kpi_period_values(source: Any, grains: Iterable[str] = PERIOD_GRAINS, as_of: datetime | None = None,
                      artifact_facts: ArtifactFacts = github_artifact_facts,
                      production_environments: Iterable[str] = DEFAULT_PRODUCTION_ENVIRONMENTS) -> list[dict]:
    """Every KPI per period of `grains`, per team (repository None) and per repository.

    `source`: the Simulation. `as_of` defaults to the anchor. Columns: period_grain,
    period_start, period_end, is_complete (period_end 00:00 UTC <= as_of), team,
    repository, kpi_id, value, numerator, denominator, observations. Sorted by
    (period_grain, period_start, team, repository or '', kpi_id)."""
    sim = simulation_of(source)
    now = _as_of(sim, as_of)
    facts = kpi_facts(sim, now, artifact_facts, production_environments)
    frames = zero_fill_frames(sim, now, production_environments)
    teams = sorted(set(team_names(sim.org)) | {f.team for f in facts})
    moments = [f.at for f in facts] + [frame.first for frame in frames] + [frame.last for frame in frames] + [now]
    first = min(day_of(moment) for moment in moments)
    last = max(day_of(moment) for moment in moments)
    by_cell: dict[tuple[str, str | None], list[Fact]] = defaultdict(list)  # (kpi_id, repo or None for team) -> facts
    by_team: dict[tuple[str, str], list[Fact]] = defaultdict(list)
    members: set[tuple[str, str, str]] = set()
    for fact in facts:
        by_team[(fact.kpi_id, fact.team)].append(fact)
        if fact.repo is not None and fact.kpi_id not in NO_REPOSITORY_ROWS:
            by_cell[(fact.kpi_id, fact.repo)].append(fact)
            members.add((fact.kpi_id, fact.team, fact.repo))
    members |= {(frame.kpi_id, frame.team, frame.repo) for frame in frames
                if frame.repo is not None and frame.kpi_id not in NO_REPOSITORY_ROWS}
    frame_of = {(frame.kpi_id, frame.team, frame.repo): frame for frame in frames if frame.kpi_id in ZERO_FILL}
    indexed: dict[tuple, dict[date, list[Fact]]] = {}
    rows = []
    for grain in grains:
        for start in periods_between(first, last, grain):
            end = period_end(start, grain)
            cells = [(team, None, kpi_id) for team in teams for kpi_id in PERIOD_AGGREGATION]
            cells += [(team, repo, kpi_id) for kpi_id, team, repo in members]
            for team, repo, kpi_id in cells:
                facts_kind, method = PERIOD_AGGREGATION[kpi_id]
                candidates = by_team[(kpi_id, team)] if repo is None else by_cell[(kpi_id, repo)]
                if facts_kind != "open_at_period_end":  # only the facts of the period can count
                    key = (grain, kpi_id, team, repo)
                    if key not in indexed:
                        indexed[key] = _by_period(candidates, grain)
                    candidates = indexed[key].get(start, [])
                chosen = _facts_of_period(candidates, grain, start, end, facts_kind)
                frame = frame_of.get((kpi_id, team, repo))
                if chosen:
                    values = _reduce(method, chosen)
                elif frame is not None and period_start(frame.first, grain) <= start <= period_start(frame.last, grain):
                    values = _zero_filled(method)
                else:
                    values = {"value": None, "numerator": None, "denominator": None}
                rows.append({"period_grain": grain, "period_start": start, "period_end": end,
                             "is_complete": midnight(end) <= now, "team": team, "repository": repo,
                             "kpi_id": kpi_id, **values, "observations": len(chosen)})
    return sorted(rows, key=lambda row: (row["period_grain"], row["period_start"], row["team"],
                                         row["repository"] or "", row["kpi_id"]))


def kpi_period(source: Any, as_of: datetime | None = None, artifact_facts: ArtifactFacts = github_artifact_facts,
               production_environments: Iterable[str] = DEFAULT_PRODUCTION_ENVIRONMENTS) -> list[dict]:
    """kpi_period: every KPI per ISO week, calendar month and calendar quarter (see `kpi_period_values`)."""
    return kpi_period_values(source, PERIOD_GRAINS, as_of, artifact_facts, production_environments)


def kpi_daily(source: Any, as_of: datetime | None = None, artifact_facts: ArtifactFacts = github_artifact_facts,
              production_environments: Iterable[str] = DEFAULT_PRODUCTION_ENVIRONMENTS) -> list[dict]:
    """kpi_daily: every KPI per UTC day (the day grain of `kpi_period_values`; `date_day` = period_start)."""
    rows = kpi_period_values(source, DAILY_GRAIN, as_of, artifact_facts, production_environments)
    return [{"date_day": row["period_start"], **{k: v for k, v in row.items()
                                                  if k not in ("period_grain", "period_start", "period_end")}}
            for row in rows]
