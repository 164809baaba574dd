"""API documentation coverage: every real OpenAPI description in the corpus (GitHub's
1,223 operations, Jira's, the OAI examples), the simulator's specs, and the rule's edges."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest
import yaml

from extractors.reports import (
    InvalidReport, OpenApiReport, ReportContext, documentation_coverage, parse_openapi, parse_report,
)
from simulator import ci_reports
from tests.conftest import realdata_dir

CONTEXT = ReportContext(repository="acme/ledger", run_id=7, source="github")
GITHUB_SPEC = "npm__octokit-openapi-23.0.2/generated/api.github.com.json.gz"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def realdata_specs() -> list[str]:
    root = realdata_dir() / "openapi"
    if not root.is_dir():
        return ["<realdata absent>"]  # the `realdata` fixture skips with the reason
    return sorted(str(path.relative_to(root)) for path in root.rglob("*")
                  if path.name.endswith((".yaml", ".yml", ".json", ".json.gz"))
                  and path.name != "package.json")  # the npm package's manifest, not a spec


def load_independently(path: Path) -> dict:
    if path.name.endswith(".gz"):
        return json.loads(gzip.decompress(path.read_bytes()))
    if path.suffix in (".yaml", ".yml"):
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("relative", realdata_specs())
def test_every_real_spec_gets_a_documentation_coverage_figure(realdata: Path, relative: str) -> None:
    path = realdata / "openapi" / relative
    report = parse_report(path, filename=relative, context=CONTEXT)
    assert isinstance(report, OpenApiReport)
    document = load_independently(path)
    expected_operations = sum(1 for item in document["paths"].values() for method in METHODS if method in item)
    assert len(report.operations) == expected_operations > 0
    assert report.ratio == report.documented / expected_operations
    for operation in report.operations:
        assert operation.documented == (operation.reasons == ())
        assert operation.method.lower() in document["paths"][operation.path]
    assert report.problems == ()


def test_github_rest_description_has_1223_operations_with_reasons(realdata: Path) -> None:
    report = parse_openapi(realdata / "openapi" / GITHUB_SPEC)
    assert (report.format, report.spec_version, len(report.operations)) == ("openapi-3", "3.0.3", 1223)
    by_id = {operation.operation_id: operation for operation in report.operations}
    assert len(by_id) == 1223
    # Parameters are $refs to components/parameters, which carry the descriptions.
    assert by_id["repos/get"].documented and by_id["repos/get"].reasons == ()
    undocumented = [operation for operation in report.operations if not operation.documented]
    assert undocumented and all(operation.reasons for operation in undocumented)
    assert any(reason.startswith("parameter '") and reason.endswith("has no description")
               for operation in undocumented for reason in operation.reasons)


def test_oai_petstore_yaml_reasons(realdata: Path) -> None:
    report = parse_report(realdata / "openapi/OAI__OpenAPI-Specification/_archive_/schemas/v3.0/pass/petstore.yaml",
                          filename="petstore.yaml", context=CONTEXT)
    assert {(operation.method, operation.path): operation.reasons for operation in report.operations} == {
        ("GET", "/pets"): (), ("POST", "/pets"): ("response '201' has no schema",), ("GET", "/pets/{petId}"): ()}
    assert report.ratio == pytest.approx(2 / 3)


def test_simulator_specs_parse_to_exactly_the_facts_they_encode() -> None:
    """The simulator documents an operation under the README's definition; parsing must find
    exactly its documented operations, and name a reason for every other one."""
    for seed in range(6):
        document, facts = ci_reports.openapi_spec(random.Random(seed), "ledger", 24, 0.7)
        report = parse_report(document, filename="openapi.json", context=CONTEXT)
        assert len(report.operations) == facts["operations"]
        assert sorted(o.operation_id for o in report.operations if o.documented) == facts["documented_ids"]
        assert report.documented == facts["documented_operations"]
        assert report.ratio == pytest.approx(facts["documentation_coverage"], abs=1e-12)
        assert all("no summary or description" in o.reasons for o in report.operations if not o.documented)


SCHEMA = {"type": "object"}


def oas3(paths: dict, **components: dict) -> dict:
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths, "components": components}


def reasons(document: dict) -> dict[tuple[str, str], tuple[str, ...]]:
    return {(operation.method, operation.path): operation.reasons
            for operation in documentation_coverage(document).operations}


def test_schema_rule_exempts_204_205_3xx_and_head_and_accepts_2xx_wildcards() -> None:
    no_schema = {"description": "ok"}
    document = oas3({"/things": {
        "head": {"summary": "probe", "responses": {"200": no_schema}},
        "delete": {"summary": "drop", "responses": {"204": no_schema, "302": no_schema}},
        "put": {"summary": "reset", "responses": {"205": no_schema}},
        "get": {"summary": "list", "responses": {"2XX": no_schema, "default": no_schema}},
        "post": {"summary": "add", "responses": {"201": {"description": "made", "content": {
            "text/plain": {}, "application/json": {"schema": SCHEMA}}}}},
    }})
    assert reasons(document) == {("HEAD", "/things"): (), ("DELETE", "/things"): (), ("PUT", "/things"): (),
                                 ("GET", "/things"): ("response '2XX' has no schema",), ("POST", "/things"): ()}


def test_parameters_merge_path_and_operation_levels_through_refs() -> None:
    document = oas3(
        {"/repos/{owner}": {
            "parameters": [{"$ref": "#/components/parameters/owner"}, {"name": "page", "in": "query"}],
            "get": {"description": "Get it", "parameters": [{"name": "page", "in": "query", "description": "Page"}],
                    "responses": {"200": {"$ref": "#/components/responses/found"}}},
            "patch": {"description": "Edit it", "responses": {"200": {"$ref": "#/components/responses/found"}}},
        }},
        parameters={"owner": {"name": "owner", "in": "path", "required": True}},
        responses={"found": {"description": "Found", "content": {"application/json": {"schema": SCHEMA}}}},
    )
    assert reasons(document) == {
        ("GET", "/repos/{owner}"): ("parameter 'owner' (path) has no description",),
        ("PATCH", "/repos/{owner}"): ("parameter 'owner' (path) has no description",
                                      "parameter 'page' (query) has no description"),
    }


def test_external_missing_and_circular_refs_are_unresolved_reasons() -> None:
    document = oas3(
        {"/a": {"get": {"summary": "a", "parameters": [{"$ref": "common.yaml#/parameters/owner"}],
                        "responses": {"200": {"$ref": "#/components/responses/loop"}}}},
         "/b": {"get": {"summary": "b", "responses": {"200": {"description": "ok", "content": {
             "application/json": {"schema": {"$ref": "#/components/schemas/Missing"}}}}}}}},
        responses={"loop": {"$ref": "#/components/responses/again"}, "again": {"$ref": "#/components/responses/loop"}},
    )
    assert reasons(document) == {
        ("GET", "/a"): ("unresolved $ref 'common.yaml#/parameters/owner' (external references are not followed) "
                        "in parameters",
                        "unresolved $ref '#/components/responses/loop' (circular: #/components/responses/loop -> "
                        "#/components/responses/again -> #/components/responses/loop) in response '200'"),
        ("GET", "/b"): ("unresolved $ref '#/components/schemas/Missing' (no such location) in the schema of "
                        "response '200'", "response '200' has no schema"),
    }


def test_swagger_2_yaml_uses_body_schemas_and_global_parameters() -> None:
    spec = b"""
