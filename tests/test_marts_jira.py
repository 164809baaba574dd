"""The Jira and release marts against the simulator's ground truth (simulator/truth_delivery.py).

fct_releases / kpi_release_delay (Jira fix versions and GitHub milestones) and fct_bugs /
kpi_production_bugs (Jira production bugs) are compared row for row with the truth
computed in plain Python from the simulator's model, on the shared pipeline run of the
`small` org (tests/support/small_warehouse.py; the warehouse's "now" is the anchor).
Jira incidents in fct_recovery_events / kpi_recovery_time are compared in
tests/test_marts_dora.py.

Issues deleted upstream are never served at the anchor, so the shared run never even sees
the simulator's deleted issues. `rebuilt` makes the warehouse see a deletion the way the
nightly run does -- the key listing marks `_deleted_at` on an issue loaded before -- in a
copy of the working warehouse, rebuilds the Jira marts there (with a later as-of moment,
which moves overdue delays and the open-bug weeks) and compares them with the truth of the
same simulation without those issues.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

import duckdb
import pytest

from extractors.extract import BatchManifest
from extractors.loader import WarehouseLoader
from extractors.streams.jira import ISSUE_KEYS, ISSUES
from kpi.dbt_runner import run_dbt
from simulator.jira import STATUSES
from simulator.truth_common import week_start
from simulator.truth_delivery import production_bugs, release_delay_summary, release_delays
from simulator.truth_dora import recovery_events, recovery_time
from tests.support.small_warehouse import close, naive, query

ANCHOR = datetime(2026, 11, 23, tzinfo=timezone.utc)
LATER = ANCHOR + timedelta(days=10, hours=9)  # the rebuilt copy's as-of: the next week, mid-week
JIRA_MARTS = ("fct_bugs", "kpi_production_bugs", "fct_recovery_events", "kpi_recovery_time", "fct_releases",
              "kpi_release_delay")


@pytest.fixture(scope="module")
def warehouse(small_warehouse):
    return small_warehouse


def rows(path, sql: str) -> list[dict]:
    return query(path, sql)




def published(warehouse, sql: str) -> list[dict]:
    return rows(warehouse["config"].published_warehouse, sql)






def is_done(status: str) -> bool:
    return STATUSES[status].category == "done"


def transition_counts(issue) -> tuple[int, int]:
    """(resolutions, reopenings) of a model issue, from its status transitions."""
    transitions = issue.status_transitions()
    return (sum(1 for _, source, target in transitions if is_done(target) and not is_done(source)),
            sum(1 for _, source, target in transitions if is_done(source) and not is_done(target)))


# -- comparisons shared by the shared run and the rebuilt copy --------------------------


RELEASE_COLUMNS = {  # mart column -> truth key
    "team": "team", "source": "source", "release_key": "release_key", "container": "container",
    "release_name": "release", "planned_date": "planned_date", "actual_date": "actual_date",
    "is_released": "released", "delay_days": "delay_days", "is_on_time": "on_time", "status": "status",
}


def assert_releases_equal(loaded: list[dict], truth: list[dict]) -> None:
    assert [tuple(r[c] for c in RELEASE_COLUMNS) for r in loaded] == \
        [tuple(r[k] for k in RELEASE_COLUMNS.values()) for r in truth]
    assert all(r["planned_week_start"] == r["planned_date"] - timedelta(days=r["planned_date"].weekday())
               for r in loaded)


def expected_release_delay(truth: list[dict]) -> list[dict]:
    """The team value of every ISO week of planned dates (release_delay_summary per week)."""
    weeks = sorted({row["planned_date"] - timedelta(days=row["planned_date"].weekday())
                    for row in truth if row["delay_days"] is not None})
    expected = []
    for week in weeks:
        for summary in release_delay_summary(truth, week, week + timedelta(days=7)):
            expected.append({**summary, "week_start": week})
    return sorted(expected, key=lambda row: (row["team"], row["week_start"]))


def assert_release_delay_equal(loaded: list[dict], truth: list[dict]) -> None:
    expected = expected_release_delay(truth)
    assert [(r["team"], r["week_start"], r["releases_due"], r["on_time_releases"]) for r in loaded] == \
        [(r["team"], r["week_start"], r["releases_due"], r["on_time_releases"]) for r in expected]
    for got, want in zip(loaded, expected):
        assert close(got["on_time_share"], want["on_time_share"]), (got, want)
        assert close(got["mean_delay_days"], want["mean_delay_days"]), (got, want)


BUG_COLUMNS = ("team", "week_start", "severity", "bugs_opened", "bugs_resolved", "bugs_reopened", "open_at_week_end")


def assert_production_bugs_equal(loaded: list[dict], truth: list[dict]) -> None:
    assert [tuple(r[c] for c in BUG_COLUMNS) for r in loaded] == [tuple(r[c] for c in BUG_COLUMNS) for r in truth]
    for got, want in zip(loaded, truth):
        assert close(got["median_hours_to_resolve"], want["median_hours_to_resolve"]), (got, want)


RECOVERY_COLUMNS = ("team", "week_start", "failures", "failed_deployments", "github_incidents", "jira_incidents",
                    "recovered", "unrecovered")


def assert_recovery_equal(events: list[dict], kpi: list[dict], truth_events: list[dict],
                          truth_kpi: list[dict]) -> None:
    assert sorted((r["team"], r["kind"], r["reference"], r["repository"], r["started_at"], r["recovered_at"],
                   r["week_start"]) for r in events) == \
        sorted((r["team"], r["kind"], r["reference"], r["repo"], naive(r["started_at"]), naive(r["recovered_at"]),
                r["week_start"]) for r in truth_events)
    by_key = {(r["kind"], r["reference"]): r for r in events}
    assert all(close(by_key[(r["kind"], r["reference"])]["recovery_hours"], r["recovery_hours"])
               for r in truth_events)
    assert [tuple(r[c] for c in RECOVERY_COLUMNS) for r in kpi] == \
        [tuple(r[c] for c in RECOVERY_COLUMNS) for r in truth_kpi]
    assert all(close(g["median_recovery_hours"], e["median_recovery_hours"]) for g, e in zip(kpi, truth_kpi))


ORDERED = {
    "fct_releases": "order by team, planned_date, release_key",
    "kpi_release_delay": "order by team, week_start",
    "kpi_production_bugs": "order by team, week_start, coalesce(severity, '')",
    "kpi_recovery_time": "order by team, week_start",
}


def mart(path, name: str, where: str = "") -> list[dict]:
    return rows(path, f"select * from marts.{name} {where} {ORDERED.get(name, '')}")


# -- release delay ---------------------------------------------------------------------


def test_releases_equal_the_truth(warehouse):
    truth = release_delays(warehouse["simulation"], as_of=ANCHOR)
    assert {r["source"] for r in truth} == {"jira", "github"}
    assert_releases_equal(mart(warehouse["config"].published_warehouse, "fct_releases"), truth)


def test_release_delay_kpi_is_the_truths_team_value_per_week(warehouse):
    truth = release_delays(warehouse["simulation"], as_of=ANCHOR)
    loaded = mart(warehouse["config"].published_warehouse, "kpi_release_delay")
    assert_release_delay_equal(loaded, truth)
    # The sums roll a longer period up to the truth's team value over it.
    overall = release_delay_summary(truth, date(2000, 1, 1), date(2100, 1, 1))
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in loaded:
        totals[row["team"]][0] += row["releases_due"]
        totals[row["team"]][1] += row["on_time_releases"]
        totals[row["team"]][2] += row["total_delay_days"]
    assert [(r["team"], r["releases_due"], r["on_time_releases"]) for r in overall] == \
        [(team, due, on_time) for team, (due, on_time, _) in sorted(totals.items())]
    assert all(close(totals[r["team"]][2] / r["releases_due"], r["mean_delay_days"]) for r in overall)


def test_an_unreleased_past_due_version_counts_as_late(warehouse):
    simulation = warehouse["simulation"]
    today = ANCHOR.date()
    overdue = [v for v in simulation.jira.versions if not v.released and v.planned_release_date < today]
    assert overdue, "the small org has an unreleased version past its planned date"
    loaded = {r["release_key"]: r for r in published(warehouse, "select * from marts.fct_releases")}
    kpi = {(r["team"], r["week_start"]): r for r in published(warehouse, "select * from marts.kpi_release_delay")}
    teams = {project.key: project.team for project in simulation.jira.projects}
    for version in overdue:
        got = loaded[f"jira:{version.id}"]
        assert (got["status"], got["is_released"], got["actual_date"], got["is_on_time"]) == \
            ("overdue", False, None, False)
        assert got["delay_days"] == (today - version.planned_release_date).days > 0
        week = kpi[(teams[version.project_key], got["planned_week_start"])]
        assert week["overdue_releases"] >= 1
        assert week["on_time_releases"] <= week["releases_due"] - week["overdue_releases"]


# -- production bugs -------------------------------------------------------------------


def test_bugs_equal_the_truth(warehouse):
    simulation = warehouse["simulation"]
    truth = {issue.id: issue for issue in simulation.jira.select(["Bug"])}
    loaded = {r["issue_id"]: r for r in published(warehouse, "select * from marts.fct_bugs")}
    assert loaded.keys() == truth.keys()
    for issue_id, issue in truth.items():
        got = loaded[issue_id]
        assert (got["issue_key"], got["team"], got["severity"], got["environment"], got["is_production"]) == \
            (issue.key, issue.team, issue.severity, issue.environment, issue.environment == "production"), issue.key
        assert (got["created_at"], got["resolved_at"], got["is_resolved"]) == \
            (naive(issue.created), naive(issue.resolution_date), is_done(issue.status)), issue.key
        assert (got["resolutions"], got["reopenings"]) == transition_counts(issue), issue.key
        expected_hours = (issue.resolution_date - issue.created).total_seconds() / 3600 \
            if issue.resolution_date else None
        assert close(got["hours_to_resolve"], expected_hours), issue.key


def test_production_bugs_kpi_equals_the_truth(warehouse):
    truth = production_bugs(warehouse["simulation"])
    assert truth and any(r["bugs_reopened"] for r in truth)
    assert_production_bugs_equal(mart(warehouse["config"].published_warehouse, "kpi_production_bugs"), truth)


def test_a_reopened_bug_counts_as_reopened(warehouse):
    simulation = warehouse["simulation"]
    reopened = [issue for issue in simulation.jira.select(["Bug"], "production") if transition_counts(issue)[1]]
    assert reopened, "the small org has reopened production bugs"
    bugs = {r["issue_key"]: r for r in published(warehouse, "select * from marts.fct_bugs")}
    kpi = {(r["team"], r["week_start"], r["severity"]): r
           for r in published(warehouse, "select * from marts.kpi_production_bugs")}
    reopenings_by_week: dict[tuple, int] = defaultdict(int)
    for issue in reopened:
        assert bugs[issue.key]["reopenings"] == transition_counts(issue)[1] >= 1
        for when, source, target in issue.status_transitions():
            if is_done(source) and not is_done(target):
                reopenings_by_week[(issue.team, week_start(when), issue.severity)] += 1
    for key, count in reopenings_by_week.items():
        assert kpi[key]["bugs_reopened"] >= count, key


# -- moves and deletions --------------------------------------------------------------


def test_an_issue_moved_between_projects_counts_for_its_current_projects_team(warehouse):
    simulation = warehouse["simulation"]
    teams = {project.key: project.team for project in simulation.jira.projects}
    moved = [issue for issue in simulation.jira.select(["Bug", "Incident"]) if issue.previous_keys]
    moved_bugs = [issue for issue in moved if issue.issue_type == "Bug"]
    moved_incidents = [issue for issue in moved if issue.issue_type == "Incident"]
    assert moved_bugs and moved_incidents, "the small org moves bugs and incidents between projects"
    assert all(teams[issue.previous_keys[0].split("-")[0]] != issue.team for issue in moved)
    bugs = {r["issue_id"]: r for r in published(warehouse, "select * from marts.fct_bugs")}
    incidents = {r["reference"]: r for r in published(
        warehouse, "select * from marts.fct_recovery_events where kind = 'jira_incident'")}
    for issue in moved_bugs:
        assert (bugs[issue.id]["issue_key"], bugs[issue.id]["project_key"], bugs[issue.id]["team"]) == \
            (issue.key, issue.project_key, teams[issue.project_key])
    for issue in moved_incidents:
        assert incidents[issue.key]["team"] == teams[issue.project_key]
        assert not set(issue.previous_keys) & incidents.keys()


def test_issues_deleted_upstream_never_count(warehouse):
    simulation = warehouse["simulation"]
    deleted = [issue for issue in simulation.jira.issues if not issue.is_visible(ANCHOR)]
    assert {issue.issue_type for issue in deleted} >= {"Bug", "Incident"}
    bug_ids = {r["issue_id"] for r in published(warehouse, "select issue_id from marts.fct_bugs")}
    references = {r["reference"] for r in published(warehouse, "select reference from marts.fct_recovery_events")}
    assert not {issue.id for issue in deleted} & bug_ids
    assert not {key for issue in deleted for key in (issue.key, *issue.previous_keys)} & references


class _JiraWithout:
    """The simulated Jira site as the warehouse sees it once `deleted` are marked deleted,
    with its clock at `anchor` (the truth reads `select` and `anchor` only)."""

    def __init__(self, site, deleted: set[int], anchor: datetime) -> None:
        self.site, self.deleted, self.anchor = site, deleted, anchor

    def select(self, issue_types: Iterable[str] | None = None, environment: str | None = None,
               at: datetime | None = None) -> Any:
        return (issue for issue in self.site.select(issue_types, environment, at) if issue.id not in self.deleted)


@pytest.fixture(scope="module")
def rebuilt(warehouse, tmp_path_factory):
    """A copy of the working warehouse where the key listing found a production bug still open
    at the anchor and a resolved Jira incident deleted, with the Jira marts rebuilt at LATER."""
    simulation, config = warehouse["simulation"], warehouse["config"]
    open_bugs = [issue for issue in simulation.jira.select(["Bug"], "production") if not is_done(issue.status)]
    # Preferably one resolved once and reopened since: its deletion takes back every kind of event.
    bug = next((issue for issue in open_bugs if transition_counts(issue)[1]), open_bugs[0])
    incident = next(issue for issue in simulation.jira.select(["Incident"]) if issue.resolution_date)
    data_dir = tmp_path_factory.mktemp("jira_deleted") / "data"
    (data_dir / "warehouse").mkdir(parents=True)
    copy = data_dir / "warehouse" / "work.duckdb"
    shutil.copyfile(config.working_warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        marked = con.execute("update raw.jira__issues set _deleted_at = ? where record_key in (?, ?) returning 1",
                             [ANCHOR, str(bug.id), str(incident.id)]).fetchall()
    assert len(marked) == 2
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KPI_DATA_DIR", str(data_dir))
        patch.setenv("KPI_AS_OF", LATER.isoformat())
        # Jira staging too: an incremental run, so its post-hook drops the deleted issues' rows.
        run_dbt(config, "run", ["--select", "path:models/staging/jira", *JIRA_MARTS])
    view = dataclasses.replace(simulation, jira=_JiraWithout(simulation.jira, {bug.id, incident.id}, LATER))
    return {"path": copy, "bug": bug, "incident": incident, "truth_source": view}


def test_an_issue_marked_deleted_stops_counting(rebuilt):
    path, bug, incident = rebuilt["path"], rebuilt["bug"], rebuilt["incident"]
    assert not rows(path, f"select * from marts.fct_bugs where issue_id = {bug.id}")
    assert not rows(path, f"select * from marts.fct_recovery_events where reference = '{incident.key}'")
    assert_production_bugs_equal(mart(path, "kpi_production_bugs"), production_bugs(rebuilt["truth_source"]))
    assert_recovery_equal(mart(path, "fct_recovery_events"), mart(path, "kpi_recovery_time"),
                          recovery_events(rebuilt["truth_source"]), recovery_time(rebuilt["truth_source"]))


def test_a_later_as_of_date_moves_overdue_delays_and_open_bug_weeks(rebuilt, warehouse):
    path, source = rebuilt["path"], rebuilt["truth_source"]
    truth = release_delays(warehouse["simulation"], as_of=LATER)
    assert_releases_equal(mart(path, "fct_releases"), truth)
    assert_release_delay_equal(mart(path, "kpi_release_delay"), truth)
    before = {r["release_key"]: r for r in release_delays(warehouse["simulation"], as_of=ANCHOR)}
    assert any(before[r["release_key"]]["status"] == "scheduled" for r in truth if r["status"] == "overdue")
    assert max(r["week_start"] for r in production_bugs(source)) == week_start(LATER) > week_start(ANCHOR)


@pytest.fixture(scope="module")
def restored(rebuilt, warehouse, tmp_path_factory):
    """A copy of `rebuilt` where the next night's key listings hold the deleted issues again
    (permission restored, issue restored from the trash): the real loader undeletes them in
    place, without a new batch, and an incremental run rebuilds the Jira marts."""
    bug, incident = rebuilt["bug"], rebuilt["incident"]
    root = tmp_path_factory.mktemp("jira_restored")
    data_dir = root / "data"
    (data_dir / "warehouse").mkdir(parents=True)
    copy = data_dir / "warehouse" / "work.duckdb"
    shutil.copyfile(rebuilt["path"], copy)
    with duckdb.connect(str(copy), read_only=True) as con:
        scoped = con.execute("select scope, record_key from raw.jira__issues where scope in "
                             "(select scope from raw.jira__issues where record_key in (?, ?))",
                             [str(bug.id), str(incident.id)]).fetchall()
    by_scope: dict[str, list[str]] = defaultdict(list)
    for scope, record_key in scoped:
        by_scope[scope].append(record_key)
    listings = []
    for number, (scope, keys) in enumerate(sorted(by_scope.items())):
        path = root / f"listing-{number}.jsonl"
        path.write_text("".join(json.dumps({"record_key": key, "scope": scope, "updated_at": None,
                                            "payload": {"id": key}}) + "\n" for key in keys), encoding="utf-8")
        listings.append(BatchManifest(stream=ISSUE_KEYS, scope=scope, run_id="restore", path=str(path),
                                      records=len(keys), previous_cursor=None, new_cursor=None,
                                      extracted_at=LATER.isoformat(), requests=1, complete=True,
                                      key_listing_of=ISSUES))
    report = WarehouseLoader(copy).load(listings)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KPI_DATA_DIR", str(data_dir))
        patch.setenv("KPI_AS_OF", LATER.isoformat())
        run_dbt(warehouse["config"], "run", ["--select", "path:models/staging/jira", *JIRA_MARTS])
    view = dataclasses.replace(rebuilt["truth_source"], jira=_JiraWithout(rebuilt["truth_source"].jira.site, set(), LATER))
    return {"path": copy, "report": report, "truth_source": view, **{k: rebuilt[k] for k in ("bug", "incident")}}


def test_an_issue_listed_again_after_its_deletion_counts_again(restored):
    path, bug, incident = restored["path"], restored["bug"], restored["incident"]
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select count(*) from raw.jira__issues where _deleted_at is not null").fetchone() == (0,)
    assert rows(path, f"select issue_id from marts.fct_bugs where issue_id = {bug.id}")
    assert rows(path, f"select reference from marts.fct_recovery_events where reference = '{incident.key}'")
    assert_production_bugs_equal(mart(path, "kpi_production_bugs"), production_bugs(restored["truth_source"]))
    assert_recovery_equal(mart(path, "fct_recovery_events"), mart(path, "kpi_recovery_time"),
                          recovery_events(restored["truth_source"]), recovery_time(restored["truth_source"]))
