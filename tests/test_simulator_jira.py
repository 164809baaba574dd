"""The synthetic Jira site: determinism, workflow invariants, messy cases, ground truth."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from simulator.generator import generate_org
from simulator.jira import (
    KNOWLEDGE_SHARING,
    STATUSES,
    TECH_DEBT,
    ChangeItem,
    History,
    JiraIssue,
    JiraProject,
    JiraSite,
    JiraVersion,
    generate_jira,
    production_bugs,
    project_key_for,
    release_delays,
)
from simulator.model import Team

ANCHOR = datetime(2026, 11, 26, tzinfo=UTC)
DAYS = 90


@pytest.fixture(scope="module")
def teams() -> list[Team]:
    return generate_org("small", seed=7, anchor=ANCHOR).teams


@pytest.fixture(scope="module")
def site(teams: list[Team]) -> JiraSite:
    return generate_jira(teams, seed=7, anchor=ANCHOR, days=DAYS, issues_total=3000)


def fingerprint(site: JiraSite) -> list[tuple]:
    return [(i.id, i.key, i.issue_type, i.status, i.created, i.updated, i.resolution_date, i.assignee,
             tuple(i.labels), tuple(i.fix_version_ids), i.deleted_at,
             tuple((h.id, h.created, tuple((c.field, c.to_string) for c in h.items)) for h in i.histories))
            for i in site.issues] + [(v.id, v.name, v.planned_release_date, v.released, v.actual_release_date)
                                     for v in site.versions]


# -- determinism and scale ------------------------------------------------------------


def test_same_inputs_generate_an_identical_site(teams: list[Team], site: JiraSite) -> None:
    again = generate_jira(teams, seed=7, anchor=ANCHOR, days=DAYS, issues_total=3000)
    assert fingerprint(again) == fingerprint(site)


def test_another_seed_generates_a_different_site(teams: list[Team], site: JiraSite) -> None:
    other = generate_jira(teams, seed=8, anchor=ANCHOR, days=DAYS, issues_total=3000)
    assert fingerprint(other) != fingerprint(site)


def test_small_preset_has_one_project_per_team_keyed_from_the_team_name(site: JiraSite) -> None:
    assert [(p.key, p.team) for p in site.projects] == [("PAY", "payments"), ("PLAT", "platform"),
                                                        ("GRO", "growth")]
    assert len(site.issues) == 3000
    per_project = Counter(i.project_key for i in site.issues)
    assert all(700 <= count <= 1300 for count in per_project.values()), per_project


def test_project_keys_for_unknown_teams_are_upper_case_letters_without_collisions() -> None:
    assert project_key_for("data") == "DAT"
    assert project_key_for("search-infra") == "SEA"
    assert project_key_for("search", taken={"SEA"}) == "SEAR"


# -- invariants -----------------------------------------------------------------------


def test_every_timestamp_is_inside_the_window_and_before_the_anchor(site: JiraSite) -> None:
    start = ANCHOR - timedelta(days=DAYS)
    for issue in site.issues:
        assert start <= issue.created <= issue.updated < ANCHOR, issue.key
        for history in issue.histories:
            assert issue.created < history.created <= issue.updated, issue.key
        if issue.deleted_at is not None:
            assert issue.updated < issue.deleted_at < ANCHOR


def test_changelogs_are_ordered_and_updated_is_the_last_change(site: JiraSite) -> None:
    for issue in site.issues:
        times = [h.created for h in issue.histories]
        assert times == sorted(times), issue.key
        ids = [h.id for h in issue.histories]
        assert ids == sorted(ids) and len(set(ids)) == len(ids), issue.key
        assert issue.updated == (times[-1] if times else issue.created)


def test_status_and_resolution_agree_with_the_last_transitions(site: JiraSite) -> None:
    for issue in site.issues:
        transitions = issue.status_transitions()
        assert issue.status == (transitions[-1][2] if transitions else "To Do"), issue.key
        for (_, _, previous_target), (_, source, _) in zip(transitions, transitions[1:]):
            assert source == previous_target, issue.key  # a chain, no jumps
        if STATUSES[issue.status].category == "done":
            last_done = [when for when, _, target in transitions if STATUSES[target].category == "done"][-1]
            assert issue.resolution_date == last_done
            assert issue.resolution == ("Done" if issue.status == "Done" else "Won't Do")
        else:
            assert issue.resolution is None and issue.resolution_date is None


def test_resolution_items_accompany_every_move_into_and_out_of_done(site: JiraSite) -> None:
    for issue in site.issues:
        for history in issue.histories:
            status = next((i for i in history.items if i.field == "status"), None)
            if status is None:
                continue
            was_done = STATUSES[status.from_string].category == "done"
            is_done = STATUSES[status.to_string].category == "done"
            resolution = [i.to_string for i in history.items if i.field == "resolution"]
            if is_done and not was_done:
                assert resolution == ["Done" if status.to_string == "Done" else "Won't Do"]
            elif was_done and not is_done:
                assert resolution == [None]
            else:
                assert resolution == []


def test_issue_types_carry_their_custom_fields_and_labels_appear_on_a_share(site: JiraSite) -> None:
    types = Counter(i.issue_type for i in site.issues)
    assert set(types) == {"Bug", "Story", "Task", "Incident"}
    for issue in site.issues:
        if issue.issue_type == "Bug":
            assert issue.severity in ("S1", "S2", "S3", "S4") and issue.environment in ("production", "staging")
        else:
            assert issue.severity is None and issue.environment is None
    labels = Counter(label for i in site.issues for label in i.labels)
    assert 0.04 * 3000 <= labels[TECH_DEBT] <= 0.2 * 3000
    assert 0.01 * 3000 <= labels[KNOWLEDGE_SHARING] <= 0.06 * 3000
    assert all(i.issue_type == "Task" for i in site.issues if KNOWLEDGE_SHARING in i.labels)


def test_cycle_times_are_long_tailed_and_weekends_are_quieter(site: JiraSite) -> None:
    cycle_days = sorted((i.resolution_date - i.created).total_seconds() / 86400
                        for i in site.issues if i.resolution == "Done")
    median, p90 = statistics.median(cycle_days), cycle_days[int(len(cycle_days) * 0.9)]
    assert 1 <= median <= 10 and p90 >= 2 * median and cycle_days[-1] >= 30
    created_per_weekday = Counter(i.created.weekday() for i in site.issues)
    weekday_mean = sum(created_per_weekday[d] for d in range(5)) / 5
    assert max(created_per_weekday[5], created_per_weekday[6]) < 0.3 * weekday_mean


def test_some_bugs_are_reopened_and_some_issues_are_wont_do(site: JiraSite) -> None:
    reopened = [i for i in site.issues if any(STATUSES[source].category == "done" != STATUSES[target].category
                                              for _, source, target in i.status_transitions())]
    assert sum(i.issue_type == "Bug" for i in reopened) >= 20
    assert sum(i.status == "Won't Do" for i in site.issues) >= 50
    assert {i.status for i in site.issues} == set(STATUSES)


def test_one_issue_has_more_than_a_hundred_histories(site: JiraSite) -> None:
    assert max(len(i.histories) for i in site.issues) > 100


def test_moved_issues_record_the_key_change_and_their_old_keys_redirect(site: JiraSite) -> None:
    moved = [i for i in site.issues if i.previous_keys]
    assert len(moved) >= 3
    for issue in moved:
        key_items = [item for h in issue.histories for item in h.items if item.field == "Key"]
        assert [(k.from_string, k.to_string) for k in key_items] == [(issue.previous_keys[-1], issue.key)]
        assert issue.previous_keys[-1].split("-")[0] != issue.project_key
        assert issue.key.startswith(issue.project_key + "-")
        assert site.resolve_key(issue.previous_keys[-1]) is issue
        assert issue.team == site.projects_by_key[issue.project_key].team
    all_keys = [i.key for i in site.issues] + [k for i in site.issues for k in i.previous_keys]
    assert len(all_keys) == len(set(all_keys))  # a moved issue's old key is never reused


def test_deleted_issues_stay_in_the_model_but_leave_the_live_view(site: JiraSite) -> None:
    deleted = [i for i in site.issues if i.deleted_at is not None]
    assert len(deleted) >= 3
    live = site.live_issues()
    assert len(live) == len(site.issues) - len(deleted)
    assert not {i.key for i in deleted} & {i.key for i in live}
    assert all(i.is_visible(i.deleted_at - timedelta(seconds=1)) for i in deleted)


def test_versions_cover_early_late_overdue_and_future_and_issues_ship_in_their_project(site: JiraSite) -> None:
    today = ANCHOR.date()
    statuses = Counter(row["status"] for row in release_delays(site))
    assert statuses["early"] and statuses["late"] and statuses["on_time"] and statuses["overdue"]
    assert statuses["scheduled"] >= 3
    for version in site.versions:
        assert version.released == (version.actual_release_date is not None)
        if version.released:
            assert version.actual_release_date < today
    with_versions = [i for i in site.issues if i.fix_version_ids]
    assert len(with_versions) > 1000
    for issue in with_versions:
        version = site.versions_by_id[issue.fix_version_ids[0]]
        assert version.project_key == issue.project_key
        if issue.resolution == "Done" and version.released:
            assert version.actual_release_date >= issue.resolution_date.date()


# -- ground truth, on a hand-built site ------------------------------------------------


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def transition(history_id: int, when: datetime, source: str, target: str) -> History:
    items = [ChangeItem("status", STATUSES[source].id, source, STATUSES[target].id, target)]
    return History(history_id, "ann", when, items)


def bug(issue_id: int, key: str, team: str, severity: str, environment: str, created: datetime,
        *histories: History, deleted_at: datetime | None = None) -> JiraIssue:
    status = histories[-1].items[0].to_string if histories else "To Do"
    return JiraIssue(id=issue_id, key=key, project_key=key.split("-")[0], issue_type="Bug", summary="s",
                     status=status, priority="High", labels=[], created=created,
                     updated=histories[-1].created if histories else created, reporter="ann", assignee=None,
                     resolution=None, resolution_date=None, team=team, severity=severity, environment=environment,
                     histories=list(histories), deleted_at=deleted_at)


def tiny_site() -> JiraSite:
    """Week of Mon 2 Nov and Mon 9 Nov 2026; team alpha (A) and beta (B)."""
    issues = [
        # Opened Tue 3 Nov, resolved Thu 5 Nov, reopened Mon 9 Nov, resolved again Wed 11 Nov.
        bug(1, "A-1", "alpha", "S2", "production", at(11, 3),
            transition(10, at(11, 4), "To Do", "In Progress"), transition(11, at(11, 5), "In Progress", "Done"),
            transition(12, at(11, 9), "Done", "In Progress"), transition(13, at(11, 11), "In Progress", "Done")),
        # Opened Sun 8 Nov 23:00 (still week of 2 Nov), closed as Won't Do on Tue 10 Nov.
        bug(2, "A-2", "alpha", "S2", "production", at(11, 8, 23), transition(14, at(11, 10), "To Do", "Won't Do")),
        # Staging bug: never counted.
        bug(3, "A-3", "alpha", "S2", "staging", at(11, 3), transition(15, at(11, 4), "To Do", "Done")),
        # Team beta, S4, still open.
        bug(4, "B-1", "beta", "S4", "production", at(11, 10), transition(16, at(11, 10, 12), "To Do", "In Progress")),
        # Deleted upstream: excluded.
        bug(5, "B-2", "beta", "S1", "production", at(11, 3), deleted_at=at(11, 20)),
    ]
    teams = [Team("alpha", ["ann"], []), Team("beta", ["bob"], [])]
    projects = [JiraProject(1, "A", "Alpha", "alpha", "ann"), JiraProject(2, "B", "Beta", "beta", "bob")]
    versions = [
        JiraVersion(100, "A", "a-1", date(2026, 11, 2), True, date(2026, 11, 5)),    # 3 days late
        JiraVersion(101, "A", "a-2", date(2026, 11, 16), True, date(2026, 11, 14)),  # 2 days early
        JiraVersion(102, "B", "b-1", date(2026, 11, 10), True, date(2026, 11, 10)),  # on time
        JiraVersion(103, "B", "b-2", date(2026, 11, 20), False, None),              # overdue at the anchor
        JiraVersion(104, "B", "b-3", date(2026, 11, 26), False, None),              # due today: scheduled
    ]
    return JiraSite(teams=teams, projects=projects, versions=versions, issues=issues, users={},
                    anchor=ANCHOR, seed=0, days=30)


def test_production_bugs_counts_openings_resolutions_and_reopenings_per_team_week_severity() -> None:
    rows = production_bugs(tiny_site())
    assert rows == [
        {"team": "alpha", "week_start": date(2026, 11, 2), "severity": "S2", "opened": 2, "resolved": 1, "reopened": 0},
        {"team": "alpha", "week_start": date(2026, 11, 9), "severity": "S2", "opened": 0, "resolved": 2, "reopened": 1},
        {"team": "beta", "week_start": date(2026, 11, 9), "severity": "S4", "opened": 1, "resolved": 0, "reopened": 0},
    ]


def test_production_bugs_net_flow_equals_the_bugs_still_open(site: JiraSite) -> None:
    rows = production_bugs(site)
    net = sum(row["opened"] - row["resolved"] + row["reopened"] for row in rows)
    still_open = sum(1 for i in site.live_issues() if i.issue_type == "Bug" and i.environment == "production"
                     and i.resolution is None)
    assert net == still_open > 0
    assert sum(row["reopened"] for row in rows) >= 5
    assert {row["team"] for row in rows} == {"payments", "platform", "growth"}
    assert all(row["week_start"].weekday() == 0 for row in rows)


def test_release_delays_measure_actual_minus_planned_and_overdue_against_the_anchor() -> None:
    rows = {row["version"]: row for row in release_delays(tiny_site())}
    assert {name: (row["delay_days"], row["status"], row["late"]) for name, row in rows.items()} == {
        "a-1": (3, "late", True), "a-2": (-2, "early", False), "b-1": (0, "on_time", False),
        "b-2": (6, "overdue", True), "b-3": (None, "scheduled", False),
    }
    assert rows["b-2"]["team"] == "beta" and rows["a-1"]["actual_release_date"] == date(2026, 11, 5)

