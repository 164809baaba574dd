"""JQL from configuration: hostile project keys and field names are refused, literals stay literals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from extractors import jql
from extractors.errors import ExtractError
from extractors.extract import extract_scope
from extractors.http import HttpClient
from extractors.streams.jira import JiraFieldMapping, jira_streams
from simulator.jira_jql import parse, tokenize

HOSTILE_PROJECT_KEYS = [
    'PAY" OR project is not EMPTY OR "x',
    "PAY) OR (1=1",
    "PAY OR project = PLAT",
    'PAY"',
    "PAY\\",
    "pay",
    "P",
    "PAYMENTS_TEAM_X",  # longer than Jira's default 10 characters
    "1PAY",
    "PAY-1",
    "PAY/../../admin",
    "PAY\nORDER BY key",
    "",
    None,
]


@pytest.mark.parametrize("key", HOSTILE_PROJECT_KEYS)
def test_a_hostile_project_key_is_refused_with_an_error_naming_it(key):
    with pytest.raises(ValueError, match="invalid Jira project key") as refused:
        jql.project_issues(key)
    assert repr(key) in str(refused.value)
    with pytest.raises(ValueError):
        jql.project_issue_keys(key)


@pytest.mark.parametrize("key", ["PAY", "PLAT", "GRO", "AB", "A1_B2", "ABCDEFGHIJ"])
def test_valid_project_keys_pass(key):
    assert jql.project_key(key) == key


@pytest.mark.parametrize("name", [
    "summary) OR (1=1", 'customfield_10010" OR "x', "customfield_", "customfield_10010,assignee",
    "cf[10010]", "assignee OR x", "*all", "-summary", "", None,
])
def test_a_hostile_field_name_is_refused(name):
    with pytest.raises(ValueError, match="invalid Jira field id"):
        jql.field_id(name)
    if name is not None:  # None in a mapping means "this site has no such field"
        with pytest.raises(ValueError, match="jira field mapping severity"):
            JiraFieldMapping(severity=name)


def test_known_system_fields_and_custom_fields_pass():
    assert jql.field_id("customfield_10010") == "customfield_10010"
    assert jql.field_id("fixVersions") == "fixVersions"
    assert JiraFieldMapping(severity="customfield_1", environment="environment").mapped() == {
        "severity": "customfield_1", "environment": "environment"}


@pytest.mark.parametrize("text", [
    'PAY" OR project is not EMPTY OR "x', "PAY) OR (1=1", 'a\\" OR "b', "\\", '"', "it's", "ORDER BY key",
])
def test_a_quoted_literal_stays_one_value(text):
    # The simulator's JQL tokenizer (Jira's quoting rules) reads exactly one string token back.
    tokens = tokenize(jql.literal(text))
    assert [(token.kind, token.text) for token in tokens] == [("string", text)]


def test_control_characters_are_refused_in_literals():
    with pytest.raises(ValueError, match="control characters"):
        jql.literal("PAY\nORDER BY key")


def test_issue_query_is_one_project_clause_and_a_utc_minute_bound():
    since = datetime(2026, 11, 25, 23, 59, 59, 999_000, tzinfo=timezone(timedelta(hours=-5)))
    query = jql.project_issues("PAY", updated_since=since)
    assert query == 'project = "PAY" AND updated >= "2026/11/26 04:59" ORDER BY updated ASC, key ASC'
    parsed = parse(query)
    assert [(c.field, c.operator, c.values) for c in parsed.clauses] == [
        ("project", "=", ["PAY"]), ("updated", ">=", ["2026/11/26 04:59"])]
    assert parsed.order_by == [("updated", "ASC"), ("key", "ASC")]
    assert jql.project_issues("PAY") == 'project = "PAY" ORDER BY updated ASC, key ASC'
    newest = jql.project_issues("PAY", updated_since=since, newest_first=True)
    assert newest == 'project = "PAY" AND updated >= "2026/11/26 04:59" ORDER BY updated DESC, key DESC'
    assert parse(newest).order_by == [("updated", "DESC"), ("key", "DESC")]


def test_key_listing_query_orders_by_creation():
    assert jql.project_issue_keys("GRO") == 'project = "GRO" ORDER BY created ASC, key ASC'
    assert jql.project_issue_keys("GRO", datetime(2026, 1, 2, 3, 4, tzinfo=UTC)) == (
        'project = "GRO" AND created >= "2026/01/02 03:04" ORDER BY created ASC, key ASC')


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        jql.date_literal(datetime(2026, 1, 1))


@pytest.mark.parametrize("key", ['PAY" OR project is not EMPTY OR "x', "PAY) OR (1=1"])
def test_a_hostile_scope_fails_before_any_request(key, tmp_path: Path):
    client = HttpClient("http://127.0.0.1:9", "token")  # nothing listens: a request would fail differently
    streams = list(jira_streams("cloud", JiraFieldMapping()).values())
    with pytest.raises(ExtractError, match="invalid Jira project key"):
        extract_scope(client, streams, key, watermarks={}, run_id="r", landing_dir=tmp_path)
    assert client.request_count == 0
    assert not any(path.is_file() for path in tmp_path.rglob("*"))
