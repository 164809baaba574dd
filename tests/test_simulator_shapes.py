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
