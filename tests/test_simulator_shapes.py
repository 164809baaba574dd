"""Payloads conform to api.github.com's OpenAPI description (octokit/openapi).

The description is a large local file; when it is absent the tests skip rather
than pass silently. Location: $KPI_REALDATA_DIR (default <project>/../shared/realdata).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from simulator.generator import generate_org
from simulator.model import Org
from simulator.server import SimulatorServer

PROJECT_ROOT = Path(__file__).resolve().parent.parent
OPENAPI_RELATIVE = "openapi/npm__octokit-openapi-23.0.2/generated/api.github.com.json.gz"


def openapi_path() -> Path:
    realdata = Path(os.environ.get("KPI_REALDATA_DIR", PROJECT_ROOT.parent / "shared" / "realdata"))
    return realdata / OPENAPI_RELATIVE


def openapi_nullable_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` is not JSON Schema; turn it into an explicit null alternative."""
    if isinstance(node, list):
        return [openapi_nullable_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: openapi_nullable_to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    path = openapi_path()
    if not path.exists():
        pytest.skip(f"GitHub OpenAPI description not found at {path} (set KPI_REALDATA_DIR)")
    with gzip.open(path) as handle:
        description = json.load(handle)
    return openapi_nullable_to_json_schema(description["components"]["schemas"])


@pytest.fixture(scope="module")
def org() -> Org:
    return generate_org("small", seed=11, anchor=datetime(2026, 11, 26, tzinfo=UTC))


@pytest.fixture(scope="module")
def fetch(org: Org) -> Iterator:
    with SimulatorServer(org) as server, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {server.token}"

        def get(path: str) -> Any:
            response = http.get(f"{server.github_url}{path}", timeout=10)
            assert response.status_code == 200, response.text
            return response.json()
        yield get


def validate(schemas: dict[str, Any], payload: Any, schema_name: str, as_array: bool) -> None:
    reference = {"$ref": f"#/components/schemas/{schema_name}"}
    schema = {"components": {"schemas": schemas}, **({"type": "array", "items": reference} if as_array
                                                       else {"allOf": [reference]})}
    jsonschema.Draft7Validator(schema).validate(payload)
    # Extra keys are allowed by the schemas, so check separately that we invent none.
    known = set(schemas[schema_name]["properties"])
    for item in payload if as_array else [payload]:
        assert set(item) <= known, f"{schema_name}: unknown keys {set(item) - known}"


def test_pull_request_page_matches_pull_request_simple(schemas: dict, fetch, org: Org) -> None:
    page = fetch("/repos/acme/ledger/pulls?state=all&per_page=100")
    assert len(page) == 100
    # The page must exercise nullable fields both ways.
    assert {pr["merged_at"] is None for pr in page} == {True, False}
    validate(schemas, page, "pull-request-simple", as_array=True)
    open_page = fetch("/repos/acme/ledger/pulls?state=open&per_page=100")
    assert any(pr["draft"] for pr in open_page) and any(pr["requested_reviewers"] for pr in open_page)
    validate(schemas, open_page, "pull-request-simple", as_array=True)


def test_repository_page_matches_minimal_repository(schemas: dict, fetch) -> None:
    validate(schemas, fetch("/orgs/acme/repos?per_page=100"), "minimal-repository", as_array=True)


def test_single_repository_matches_full_repository(schemas: dict, fetch) -> None:
    validate(schemas, fetch("/repos/acme/payments-api"), "full-repository", as_array=False)


def test_deployment_page_matches_deployment(schemas: dict, fetch, org: Org) -> None:
    page = fetch("/repos/acme/web-app/deployments?per_page=100")
    assert {d["environment"] for d in page} >= {"production", "staging"}
    validate(schemas, page, "deployment", as_array=True)


def test_deployment_status_pages_match_deployment_status(schemas: dict, fetch, org: Org) -> None:
    production = [d for d in org.deployments["acme/web-app"] if d.environment == "production"]
    failed = next(d for d in production if d.latest_status().state in ("failure", "error"))
    for deployment in (production[0], failed):
        page = fetch(f"/repos/acme/web-app/deployments/{deployment.id}/statuses")
        assert [status["state"] for status in page][-1] == "queued"
        validate(schemas, page, "deployment-status", as_array=True)


def test_rate_limit_overview_matches_schema(schemas: dict, fetch) -> None:
    validate(schemas, fetch("/rate_limit"), "rate-limit-overview", as_array=False)


def test_nullable_conversion_accepts_null_and_rejects_wrong_types() -> None:
    schema = openapi_nullable_to_json_schema({"type": "string", "nullable": True})
    jsonschema.validate(None, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(3, schema)


def test_pull_request_commits_match_commit(schemas: dict, fetch, org: Org) -> None:
    pr = next(pr for pr in org.pull_requests["acme/ledger"] if len(pr.commits) >= 2 and pr.merged)
    page = fetch(f"/repos/acme/ledger/pulls/{pr.number}/commits")
    assert [item["sha"] for item in page] == [commit.sha for commit in pr.commits]
    assert page[-1]["sha"] == pr.head_sha and page[0]["parents"][0]["sha"] == pr.base_sha
    validate(schemas, page, "commit", as_array=True)


def test_pull_request_reviews_match_pull_request_review(schemas: dict, fetch, org: Org) -> None:
    pr = next(pr for pr in org.pull_requests["acme/ledger"] if len(pr.reviews) >= 2)
    page = fetch(f"/repos/acme/ledger/pulls/{pr.number}/reviews")
    assert [item["state"] for item in page] == [review.state for review in pr.reviews]
    validate(schemas, page, "pull-request-review", as_array=True)


def test_releases_match_release(schemas: dict, fetch, org: Org) -> None:
    page = fetch("/repos/acme/web-app/releases?per_page=100")
    assert page and all(item["target_commitish"] in org.repository("acme/web-app").commit_shas() for item in page)
    validate(schemas, page, "release", as_array=True)


def test_issues_match_issue_with_and_without_pull_request(schemas: dict, fetch) -> None:
    page = fetch("/repos/acme/web-app/issues?state=all&per_page=100&sort=created&direction=asc")
    assert {"pull_request" in item for item in page} == {True, False}
    validate(schemas, page, "issue", as_array=True)
    incidents = fetch("/repos/acme/web-app/issues?state=all&labels=incident&per_page=100")
    assert incidents and all("pull_request" not in item for item in incidents)
    validate(schemas, incidents, "issue", as_array=True)


def test_workflow_runs_jobs_and_artifacts_match_their_schemas(schemas: dict, fetch, org: Org) -> None:
    listing = fetch("/repos/acme/ledger/actions/runs?per_page=50")
    assert listing["total_count"] == len(org.workflow_runs["acme/ledger"]) and len(listing["workflow_runs"]) == 50
    assert {run["event"] for run in listing["workflow_runs"]} == {"push", "pull_request"}
    validate(schemas, listing["workflow_runs"], "workflow-run", as_array=True)
    failed = next(run for run in org.workflow_runs["acme/ledger"] if run.conclusion == "failure")
    jobs = fetch(f"/repos/acme/ledger/actions/runs/{failed.id}/jobs")
    assert [job["conclusion"] for job in jobs["jobs"]] == ["success", "failure", "skipped"]
    validate(schemas, jobs["jobs"], "job", as_array=True)
    artifacts = fetch(f"/repos/acme/ledger/actions/runs/{failed.id}/artifacts")
    assert [a["name"] for a in artifacts["artifacts"]] == ["coverage-report", "code-scanning-sarif", "openapi-spec", "benchmark-results"]
    validate(schemas, artifacts["artifacts"], "artifact", as_array=True)


def test_milestones_match_milestone(schemas: dict, fetch, org: Org) -> None:
    page = fetch("/repos/acme/ledger/milestones?state=all")
    assert {m["state"] for m in page} == {"open", "closed"} and len(page) == len(org.milestones["acme/ledger"])
    assert all(m["closed_at"] for m in page if m["state"] == "closed")
    validate(schemas, page, "milestone", as_array=True)


def test_code_scanning_alerts_match_code_scanning_alert_items(schemas: dict, fetch, org: Org) -> None:
    page = [alert for repo in org.repositories
            for alert in fetch(f"/repos/{repo.full_name}/code-scanning/alerts?per_page=100")]
    assert {a["state"] for a in page} == {"open", "fixed", "dismissed"}
    assert all(a["fixed_at"] for a in page if a["state"] == "fixed")
    validate(schemas, page, "code-scanning-alert-items", as_array=True)


def test_dependabot_alerts_match_dependabot_alert(schemas: dict, fetch, org: Org) -> None:
    page = [alert for repo in org.repositories
            for alert in fetch(f"/repos/{repo.full_name}/dependabot/alerts?per_page=100")]
    assert {a["state"] for a in page} >= {"open", "fixed", "dismissed"}
    assert all(a["dismissed_at"] for a in page if a["state"] == "dismissed")
    validate(schemas, page, "dependabot-alert", as_array=True)
