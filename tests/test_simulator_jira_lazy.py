"""The lazy Jira site: materialisation agrees with the compact index, and time travel (`advance`)."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from simulator.generator import generate_org
from simulator.github_api import ApiRequest
from simulator.jira import (
    ENVIRONMENTS,
    NEVER,
    SEVERITIES,
    STATUS_ORDER,
    STATUSES,
    TYPE_NAMES,
    JiraSite,
    from_ms,
    generate_jira,
    production_bugs,
    release_delays,
)
from simulator.jira_api import JiraApi, jira_time
from simulator.model import Team

ANCHOR = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday: the first advanced day is a working day
DAYS = 90


@pytest.fixture(scope="module")
def teams() -> list[Team]:
    small_teams = generate_org("small", seed=7, anchor=ANCHOR).teams
    # Three more teams (cheaper than generating the medium GitHub org just for its team list).
    return small_teams + [Team(name, [f"{first}-{name}" for first in ("ann", "bo", "cy", "di")], [])
                          for name in ("data", "identity", "search")]


@pytest.fixture(scope="module")
def mid(teams: list[Team]) -> JiraSite:
    return generate_jira(teams, seed=11, anchor=ANCHOR, days=365, issues_total=50_000)


def small(teams: list[Team], seed: int = 7) -> JiraSite:
    return generate_jira(teams[:3], seed=seed, anchor=ANCHOR, days=DAYS, issues_total=3000)


def call(api: JiraApi, path: str, **params: str) -> tuple[int, dict]:
    request = ApiRequest("GET", path, list(params.items()), {"authorization": api.auth_header()}, "http://sim")
    response = api.handle(request)
    return response.status, json.loads(response.body)


def search_all(api: JiraApi, jql: str) -> list[dict]:
    issues, token = [], None
    while True:
        status, page = call(api, "/rest/api/3/search/jql", jql=jql, maxResults="100", fields="updated",
                            **({"nextPageToken": token} if token else {}))
        assert status == 200, page
        issues += page["issues"]
        if page["isLast"]:
            return issues
        token = page["nextPageToken"]


def as_row(site: JiraSite, position: int) -> tuple:
    """The index row of `position`, decoded the way a materialised issue spells it."""
    index, projects = site.index, site.projects
    deleted = int(index.deleted[position])
    return (int(index.ids[position]), f"{projects[index.project[position]].key}-{index.number[position]}",
            TYPE_NAMES[index.itype[position]], STATUS_ORDER[index.status[position]].name,
            from_ms(index.created[position]), from_ms(index.updated[position]),
            None if deleted == NEVER else from_ms(deleted), int(index.hist_len[position]),
            SEVERITIES[index.severity[position] - 1] if index.severity[position] else None,
            ENVIRONMENTS[index.environment[position] - 1] if index.environment[position] else None)


def issue_row(issue) -> tuple:
    return (issue.id, issue.key, issue.issue_type, issue.status, issue.created, issue.updated, issue.deleted_at,
            len(issue.histories), issue.severity, issue.environment)


# -- lazy materialisation at 50,000 issues --------------------------------------------------


def test_the_index_is_compact_and_sorted_by_id(mid: JiraSite) -> None:
    index = mid.index
    assert len(index) == len(mid.issues) == 50_000
    assert np.all(np.diff(index.ids) > 0) and np.all(np.diff(index.created) >= 0)
    assert mid.stats()["index_bytes"] < 200 * len(index)  # bytes per issue, histories included
    assert np.all(index.updated >= index.created) and np.all(index.updated < mid.anchor_ms)
    deleted = index.deleted != NEVER
    assert deleted.sum() > 50 and np.all(index.deleted[deleted] > index.updated[deleted])
    assert (index.prev_number > 0).sum() > 100  # moved issues


def test_materialising_agrees_with_the_index_and_is_deterministic(mid: JiraSite, teams: list[Team]) -> None:
    again = generate_jira(teams, seed=11, anchor=ANCHOR, days=365, issues_total=50_000)
    positions = random.Random(5).sample(range(len(mid.issues)), 1500)
    positions += np.flatnonzero(mid.index.prev_number > 0)[:50].tolist()
    positions += np.flatnonzero(mid.index.deleted != NEVER)[:50].tolist()
    for position in positions:
        issue = mid.issue_at(position)
        assert issue_row(issue) == as_row(mid, position)
        assert dataclasses.asdict(issue) == dataclasses.asdict(again.issue_at(position))
        assert mid._engine.materialise(mid, position) == issue  # a fresh materialisation, not the cache
        assert mid.resolve_key(issue.key) is issue and mid.issues_by_id[issue.id] is issue
        for old_key in issue.previous_keys:
            assert mid.resolve_key(old_key).key == issue.key


def test_history_ids_are_unique_across_the_site_and_grow_with_time(mid: JiraSite) -> None:
    engine = mid._engine
    assert len(np.unique(engine.hist_ids)) == len(engine.hist_ids) == int(mid.index.hist_len.sum())
    sample = [mid.issue_at(p) for p in random.Random(3).sample(range(len(mid.issues)), 800)]
    histories = sorted((h.created, issue.id, h.id) for issue in sample for h in issue.histories)
    ids = [history_id for _, _, history_id in histories]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_keys_are_dense_per_project_and_every_key_resolves_once(mid: JiraSite) -> None:
    index = mid.index
    for position, project in enumerate(mid.projects):
        current = index.number[index.project == position]
        former = index.prev_number[(index.origin == position) & (index.prev_number > 0)]
        numbers = np.sort(np.concatenate([current, former]))
        assert np.array_equal(numbers, np.arange(1, len(numbers) + 1)), project.key


def test_updated_search_bisects_the_sorted_index_and_matches_brute_force(mid: JiraSite) -> None:
    api = JiraApi(mid, token="t")
    since = mid.anchor - timedelta(days=3, hours=5)
    jql = f'updated >= "{since.strftime("%Y-%m-%d %H:%M")}" AND issuetype != Incident ORDER BY updated DESC'
    found = [int(issue["id"]) for issue in search_all(api, jql)]
    index, at = mid.index, mid.anchor_ms
    rows = [(-int(index.updated[p]), int(index.ids[p])) for p in range(len(index))
            if index.updated[p] >= since.timestamp() * 1000 and index.itype[p] != 3 and index.deleted[p] > at]
    assert found == [issue_id for _, issue_id in sorted(rows)] and len(found) > 300


# -- time travel ---------------------------------------------------------------------------


def fingerprint(site: JiraSite) -> list[tuple]:
    return ([(i.id, i.key, i.status, i.updated, i.assignee, tuple(i.fix_version_ids), i.deleted_at,
              tuple(i.previous_keys), tuple((h.id, h.created, len(h.items)) for h in i.histories))
             for i in site.issues]
            + [(v.id, v.name, v.released, v.actual_release_date, v.archived) for v in site.versions])


def test_same_advances_from_the_same_seed_give_identical_sites(teams: list[Team]) -> None:
    stepwise = small(teams).advance(1).advance(1)
    at_once = small(teams).advance(2)
    assert fingerprint(stepwise) == fingerprint(at_once)
    assert stepwise.anchor == at_once.anchor == ANCHOR + timedelta(days=2)
    assert fingerprint(small(teams, seed=8).advance(2)) != fingerprint(at_once)


def test_advance_adds_new_and_changed_issues_found_by_an_incremental_search(teams: list[Team]) -> None:
    site = small(teams)
    api = JiraApi(site, token="t")
    before = {issue.id: issue for issue in site.issues}
    old_anchor, generation = site.anchor, site.generation
    overlap = old_anchor - timedelta(days=3)  # Friday: the weekend before the anchor is quiet
    jql = f'updated >= "{overlap.strftime("%Y-%m-%d %H:%M")}" ORDER BY updated ASC'
    status, first = call(api, "/rest/api/3/search/jql", jql=jql, maxResults="5")
    assert status == 200
    already = {int(issue["id"]) for issue in search_all(api, jql)}
    site.advance(1)
    assert site.anchor == old_anchor + timedelta(days=1) and site.generation > generation
    after = {issue.id: issue for issue in site.issues}
    new = set(after) - set(before)
    changed = {issue_id for issue_id in before
               if (before[issue_id].updated, before[issue_id].status, len(before[issue_id].histories))
               != (after[issue_id].updated, after[issue_id].status, len(after[issue_id].histories))}
    deleted_today = {i for i in before if before[i].deleted_at is None and after[i].deleted_at is not None}
    assert len(new) > 10 and len(changed) > 20
    found = {int(issue["id"]) for issue in search_all(api, jql)}
    visible = {issue_id for issue_id, issue in after.items() if issue.is_visible(site.anchor)}
    assert found == (new | changed | already) & visible
    assert found == {i for i in visible if after[i].updated >= overlap}  # the model agrees
    assert not deleted_today & found
    # What changed only grew: old histories are untouched, new ones are later and have larger ids.
    last_old_id = max(h.id for issue in before.values() for h in issue.histories)
    for issue_id in changed - deleted_today:
        old, fresh = before[issue_id], after[issue_id]
        assert fresh.histories[:len(old.histories)] == old.histories
        assert all(old_anchor <= h.created < site.anchor and h.id > last_old_id
                   for h in fresh.histories[len(old.histories):])
        assert fresh.updated == fresh.histories[-1].created
    for issue_id in new:
        issue = after[issue_id]
        assert old_anchor <= issue.created <= issue.updated < site.anchor
        assert issue_id > max(before) and site.resolve_key(issue.key) is issue
    # A page token from before the advance is refused: the snapshot changed.
    status, body = call(api, "/rest/api/3/search/jql", jql=jql, maxResults="5", nextPageToken=first["nextPageToken"])
    assert status == 400 and "invalid or expired" in body["errorMessages"][0]


def test_invariants_hold_after_a_week_of_advances(teams: list[Team]) -> None:
    site = small(teams).advance(7)
    ids = [h.id for issue in site.issues for h in issue.histories]
    assert len(ids) == len(set(ids))
    for issue in site.issues:
        transitions = issue.status_transitions()
        assert issue.status == (transitions[-1][2] if transitions else "To Do"), issue.key
        assert all(source == previous for (_, _, previous), (_, source, _) in zip(transitions, transitions[1:]))
        assert issue.created <= issue.updated < site.anchor
        assert issue.updated == (issue.histories[-1].created if issue.histories else issue.created)
        assert [h.id for h in issue.histories] == sorted(h.id for h in issue.histories)
        if STATUSES[issue.status].category == "done":
            assert issue.resolution_date == [w for w, _, t in transitions if STATUSES[t].category == "done"][-1]
        else:
            assert issue.resolution is None and issue.resolution_date is None
        if issue.deleted_at is not None:
            assert issue.updated < issue.deleted_at < site.anchor
        for version_id in issue.fix_version_ids:
            assert site.versions_by_id[version_id].project_key == issue.project_key
    keys = [i.key for i in site.issues] + [k for i in site.issues for k in i.previous_keys]
    assert len(keys) == len(set(keys))


def test_truth_recomputes_after_advance(teams: list[Team]) -> None:
    site = small(teams)
    delays_before = {row["version_id"]: row for row in release_delays(site)}
    site.advance(10)
    today = site.anchor.date()
    rows = production_bugs(site)
    net = sum(row["opened"] - row["resolved"] + row["reopened"] for row in rows)
    still_open = sum(1 for issue in site.live_issues() if issue.issue_type == "Bug"
                     and issue.environment == "production" and issue.resolution is None)
    assert net == still_open > 0
    assert max(row["week_start"] for row in rows) == today - timedelta(days=today.weekday())
    delays = {row["version_id"]: row for row in release_delays(site)}
    shipped = [v for v in site.versions if v.actual_release_date and v.actual_release_date >= ANCHOR.date()]
    assert shipped, "some versions ship during the advanced days"
    for version in shipped:
        assert delays[version.id]["released"] and delays[version.id]["actual_release_date"] < today
        if version.id in delays_before:
            assert delays_before[version.id]["released"] is False
    assert len(delays) > len(delays_before)  # the release train extends as the clock moves
    assert all(v.planned_release_date <= today + timedelta(days=35) for v in site.versions)


def test_advanced_issue_is_served_with_its_new_histories(teams: list[Team]) -> None:
    site = small(teams)
    api = JiraApi(site, token="t")
    site.advance(1)
    issue = max((i for i in site.live_issues() if i.histories and i.histories[-1].created >= ANCHOR),
                key=lambda i: len(i.histories))
    status, body = call(api, f"/rest/api/3/issue/{issue.key}", expand="changelog", fields="updated,status")
    assert status == 200
    assert body["fields"]["updated"] == jira_time(issue.updated)
    assert [h["id"] for h in body["changelog"]["histories"]] == [str(h.id) for h in issue.histories]


def test_hand_built_sites_cannot_advance() -> None:
    site = JiraSite(teams=[], projects=[], versions=[], issues=[], users={}, anchor=ANCHOR, seed=0, days=1)
    with pytest.raises(ValueError, match="only generated sites"):
        site.advance(1)


def test_select_filters_on_the_index_like_live_issues(teams: list[Team]) -> None:
    site = small(teams)
    expected = [i.id for i in site.live_issues() if i.issue_type in ("Bug", "Incident")]
    assert [i.id for i in site.select(["Bug", "Incident"])] == expected
    assert [i.id for i in site.select(["Bug"], "production")] == [
        i.id for i in site.live_issues() if i.issue_type == "Bug" and i.environment == "production"]
