"""Jira payloads against the real world: recorded Jira Cloud issues and Atlassian's OpenAPI.

Real data lives in $KPI_REALDATA_DIR (default <project>/../shared/realdata); each
test skips with the path when it is absent.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from simulator.generator import generate_org
from simulator.github_api import ApiRequest
from simulator.jira import JiraSite, generate_jira
from simulator.jira_api import JiraApi
from tests.conftest import realdata_dir

ANCHOR = datetime(2026, 11, 26, tzinfo=UTC)
JIRAMETRICS = "jira/mikebowler__jirametrics/spec/testdata"
OPENAPI = "openapi/salto-io__jira-swaggers/platform-swagger.v3.json"
# Top-level issue fields we claim to serve like Jira does.
CLAIMED_FIELDS = ("summary", "issuetype", "status", "priority", "labels", "created", "updated", "resolutiondate",
                  "fixVersions", "project", "assignee", "reporter", "resolution")
# The JSON type each claimed field has when it is set (a null in a recording says nothing about it).
JSON_TYPES = {dict: "object", list: "array", str: "string", int: "integer", float: "number", bool: "boolean",
              type(None): "null"}


def realdata_file(relative: str) -> Path:
    path = realdata_dir() / relative
    if not path.exists():
        pytest.skip(f"real recorded data not found at {path} (set KPI_REALDATA_DIR to its location)")
    return path


@pytest.fixture(scope="module")
def site() -> JiraSite:
    teams = generate_org("small", seed=7, anchor=ANCHOR).teams
    return generate_jira(teams, seed=7, anchor=ANCHOR, days=90, issues_total=600)


@pytest.fixture(scope="module")
def api(site: JiraSite) -> JiraApi:
    return JiraApi(site, token="t")


def call(api: JiraApi, path: str, **params: str) -> Any:
    request = ApiRequest("GET", path, list(params.items()), {"authorization": api.auth_header()},
                         "http://127.0.0.1:1")
    response = api.handle(request)
    assert response.status == 200, response.body
    return json.loads(response.body)


def recorded_issues() -> list[dict]:
    folder = realdata_file(JIRAMETRICS)
    issues = [json.loads(path.read_text()) for path in sorted(folder.glob("SP-*.json"))]
    assert issues, f"no SP-*.json in {folder}"
    return issues


@cache
def openapi_components() -> dict:
    """Atlassian's components, turned into JSON Schema: OpenAPI 3.0 `nullable` becomes a null type.

    One relaxation beyond `nullable`: ChangeDetails.from/to/fromString/toString are
    declared plain strings, but real Jira sends null there (e.g. jirametrics SP-1.json,
    a Flagged item with "from": null); the control test below shows the recordings
    validate under these rules.
    """
    components = copy.deepcopy(json.loads(realdata_file(OPENAPI).read_text())["components"])

    def relax(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("nullable") and "type" in node:
                node["type"] = [node["type"], "null"]
            for child in node.values():
                relax(child)
        elif isinstance(node, list):
            for child in node:
                relax(child)
    relax(components)
    for name in ("from", "to", "fromString", "toString"):
        components["schemas"]["ChangeDetails"]["properties"][name]["type"] = ["string", "null"]
    return components


def validator(schema: dict) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator({**schema, "components": openapi_components()})


def errors(schema: dict, payload: Any) -> list[str]:
    return [f"{list(error.absolute_path)}: {error.message[:200]}" for error in validator(schema).iter_errors(payload)]


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


# -- field-set conformance with recorded issues ----------------------------------------


def test_claimed_fields_exist_with_the_recorded_json_types(api: JiraApi, site: JiraSite) -> None:
    recorded = recorded_issues()
    ours = call(api, "/rest/api/2/search", jql="ORDER BY key ASC", maxResults="100", fields="*all",
                expand="changelog")["issues"]
    for name in CLAIMED_FIELDS:
        recorded_types = {JSON_TYPES[type(issue["fields"][name])] for issue in recorded}
        our_types = {JSON_TYPES[type(issue["fields"][name])] for issue in ours}
        assert all(name in issue["fields"] for issue in ours), name
        set_types = recorded_types - {"null"}
        if set_types:
            assert our_types - {"null"} == set_types, (name, recorded_types, our_types)
        if "null" in our_types:  # we only send null where Jira is seen to (or documents it may)
            assert name in ("assignee", "resolution", "resolutiondate"), name
    # Recordings never set assignee; ours does, as the same object shape as reporter.
    assignees = [issue["fields"]["assignee"] for issue in ours if issue["fields"]["assignee"]]
    reporter_keys = set(recorded[0]["fields"]["reporter"]) - {"locale"}
    assert assignees and all(set(assignee) >= reporter_keys - {"name", "key"} for assignee in assignees)


def test_nested_objects_carry_the_recorded_keys(api: JiraApi) -> None:
    recorded = next(issue for issue in recorded_issues() if issue["fields"]["resolution"])
    ours = next(issue for issue in call(api, "/rest/api/2/search", jql="status = Done", maxResults="5",
                                        fields="*all", expand="changelog")["issues"])
    for name in ("issuetype", "status", "priority", "resolution", "project"):
        missing = set(recorded["fields"][name]) - set(ours["fields"][name])
        assert not missing, (name, missing)
    assert set(recorded["fields"]["status"]["statusCategory"]) <= set(ours["fields"]["status"]["statusCategory"])
    assert set(recorded["changelog"]) == set(ours["changelog"])
    recorded_history = recorded["changelog"]["histories"][0]
    assert set(recorded_history) == set(ours["changelog"]["histories"][0])
    status_item = next(item for history in recorded["changelog"]["histories"] for item in history["items"]
                       if item["field"] == "status")
    our_item = next(item for history in ours["changelog"]["histories"] for item in history["items"]
                    if item["field"] == "status")
    assert set(status_item) == set(our_item)
    for timestamp in (recorded["fields"]["created"], ours["fields"]["created"], ours["fields"]["resolutiondate"]):
        assert datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%f%z")
        assert len(timestamp) == len(recorded["fields"]["created"])


# -- OpenAPI schema conformance ----------------------------------------------------------


def test_recorded_issues_validate_against_the_relaxed_issue_bean_control() -> None:
    for issue in recorded_issues():
        assert errors(ref("IssueBean"), issue) == [], issue["key"]


def test_server_search_response_validates_against_search_results(api: JiraApi) -> None:
    body = call(api, "/rest/api/2/search", jql="project = PAY ORDER BY updated DESC", maxResults="50",
                fields="*all", expand="changelog")
    assert body["issues"] and body["total"] > 50
    assert errors(ref("SearchResults"), body) == []


def test_cloud_enhanced_search_issues_validate_as_issue_beans(api: JiraApi) -> None:
    # The 2022 spec predates /search/jql; its issues are IssueBeans, the envelope is checked by hand.
    body = call(api, "/rest/api/3/search/jql", jql="project = PLAT", maxResults="20", fields="*all",
                expand="changelog")
    assert set(body) == {"issues", "nextPageToken", "isLast"} and body["isLast"] is False
    assert errors({"type": "array", "items": ref("IssueBean")}, body["issues"]) == []


def test_changelog_versions_projects_and_fields_validate(api: JiraApi, site: JiraSite) -> None:
    chatty = max(site.live_issues(), key=lambda issue: len(issue.histories))
    checks = [
        (ref("PageBeanChangelog"), call(api, f"/rest/api/3/issue/{chatty.key}/changelog", maxResults="30")),
        ({"type": "array", "items": ref("Version")}, call(api, "/rest/api/3/project/PAY/versions")),
        (ref("PageBeanVersion"), call(api, "/rest/api/3/project/PAY/version", maxResults="5")),
        (ref("PageBeanProject"), call(api, "/rest/api/3/project/search")),
        ({"type": "array", "items": ref("FieldDetails")}, call(api, "/rest/api/3/field")),
        (ref("IssueBean"), call(api, f"/rest/api/3/issue/{chatty.key}", expand="changelog")),
    ]
    for schema, payload in checks:
        assert errors(schema, payload) == [], schema