swagger: 2.0
info: {title: pets, version: "1"}
parameters:
  petId: {name: petId, in: path, required: true, type: string, description: The pet}
paths:
  /pets/{petId}:
    get:
      summary: Get a pet
      parameters: [{$ref: "#/parameters/petId"}]
      responses:
        200: {description: The pet, schema: {type: object}}
        404: {description: ""}
    put:
      description: Replace a pet
      parameters: [{$ref: "#/parameters/petId"}, {name: body, in: body, schema: {type: object}}]
      responses:
        200: {description: Replaced}
"""
    report = parse_report(spec, filename="swagger.yaml", context=CONTEXT)
    assert (report.format, report.spec_version) == ("openapi-2", "2.0")
    assert {(operation.method, operation.reasons) for operation in report.operations} == {
        ("GET", ("response '404' has no description",)),
        ("PUT", ("parameter 'body' (body) has no description", "response '200' has no schema")),
    }


def test_openapi_3_1_reference_descriptions_override_their_targets() -> None:
    document = oas3({"/x": {"get": {"summary": "x", "parameters": [
        {"$ref": "#/components/parameters/id", "description": "Which x"}],
        "responses": {"204": {"description": "done"}}}}}, parameters={"id": {"name": "id", "in": "query"}})
    assert reasons(document) == {("GET", "/x"): ("parameter 'id' (query) has no description",)}
    document["openapi"] = "3.1.0"
    assert reasons(document) == {("GET", "/x"): ()}


def test_an_empty_description_has_no_ratio_and_unknown_versions_are_refused() -> None:
    assert documentation_coverage(oas3({})).ratio is None
    with pytest.raises(InvalidReport, match="OpenAPI version '4.0' is not supported"):
        documentation_coverage({"openapi": "4.0", "paths": {}})
