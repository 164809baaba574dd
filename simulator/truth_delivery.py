"""Ground truth for release delay and production bugs (re-exported by `simulator.truth`).

Plain Python over the Jira site and the GitHub org model objects. Both functions
take the whole `Simulation` (they read Jira; release delay reads GitHub too).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any, Iterable

from simulator.truth_common import (
    hours,
    mean_or_none,
    median_or_none,
    ratio_or_none,
    simulation_of,
    week_end,
    week_start,
    weeks_between,
)



# -- release delay --------------------------------------------------------------------


def _as_of_date(sim: Any, as_of: date | datetime | None) -> date:
    if as_of is None:
        as_of = sim.org.anchor
    if isinstance(as_of, datetime):
        return as_of.astimezone(UTC).date()
    return as_of


def _release_row(team: str, source: str, key: str, container: str, name: str, planned: date,
                 actual: date | None, today: date) -> dict:
    if actual is not None:
        delay = (actual - planned).days
        status = "early" if delay < 0 else "on_time" if delay == 0 else "late"
    elif planned < today:
        delay, status = (today - planned).days, "overdue"
    else:
        delay, status = None, "scheduled"
    return {
        "team": team, "source": source, "release_key": key, "container": container, "release": name,
        "planned_date": planned, "actual_date": actual, "released": actual is not None,
        "delay_days": delay, "on_time": None if delay is None else delay <= 0, "status": status,
    }


def release_delays(source: Any, as_of: date | datetime | None = None) -> list[dict]:
    """One row per release with a planned date (grain team x release).

    `source`: the Simulation. `as_of` defaults to the anchor (its UTC date).
    Releases:
      * every Jira fix version (archived ones included): planned = `planned_release_date`
        (Jira's `releaseDate`), actual = `actual_release_date` (the day it shipped; None
        while unreleased); team = the version's project's team; key `jira:<version id>`.
        Jira has no field for the day a version shipped (release automation flips
        `released` without touching `releaseDate`): the API serves it inside the version
        description as `released: YYYY-MM-DD`, where the warehouse reads it (fct_releases);
      * every GitHub milestone with a `due_on`: planned = `due_on`'s UTC date, actual =
        `closed_at`'s UTC date when the milestone is closed (the model does not link
        releases to milestones, so closing the milestone is its release); team = the
        repository's team; key `github:<repo>#<milestone number>`.
    delay_days = actual - planned (negative = early); unreleased with planned < as_of →
    `overdue`, delay = as_of - planned (counts as late); unreleased with planned >= as_of →
    `scheduled`, delay None. `on_time` = delay <= 0 (None when scheduled).
    Columns: team, source (jira/github), release_key, container (project key or repo),
    release (name/title), planned_date, actual_date, released, delay_days, on_time, status
    (early/on_time/late/overdue/scheduled). Sorted by (team, planned_date, release_key).
    """
    sim = simulation_of(source)
    today = _as_of_date(sim, as_of)
    project_team = {project.key: project.team for project in sim.jira.projects}
    rows = []
    for version in sim.jira.versions:
        actual = version.actual_release_date if version.released else None
        rows.append(_release_row(project_team[version.project_key], "jira", f"jira:{version.id}",
                                 version.project_key, version.name, version.planned_release_date, actual, today))
    org = sim.org
    for repo in org.repositories:
        for milestone in org.milestones.get(repo.full_name, []):
            if milestone.due_on is None:
                continue
            closed = milestone.state == "closed" and milestone.closed_at is not None
            actual = milestone.closed_at.astimezone(UTC).date() if closed else None
            rows.append(_release_row(org.team_of(repo.full_name), "github",
                                     f"github:{repo.full_name}#{milestone.number}", repo.full_name,
                                     milestone.title, milestone.due_on.astimezone(UTC).date(), actual, today))
    return sorted(rows, key=lambda row: (row["team"], row["planned_date"], row["release_key"]))


def release_delay_summary(rows: Iterable[dict], period_start: date, period_end: date) -> list[dict]:
    """The team value: releases *due* in [period_start, period_end) — planned date in the
    period and a delay defined (released, or overdue) — with `on_time_releases`,
    `on_time_share` (None when none are due) and `mean_delay_days` (early releases count
    negative). One row per team with at least one due release, sorted by team.
    The mart kpi_release_delay reports this per ISO week of the planned date
    (period = [Monday, next Monday)), with the sums that roll weeks up to longer periods."""
    due: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row["delay_days"] is not None and period_start <= row["planned_date"] < period_end:
            due[row["team"]].append(row)
    return [{
        "team": team, "releases_due": len(items), "on_time_releases": sum(1 for r in items if r["on_time"]),
        "on_time_share": ratio_or_none(sum(1 for r in items if r["on_time"]), len(items)),
        "mean_delay_days": mean_or_none(r["delay_days"] for r in items),
    } for team, items in sorted(due.items())]


def release_on_time(source: Any, as_of: date | datetime | None = None) -> list[dict]:
    """Releases on time per team and ISO week of the planned date (grain team x week).

    `source`: the Simulation. The releases of `release_delays` that are due (a delay is
    defined: released, or unreleased past due at `as_of`), grouped by the week (Monday) of
    their planned date: `releases_due`, `on_time_releases` (delay <= 0) and
    `on_time_share` = on_time_releases / releases_due. One row per team and week with a
    release due, sorted by (team, week_start)."""
    rows = release_delays(source, as_of)
    weeks = sorted({row["planned_date"] - timedelta(days=row["planned_date"].weekday())
                    for row in rows if row["delay_days"] is not None})
    result = []
    for week in weeks:
        for summary in release_delay_summary(rows, week, week + timedelta(days=7)):
            result.append({"team": summary["team"], "week_start": week, "releases_due": summary["releases_due"],
                           "on_time_releases": summary["on_time_releases"],
                           "on_time_share": summary["on_time_share"]})
    return sorted(result, key=lambda row: (row["team"], row["week_start"]))


# -- production bugs ------------------------------------------------------------------


def _is_done(status: str) -> bool:
    """Whether a Jira status name is in the `done` status category (Done, Won't Do)."""
    from simulator.jira import STATUSES  # the Jira model's workflow; jira.py never imports the truth

    return STATUSES[status].category == "done"


def production_bugs(source: Any) -> list[dict]:
    """Production-bug flow per team, week and severity (Jira).

    `source`: the Simulation. Population: Jira issues of type Bug whose Environment is
    `production`, still visible at the anchor (issues deleted upstream are excluded).
    Team = the team of the issue's *current* project; severity = the current Severity
    (None when unset). GitHub issues labelled `bug` carry no environment, so they are not
    production bugs by this definition. "Done" = the done status category (Done, Won't Do).
      * `bugs_opened`: issues created in the week;
      * `bugs_resolved`: status transitions into a done status (from a non-done one) in
        the week, counted per transition (an issue resolved, reopened and resolved again
        counts twice);
      * `bugs_reopened`: transitions out of a done status in the week;
      * `open_at_week_end`: issues created before the end of the week whose status at the
        end of the week (the anchor for the current week) is not done;
      * `median_hours_to_resolve`: median over that week's resolving transitions of hours
        from the issue's creation to the transition (None without any).
    Weeks: from the week of the earliest such bug to the week of the anchor; a row is
    returned when any of the four counts is non-zero. Sorted by (team, week_start, severity).
    """
    sim = simulation_of(source)
    anchor = sim.jira.anchor
    # select() filters on the compact index first: 1M issues never become objects at once.
    bugs = list(sim.jira.select(["Bug"], "production"))
    if not bugs:
        return []
    weeks = weeks_between(week_start(min(issue.created for issue in bugs)), week_start(anchor))
    counts: dict[tuple[str, date, str | None], dict[str, Any]] = defaultdict(
        lambda: {"opened": 0, "resolved": 0, "reopened": 0, "open": 0, "resolve_hours": []})
    for issue in bugs:
        counts[(issue.team, week_start(issue.created), issue.severity)]["opened"] += 1
        transitions = issue.status_transitions()
        # (moment, done after it); the issue starts in the `from` status of its first transition.
        initial = transitions[0][1] if transitions else issue.status
        timeline = [(when, _is_done(target)) for when, source_status, target in transitions]
        for when, source_status, target in transitions:
            bucket = counts[(issue.team, week_start(when), issue.severity)]
            if _is_done(target) and not _is_done(source_status):
                bucket["resolved"] += 1
                bucket["resolve_hours"].append(hours(when - issue.created))
            elif _is_done(source_status) and not _is_done(target):
                bucket["reopened"] += 1
        for week in weeks:
            end = week_end(week)
            if issue.created >= end:
                continue
            done = _is_done(initial)
            for when, done_after in timeline:
                if when >= end:
                    break
                done = done_after
            if not done:
                counts[(issue.team, week, issue.severity)]["open"] += 1
    rows = []
    for (team, week, severity), bucket in counts.items():
        if not (bucket["opened"] or bucket["resolved"] or bucket["reopened"] or bucket["open"]):
            continue
        rows.append({
            "team": team, "week_start": week, "severity": severity,
            "bugs_opened": bucket["opened"], "bugs_resolved": bucket["resolved"],
            "bugs_reopened": bucket["reopened"], "open_at_week_end": bucket["open"],
            "median_hours_to_resolve": median_or_none(bucket["resolve_hours"]),
        })
    return sorted(rows, key=lambda row: (row["team"], row["week_start"], row["severity"] or ""))
