"""Every simulator fault against every source, through the pipeline's own steps.

One cell per source (github, jira, jenkins, gitlab) and fault: 5xx bursts, connection
resets, truncated bodies, 403 and 429 with Retry-After, quota exhaustion, a token revoked
mid-run, records inserted and updated while a listing is paged. Each cell configures one
source on a tiny slice of the simulated small org (one repository, one Jira project, one
Jenkins job, one GitLab project; Jira, Jenkins and GitLab generated over DAYS days),
runs `extract_listings` -> `plan_scopes` -> `extract_source_scope` for every planned
scope -> the loader `load_raw` merges with (WarehouseLoader.load) into a DuckDB warehouse, and compares the raw layer with the
generator's model: the same record keys and the same facts in each payload, and no key
twice in any raw table. A fatal fault (the revoked token) must fail the run naming the
connection and the scope, and the rerun after the fix must then be exact; a quota beyond
the wait budget defers the scope and the next run completes it.

Not repeated here (and not needed for the raw layer's equality): the Great Expectations
batch audit (tests/test_quarantine.py), Jira Server/DC's flavour of the 429 and paging
faults (tests/test_jira_faults.py), the deeper per-source variants (a scope that keeps
failing, a deleted or renamed repository, a primary limit waited out within the budget:
tests/test_github_extraction_faults.py, tests/test_jenkins_extraction.py). A reader's view
while a new published version is swapped in is pinned by
tests/test_publish.py::test_a_reader_keeps_its_view_while_a_new_version_is_swapped_in;
a load killed with SIGKILL mid-transaction by tests/test_kill_recovery.py.

The cells (test [source-fault] ids):
- test_a_transient_fault_is_retried_and_the_warehouse_equals_the_model: 5xx-burst,
  connection-reset, truncated-body, retry-after-403, retry-after-429 (the listing's second
  page twice, and two per-parent reads);
- test_a_quota_exhausted_beyond_the_wait_defers_the_scope_and_the_next_run_completes_it:
  GitHub's primary limit (403, X-RateLimit-Remaining: 0); GitLab's quota (429 with
  RateLimit-* and Retry-After); Jira Cloud's limit (429 with Retry-After); Jenkins skipped,
  it has no quota;
- test_a_token_revoked_mid_run_fails_naming_connection_and_scope_and_a_rerun_is_exact;
- test_records_inserted_and_updated_while_a_listing_is_paged_land_once_in_their_newest_version:
  GitHub's PRs churned, one simulated day passing for the others, after the listing's first page.

No cell really waits: every client sleeps through a recorder, so a Retry-After is
asserted as the wait the client asked for, not timed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from extractors.auth import basic_credentials
from extractors.extract import BatchManifest, parse_cursor
from extractors.http import HttpClient
from extractors.loader import LoadReport, WarehouseLoader
from extractors.streams.github import GITHUB_STREAMS
from kpi import pipeline
from kpi.config import PipelineConfig, load_config
from kpi.sources import source_named
from simulator.generator import generate_org
from simulator.gitlab import generate_gitlab
from simulator.jenkins import generate_jenkins
from simulator.jira import generate_jira
from simulator.simulation import JENKINS_USER, JIRA_EMAIL, Credentials, Simulation
from tests.support.github_sync import model_keys, model_versions
from tests.test_gitlab_extraction import assert_equal_records, loaded_records
from tests.test_gitlab_extraction import model_records as gitlab_model
from tests.test_jenkins_extraction import assert_coverage_equal, loaded_builds, model_builds, model_coverage
from tests.test_jira_sync import FIELD_NAMES, model_issues, model_versions as jira_model_versions
from tests.test_jira_sync import warehouse_issues, warehouse_versions

ANCHOR = datetime(2026, 11, 23, tzinfo=timezone.utc)
SEED = 7
DAYS = 40  # long enough for a second page of every paged listing (100 a page)
REPOSITORY = "acme/deploy-tools"  # GitHub: the smallest repository of the small org
JENKINS_REPOSITORY = "acme/ledger"  # one Jenkins job, payments/ledger, ~115 builds
GITLAB_REPOSITORY = "acme/mobile-app"  # one GitLab project, ~120 pipelines
JIRA_PROJECT, JIRA_ISSUES = "PAY", 400
MAX_WAIT = 30  # seconds a client waits at a rate limit before it defers the scope

SOURCES = ("github", "jira", "jenkins", "gitlab")


# -- one source on a tiny slice of the simulated org ---------------------------------------


def tiny_simulation() -> Simulation:
    org = generate_org("small", seed=SEED, anchor=ANCHOR)
    repositories = {repo.full_name: repo for repo in org.repositories}
    return Simulation(
        org=org,
        jira=generate_jira(org.teams, org.seed, org.anchor, DAYS, JIRA_ISSUES),
        jenkins=generate_jenkins([repositories[JENKINS_REPOSITORY]], org.seed, org.anchor, DAYS),
        gitlab=generate_gitlab([repositories[GITLAB_REPOSITORY]], org.seed, org.anchor, DAYS),
    )


@dataclass
class SourceCase:
    """How a cell reaches one source: its settings, where faults go, what the model says."""

    name: str
    settings: Callable[[str], dict[str, Any]]  # simulator base URL -> the source's section
    listing: str  # a paged top-level listing (fault path, full path on the simulator)
    detail: str  # a request made once per parent record
    detail_after: int  # requests of `detail` served before its faults fire
    # The warehouse's records and the model's, as comparable facts: table -> key -> facts.
    compare: Callable[[Path, Simulation], None]
    mutate: Callable[[Simulation, Any], Callable[[], object]]  # a change to the paged listing
    paged: Callable[[Simulation], dict[str, Any]]  # the model of the paged listing: key -> version
    quota: dict[str, Any] | None  # the rule of the source's quota beyond the wait budget
    quota_missing: str = ""


def _github_settings(base: str) -> dict[str, Any]:
    # Details read one request per parent (reviews, PR commits, jobs, artifacts) are bounded to
    # two days of activity, and not compared: test_github_extraction compares them in full.
    return {"github": {"base_url": f"{base}/github", "orgs": [], "repositories": [REPOSITORY],
                       "max_rate_limit_wait_seconds": MAX_WAIT, "detail_backfill_days": 2}}


GITHUB_COMPARED = sorted(s.name for s in GITHUB_STREAMS.values() if s.scope == "repository" and not s.bounded_backfill)


_GITHUB_MODEL: dict[tuple, dict[str, set[str]]] = {}


def _github_model_keys(simulation: Simulation) -> dict[str, set[str]]:
    """model_keys of REPOSITORY, computed once per state of the org (it renders every artifact)."""
    org = simulation.org
    state = (id(org), org.days_advanced, len(org.pull_requests[REPOSITORY]),
             max(pr.updated_at for pr in org.pull_requests[REPOSITORY]))
    if state not in _GITHUB_MODEL:
        _GITHUB_MODEL[state] = model_keys(org, {REPOSITORY})
    return _GITHUB_MODEL[state]


def _github_compare(warehouse: Path, simulation: Simulation) -> None:
    expected = _github_model_keys(simulation)
    for stream in GITHUB_COMPARED:
        assert keys_of(warehouse, stream) == expected[stream], stream
    versions = model_versions(simulation.org)
    pulls = {key: version for key, version in versions["github__pull_requests"].items()
             if key in expected["github__pull_requests"]}
    loaded = {key: (parse_cursor(p["updated_at"]), p["state"], parse_cursor(p["merged_at"]))
              for key, p in payloads(warehouse, "github__pull_requests").items()}
    assert loaded == {key: (updated, "closed" if state == "merged" else state, merged)
                      for key, (updated, state, merged) in pulls.items()}
    runs = {key: version for key, version in versions["github__workflow_runs"].items()
            if key in expected["github__workflow_runs"]}
    assert {key: (parse_cursor(p["updated_at"]), p["status"], p["conclusion"])
            for key, p in payloads(warehouse, "github__workflow_runs").items()} == runs


def _jira_compare(warehouse: Path, simulation: Simulation) -> None:
    model = {key: issue for key, issue in model_issues(simulation.jira).items() if issue["project"] == JIRA_PROJECT}
    assert warehouse_issues(warehouse) == model
    project_id = simulation.jira.projects_by_key[JIRA_PROJECT].id
    versions = {key: version for key, version in jira_model_versions(simulation.jira).items()
                if version["projectId"] == project_id}
    assert warehouse_versions(warehouse) == versions


def _jenkins_compare(warehouse: Path, simulation: Simulation) -> None:
    assert loaded_builds(rows(warehouse, "jenkins__builds")) == model_builds(simulation)
    assert_coverage_equal(rows(warehouse, "jenkins__build_coverage"), model_coverage(simulation))


def _gitlab_compare(warehouse: Path, simulation: Simulation) -> None:
    model = gitlab_model(simulation)
    assert_equal_records(loaded_records({table: rows(warehouse, table) for table in model}), model)


CASES = {
    "github": SourceCase(
        "github", _github_settings, listing="/github/repos/*/pulls", detail="/github/repos/*/deployments/*/statuses", detail_after=2,
        compare=_github_compare,
        # One new pull request and the oldest one bumped to the top of the sort=updated listing.
        mutate=lambda simulation, server: lambda: server.api.churn_pull_requests(REPOSITORY),
        paged=lambda simulation: {key: version for key, version in
                                  model_versions(simulation.org)["github__pull_requests"].items()
                                  if key in {str(pr.id) for pr in simulation.org.pull_requests[REPOSITORY]}},
        quota={"style": "primary", "reset_in": 3600}),
    "jira": SourceCase(
        "jira", lambda base: {"jira": {"base_url": f"{base}/jira", "flavour": "cloud", "projects": [JIRA_PROJECT],
                                       "fields": FIELD_NAMES, "max_rate_limit_wait_seconds": MAX_WAIT}},
        listing="/jira/rest/api/3/search/jql", detail="/jira/rest/api/3/project/*/versions", detail_after=0,
        compare=_jira_compare,
        mutate=lambda simulation, server: lambda: simulation.jira.advance(1),
        paged=lambda simulation: {key: issue["updated"] for key, issue in model_issues(simulation.jira).items()
                                  if issue["project"] == JIRA_PROJECT},
        # Jira Cloud has no hourly quota announced by X-RateLimit-Remaining: 0; its cost-based
        # limit answers 429 with Retry-After. Its exhaustion is that, with a wait beyond the budget.
        quota={"style": "secondary", "status": 429, "retry_after": 3600}),
    "jenkins": SourceCase(
        "jenkins", lambda base: {"jenkins": {"base_url": f"{base}/jenkins", "detail_backfill_days": None,
                                             "max_rate_limit_wait_seconds": MAX_WAIT}},
        listing="/jenkins/job/*/job/*/api/json", detail="/jenkins/job/*/job/*/*/coverage/api/json", detail_after=2,
        compare=_jenkins_compare,
        mutate=lambda simulation, server: lambda: simulation.advance(1),  # new commits, built
        paged=model_builds,
        quota=None,
        quota_missing="Jenkins has no API quota (no rate-limit headers); a proxy throttling it answers "
                      "429/503 with Retry-After, which the retry-after and 5xx cells cover"),
    "gitlab": SourceCase(
        "gitlab", lambda base: {"gitlab": {"base_url": f"{base}/gitlab/api/v4", "groups": ["acme"],
                                           "detail_backfill_days": None, "max_rate_limit_wait_seconds": MAX_WAIT}},
        listing="/gitlab/api/v4/projects/*/pipelines", detail="/gitlab/api/v4/projects/*/pipelines/*/jobs", detail_after=2,
        compare=_gitlab_compare,
        mutate=lambda simulation, server: lambda: simulation.advance(1),  # new commits, built
        paged=lambda simulation: gitlab_model(simulation)["gitlab__pipelines"],
        # GitLab's quota: 429 + RateLimit-Remaining: 0 + RateLimit-Reset + Retry-After.
        quota={"style": "gitlab", "reset_in": 3600}),
}


# -- reading the warehouse --------------------------------------------------------------


def rows(warehouse: Path, table: str) -> dict[str, tuple[dict, str]]:
    """record key -> (payload, run id that last wrote it); {} when the table does not exist."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        found = con.execute("select count(*) from information_schema.tables where table_schema = 'raw' "
                            "and table_name = ?", [table]).fetchone()[0]
        if not found:
            return {}
        return {key: (json.loads(payload), run_id) for key, payload, run_id in
                con.execute(f'select record_key, payload, run_id from raw."{table}"').fetchall()}


