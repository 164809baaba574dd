"""Jira stream declarations, paginators, record shaping and the field mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Callable

import pytest
import requests

from extractors import jql
from extractors.pagination import PageRequest
from extractors.streams.jira import (
    ISSUE_KEYS, ISSUES, VERSIONS, JiraFieldMapping, NextPageTokenPaginator, StartAtPaginator,
    changelog_is_complete, issue_record, jira_streams, resolve_field_mapping, search, streams_for,
)
from simulator.jira_jql import parse, parse_date
from simulator.simulation import Credentials, build_simulation
from tests.test_jira_sync import ANCHOR, FIELD_NAMES, jira_client

START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def response(body: dict) -> requests.Response:
    answer = requests.Response()
    answer.status_code = 200
    answer._content = json.dumps(body).encode()
    return answer


# -- paginators -----------------------------------------------------------------------


def test_page_token_paginator_follows_the_token_until_is_last():
    paginator, first = NextPageTokenPaginator(), PageRequest("/search/jql", {"jql": "x", "maxResults": 100})
    following = paginator.next_request(first, response({"issues": [{}], "nextPageToken": "t1", "isLast": False}), [{}])
    assert following == PageRequest("/search/jql", {"jql": "x", "maxResults": 100, "nextPageToken": "t1"})
    assert paginator.next_request(following, response({"issues": [{}], "isLast": True}), [{}]) is None


def test_start_at_paginator_advances_by_the_records_received_and_stops_at_total_or_is_last():
    paginator = StartAtPaginator()
    first = PageRequest("/search", {"startAt": 0, "maxResults": 1000})
    capped = paginator.next_request(first, response({"total": 250}), [{}] * 100)  # the server served 100
    assert capped.params["startAt"] == 100
    assert paginator.next_request(capped, response({"total": 200}), [{}] * 100) is None
    assert paginator.next_request(first, response({"isLast": True, "total": 999}), [{}]) is None
    assert paginator.next_request(first, response({"total": 999}), []) is None


# -- windowed offset paging (Server/DC) ------------------------------------------------


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


class InMemorySearch:
    """`/rest/api/2/search` over a list of issues (the simulator's JQL parser), which runs
    `change` after serving page `change_after`: a site edited while it is being paged."""

    def __init__(self, issues: list[dict], change: Callable[[list[dict]], None] | None = None,
                 change_after: int = 1) -> None:
        self.issues = issues
        self.change = change
        self.change_after = change_after
        self.calls = 0

    def get_json(self, path: str, params: dict[str, Any]) -> dict:
        query = parse(params["jql"])
        found = list(self.issues)
        for clause in query.clauses:
            if clause.field in ("updated", "created"):
                bound = parse_date(clause.values[0], clause.field, START)
                found = [i for i in found if datetime.strptime(
                    i["fields"][clause.field], "%Y-%m-%dT%H:%M:%S.%f%z") >= bound]
        for name, direction in reversed(query.order_by):
            found.sort(key=lambda i: int(i["key"].split("-")[1]) if name == "key" else i["fields"][name],
                       reverse=direction == "DESC")
        start, size = int(params.get("startAt", 0)), min(int(params["maxResults"]), 100)
        self.calls += 1
        page = {"startAt": start, "maxResults": size, "total": len(found), "issues": found[start:start + size]}
        if self.change is not None and self.calls == self.change_after:
            self.change(self.issues)
        return json.loads(json.dumps(page))


def _issues(count: int, step: timedelta) -> list[dict]:
    return [{"id": str(1000 + n), "key": f"PAY-{n + 1}",
             "fields": {"updated": _stamp(START + n * step), "created": _stamp(START + n * step)}}
            for n in range(count)]


def _edit_and_delete_behind_the_first_page(issues: list[dict]) -> None:
    issues[5]["fields"]["updated"] = _stamp(START + timedelta(days=30))  # edited: jumps to the end
    del issues[10]  # deleted: everything after it moves up one place


def _offset_paged(client: InMemorySearch, query: str) -> list[str]:
    """Plain startAt paging, for contrast."""
    ids, start = [], 0
    while True:
        page = client.get_json("/rest/api/2/search", {"jql": query, "startAt": start, "maxResults": 100})
        ids += [issue["id"] for issue in page["issues"]]
        start += len(page["issues"])
        if not page["issues"] or start >= page["total"]:
            return ids


def test_plain_offset_paging_loses_issues_when_the_site_changes_meanwhile():
    issues = _issues(250, timedelta(minutes=3))
    client = InMemorySearch(issues, _edit_and_delete_behind_the_first_page)
    read = set(_offset_paged(client, jql.project_issues("PAY")))
    assert {issue["id"] for issue in issues} - read  # the fixture really shifts the pages


def test_windowed_paging_reads_every_issue_when_the_site_changes_meanwhile():
    issues = _issues(250, timedelta(minutes=3))
    client = InMemorySearch(issues, _edit_and_delete_behind_the_first_page)
    stream = jira_streams("server", JiraFieldMapping())[ISSUES]
    read = [issue["id"] for issue in search(client, stream, lambda m: jql.project_issues("PAY", m), None, "updated")]
    assert {issue["id"] for issue in issues} <= set(read)
    assert len(read) <= 250 + 1  # the edited issue may be read twice (the batch keeps the newest)


def test_windowed_paging_pages_by_offset_within_a_crowded_minute():
    issues = _issues(250, timedelta(milliseconds=10))  # a bulk edit: 250 issues in one minute
    client = InMemorySearch(issues)
    stream = jira_streams("server", JiraFieldMapping())[ISSUES]
    read = [issue["id"] for issue in search(client, stream, lambda m: jql.project_issues("PAY", m), None, "updated")]
    assert read == [issue["id"] for issue in issues]  # each once, in order
    assert client.calls == 4  # one first window, then the crowded minute by offset: 0, 100, 200


def test_the_key_listing_pages_in_windows_of_creation():
    issues = _issues(250, timedelta(minutes=1))
    client = InMemorySearch(issues, lambda site: site.pop(3))  # a deletion while listing
    stream = jira_streams("server", JiraFieldMapping())[ISSUE_KEYS]
    listed = [record["id"] for record in stream.reader(client, stream, {"project": "PAY"}, None, timedelta(0))]
    assert set(listed) >= {issue["id"] for issue in issues}


# -- record shaping ---------------------------------------------------------------------


def _history(history_id: str, created: str, *items: dict) -> dict:
    return {"id": history_id, "author": {"accountId": "abc", "emailAddress": "a@example.com"},
            "created": created, "items": list(items)}


RAW_ISSUE = {
    "id": "10008", "key": "PAY-1", "self": "https://jira.example/rest/api/2/issue/10008",
    "fields": {
        "summary": "Fix checkout", "updated": "2026-11-20T10:00:00.000+0000", "created": "2026-11-01T09:00:00.000+0000",
        "status": {"self": "x", "id": "3", "name": "In Progress", "iconUrl": "x",
                   "statusCategory": {"self": "x", "id": 4, "key": "indeterminate", "colorName": "yellow",
                                      "name": "In Progress"}},
        "fixVersions": [{"self": "x", "id": "10100", "name": "1.2", "released": True, "releaseDate": "2026-11-02"}],
        "assignee": {"accountId": "abc", "displayName": "Ann"}, "reporter": {"accountId": "def"},
        "creator": {"accountId": "def"},
        "customfield_10010": {"self": "x", "value": "S2", "id": "10101"},
        "customfield_10011": [{"self": "x", "value": "production", "id": "10200"},
                              {"self": "x", "value": "staging", "id": "10201"}],
        "customfield_10012": {"id": "t-1", "name": "Payments", "avatarUrl": "x"},
        "customfield_99999": "not mapped",
    },
    "changelog": {"startAt": 0, "maxResults": 3, "total": 3, "histories": [  # newest first, as Cloud inlines
        _history("12", "2026-11-20T10:00:00.000+0000",
                 {"field": "status", "fieldtype": "jira", "from": "1", "fromString": "To Do", "to": "3",
                  "toString": "In Progress"},
                 {"field": "assignee", "fieldtype": "jira", "from": None, "to": "abc", "toString": "Ann"}),
        _history("11", "2026-11-10T10:00:00.000-0500", {"field": "labels", "fieldtype": "jira", "toString": "x"}),
        _history("10", "2026-11-10T10:00:00.000+0000", {"field": "assignee", "fieldtype": "jira", "to": "abc"}),
    ]},
}
FIELDS = JiraFieldMapping(severity="customfield_10010", environment="customfield_10011", team="customfield_10012")


def test_issue_record_keeps_ids_and_names_and_lifts_the_cursor_and_custom_fields():
    record = issue_record(RAW_ISSUE, FIELDS)
    assert record["id"] == "10008" and record["key"] == "PAY-1"
    assert record["fields"]["updated"] == "2026-11-20T10:00:00.000+0000"
    assert record["fields"]["status"] == {"id": "3", "name": "In Progress",
                                          "statusCategory": {"key": "indeterminate", "name": "In Progress"}}
    assert record["fields"]["fixVersions"] == [{"id": "10100", "name": "1.2"}]
    assert record["fields"]["customfield_10010"] == {"id": "10101", "value": "S2"}
    assert "customfield_99999" not in record["fields"]
    assert (record["severity"], record["environment"], record["team"]) == ("S2", "production, staging", "Payments")
    assert "self" not in record


def test_issue_record_stores_no_people():
    record = issue_record(RAW_ISSUE, FIELDS)
    text = json.dumps(record)
    assert not {"assignee", "reporter", "creator"} & set(record["fields"])
    assert "accountId" not in text and "emailAddress" not in text and "Ann" not in text
    # a history made only of a person change is kept (it happened), without the person
    assert [len(history["items"]) for history in record["changelog"]["histories"]] == [0, 1, 1]


def test_histories_are_complete_ordered_oldest_first_and_deduplicated():
    record = issue_record(RAW_ISSUE, FIELDS)
    assert [h["id"] for h in record["changelog"]["histories"]] == ["10", "11", "12"]  # 11 is 15:00 UTC
    paged = RAW_ISSUE["changelog"]["histories"] + RAW_ISSUE["changelog"]["histories"][:1]
    assert issue_record(RAW_ISSUE, FIELDS, paged)["changelog"]["total"] == 3


def test_a_truncated_or_missing_inline_changelog_is_not_complete():
    assert changelog_is_complete(RAW_ISSUE)
    assert not changelog_is_complete({**RAW_ISSUE, "changelog": {**RAW_ISSUE["changelog"], "total": 150}})
    assert not changelog_is_complete({"id": "1", "key": "A-1", "fields": {}})


# -- declarations -------------------------------------------------------------------------


@pytest.mark.parametrize("flavour, path", [("cloud", "/rest/api/3/search/jql"), ("server", "/rest/api/2/search")])
def test_streams_request_only_the_fields_they_keep(flavour, path):
    streams = jira_streams(flavour, FIELDS)
    issues = streams[ISSUES]
    assert issues.path == path and issues.scope == "jira_project" and issues.cursor_field == "fields.updated"
    requested = issues.params["fields"].split(",")
    assert {"customfield_10010", "customfield_10011", "customfield_10012", "fixVersions", "updated"} <= set(requested)
    assert not {"assignee", "reporter", "creator", "*all", "*navigable"} & set(requested)
    assert issues.params["expand"] == "changelog"
    assert streams[ISSUE_KEYS].key_listing_of == ISSUES and streams[ISSUE_KEYS].primary_key == issues.primary_key
    assert "overdue" not in streams[VERSIONS].keep_fields


def test_streams_for_adds_the_key_listing_only_when_reconciling():
    assert [s.name for s in streams_for("cloud", FIELDS, reconcile=False)] == [ISSUES, VERSIONS]
    assert [s.name for s in streams_for("server", FIELDS, reconcile=True)] == [ISSUES, VERSIONS, ISSUE_KEYS]
    with pytest.raises(ValueError, match="unknown Jira flavour"):
        jira_streams("datacenter", FIELDS)


# -- field mapping ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulator_jira():
    simulation = build_simulation("small", seed=17, anchor=ANCHOR)
    credentials = Credentials()
    with simulation.server(credentials) as server:
        yield server.url_for("jira"), credentials.jira_token


@pytest.mark.parametrize("flavour", ["cloud", "server"])
def test_field_names_resolve_to_ids_through_the_field_catalogue(simulator_jira, flavour):
    base_url, token = simulator_jira
    client = jira_client(base_url, flavour, token)
    # "Environment" is also a system field: the site's custom field of that name wins.
    assert resolve_field_mapping(client, flavour, FIELD_NAMES) == FIELDS
    assert resolve_field_mapping(client, flavour, {"severity": "customfield_10010"}) == JiraFieldMapping(
        severity="customfield_10010")
    with pytest.raises(ValueError, match="no field named 'Sevrity'"):
        resolve_field_mapping(client, flavour, {"severity": "Sevrity"})
    with pytest.raises(ValueError, match="unknown roles"):
        resolve_field_mapping(client, flavour, {"owner": "Assignee"})


def test_two_custom_fields_with_one_name_are_refused():
    class Catalogue:
        def get_json(self, path: str) -> list[dict]:
            return [{"id": "customfield_1", "name": "Team", "custom": True},
                    {"id": "customfield_2", "name": "team", "custom": True}]

    with pytest.raises(ValueError, match="2 fields .*customfield_1, customfield_2.* named 'Team'"):
        resolve_field_mapping(Catalogue(), "cloud", {"team": "Team"})