def payloads(warehouse: Path, table: str) -> dict[str, dict]:
    return {key: payload for key, (payload, _) in rows(warehouse, table).items()}


def keys_of(warehouse: Path, table: str) -> set[str]:
    return set(rows(warehouse, table))


def duplicated_keys(warehouse: Path) -> dict[str, int]:
    """Raw tables holding a record key more than once (the raw layer has no primary key)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [name for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' "
            "and table_name not like 'config__%' and table_name not like '\\_%' escape '\\'").fetchall()]
        counts = {table: con.execute(f'select count(*) - count(distinct record_key) from raw."{table}"').fetchone()[0]
                  for table in tables}
    return {table: extra for table, extra in counts.items() if extra}


def watermarks(warehouse: Path) -> dict[tuple[str, str], str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {(stream, scope): cursor for stream, scope, cursor in
                con.execute("select stream, scope, cursor_value from raw._stream_state").fetchall()}


# -- a night of the pipeline for one source -----------------------------------------------


@dataclass
class Night:
    results: list[dict[str, Any]]
    report: LoadReport

    def statuses(self) -> dict[str, str]:
        return {result["scope"]: result["status"] for result in self.results}


@dataclass
class Cell:
    case: SourceCase
    simulation: Simulation
    server: Any
    config: PipelineConfig
    credentials: Credentials
    waits: list[float] = field(default_factory=list)
    nights: int = 0

    def client(self) -> HttpClient:
        """The source's client as the pipeline builds it, retrying without really sleeping."""
        # The simulator's secrets as the connections hold them (kpi.demo.simulator_connections),
        # without the Airflow connection lookup (seconds of import for nothing tested here).
        source = source_named(self.config, self.case.name)
        token = getattr(self.credentials, f"{self.case.name}_token")
        user = {"jira": JIRA_EMAIL, "jenkins": JENKINS_USER}.get(self.case.name)
        credentials = basic_credentials(user, token) if user else token
        return HttpClient(source.settings.base_url, credentials, backoff_base=0.01, backoff_max=0.05,
                          max_rate_limit_wait=source.settings.max_rate_limit_wait_seconds, sleep=self.waits.append)

    def night(self) -> Night:
        """extract_listings -> plan_scopes -> extract_source_scope per scope -> load."""
        self.nights += 1
        run_id = f"night-{self.nights}"
        listings = pipeline.extract_listings(self.config, run_id, clients={self.case.name: self.client()})
        planned = pipeline.plan_scopes(self.config, listings, clients={self.case.name: self.client()})
        results = [pipeline.extract_source_scope(self.config, scope, run_id, client=self.client())
                   for scope in planned]
        # load_raw's merge of the batches (its reference tables of teams and KPIs are not
        # records of the source, and cost a DuckDB connection each).
        manifests = [BatchManifest.from_file(path) for path in listings + pipeline.scope_manifests(results)]
        return Night(results, WarehouseLoader(self.config.working_warehouse).load(manifests))

    @property
    def warehouse(self) -> Path:
        return self.config.working_warehouse

    def assert_equals_model(self) -> None:
        self.case.compare(self.warehouse, self.simulation)
        assert duplicated_keys(self.warehouse) == {}


@pytest.fixture(scope="module")
def shared_simulation() -> Simulation:
    """One tiny org for the cells that do not change it (each cell has its own server)."""
    return tiny_simulation()


def open_cell(case: SourceCase, simulation: Simulation, root: Path) -> Iterator[Cell]:
    credentials = Credentials()
    with simulation.server(credentials, rate_limit=10**9) as server:
        settings = {
            "warehouse": {"data_dir": str(root / "data")},
            "sources": case.settings(server.base_url),
            "deployments": {"production_environments": ["production"]},
            "teams": [{"name": "everyone", "repositories": ["acme/*"], "jira_projects": [JIRA_PROJECT]}],
        }
        path = root / "pipeline.yaml"
        path.write_text(yaml.safe_dump(settings))
        yield Cell(case, simulation, server, load_config(path), credentials)


@pytest.fixture(params=SOURCES)
def cell(request, shared_simulation, tmp_path) -> Iterator[Cell]:
    yield from open_cell(CASES[request.param], shared_simulation, tmp_path)


@pytest.fixture(params=SOURCES)
def fresh_cell(request, tmp_path) -> Iterator[Cell]:
    """A cell with its own org, for faults that change the source."""
    yield from open_cell(CASES[request.param], tiny_simulation(), tmp_path)


# -- the transient faults: retried, nothing lost or duplicated ---------------------------------

TRANSIENT = {
    "5xx-burst": ({"fault": "status", "status": 502}, {"fault": "status", "status": 503}, "status"),
    "connection-reset": ({"fault": "connection_reset"}, {"fault": "connection_reset"}, "connection_reset"),
    "truncated-body": ({"fault": "truncated_body", "fraction": 0.5}, {"fault": "truncated_body", "fraction": 0.3},
                       "truncated_body"),
    "retry-after-403": ({"fault": "rate_limited", "style": "secondary", "status": 403, "retry_after": 7},
                        {"fault": "rate_limited", "style": "secondary", "status": 403, "retry_after": 7},
                        "rate_limited"),
    "retry-after-429": ({"fault": "rate_limited", "style": "secondary", "status": 429, "retry_after": 7},
                        {"fault": "rate_limited", "style": "secondary", "status": 429, "retry_after": 7},
                        "rate_limited"),
}


@pytest.mark.parametrize("fault", list(TRANSIENT))
def test_a_transient_fault_is_retried_and_the_warehouse_equals_the_model(cell, fault):
    listing_rule, detail_rule, kind = TRANSIENT[fault]
    # given: the second page of the listing fails twice, and so do per-parent reads (Jira: its
    # one versions request, twice: a retry is matched again)
    cell.server.faults.add(cell.case.listing, after=1, times=2, **listing_rule)
    cell.server.faults.add(cell.case.detail, after=cell.case.detail_after, times=2, **detail_rule)
    # when
    night = cell.night()
    # then: every injected failure happened, was retried, and nothing is missing or twice
    assert cell.server.faults.stats()["fired"] == {kind: 4}
    assert set(night.statuses().values()) == {"ok"}
    if kind == "rate_limited":
        assert cell.waits.count(7.0) == 4  # the server's Retry-After, not a backoff guess
    cell.assert_equals_model()


def test_a_quota_exhausted_beyond_the_wait_defers_the_scope_and_the_next_run_completes_it(cell):
    if cell.case.quota is None:
        pytest.skip(cell.case.quota_missing)
    # given: the listing's second page answers that the quota resets in an hour (> MAX_WAIT)
    cell.server.faults.add(cell.case.listing, "rate_limited", after=1, times=1, **cell.case.quota)
    # when
    first = cell.night()
    # then: the scope is deferred, not failed, and did not wait an hour
    assert list(first.statuses().values()) == ["deferred"]
    assert "rate limit" in first.results[0]["error"]
    assert not [wait for wait in cell.waits if wait > MAX_WAIT]
    pipeline.check_scopes(first.results)  # a deferral is no failure
    before = watermarks(cell.warehouse)
    # when: the quota has reset, the next run
    second = cell.night()
    # then
    assert set(second.statuses().values()) == {"ok"}
    cell.assert_equals_model()
    after = watermarks(cell.warehouse)
    assert all(parse_cursor(after[key]) >= parse_cursor(value) for key, value in before.items())


def test_a_token_revoked_mid_run_fails_naming_connection_and_scope_and_a_rerun_is_exact(cell):
    connection = source_named(cell.config, cell.case.name).connection_id
    # given: the token is revoked after a few requests, inside the scope's extraction
    cell.server.faults.add(f"/{cell.case.name}/*", "revoke_token", after=6)
    # when
    first = cell.night()
    # then: the scope failed, and the run fails naming the connection and the scope
    failed = [result for result in first.results if result["status"] == "failed"]
    assert failed and failed == first.results
    with pytest.raises(pipeline.ExtractionFailed) as caught:
        pipeline.check_scopes(first.results)
    message = str(caught.value)
    assert f"'{connection}'" in message and "401" in message and "revoked" in message
    assert all(result["scope"] in message for result in failed)
    assert getattr(cell.credentials, f"{cell.case.name}_token") not in message
    # nothing of the failed scope landed, and no watermark of it moved
    scopes = {result["scope"] for result in failed}
    assert not {scope for _, scope in watermarks(cell.warehouse)} & scopes
    # when: the token is fixed, the rerun
    cell.server.faults.clear()
    second = cell.night()
    # then
    assert set(second.statuses().values()) == {"ok"}
    cell.assert_equals_model()


def test_records_inserted_and_updated_while_a_listing_is_paged_land_once_in_their_newest_version(fresh_cell):
    cell = fresh_cell
    before = cell.case.paged(cell.simulation)
    # given: the source changes right after the listing's first page was served
    rule = cell.server.faults.add(cell.case.listing, "mutate_while_paging", after=1, times=1,
                                  callback=cell.case.mutate(cell.simulation, cell.server))
    # when
    night = cell.night()
    # then: the change happened mid-listing, and the warehouse holds the source as it is now
    assert rule.fired == 1
    after = cell.case.paged(cell.simulation)
    assert after.keys() - before.keys(), "the change should insert records into the paged listing"
    assert {key for key in before.keys() & after.keys() if before[key] != after[key]}, \
        "the change should update records of the paged listing"
    assert set(night.statuses().values()) == {"ok"}
    cell.assert_equals_model()
