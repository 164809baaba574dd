"""Jira extraction against the simulator over real HTTP, Cloud and Server/DC flavours.

One simulated site per flavour: a full sync, then `advance(1)` and an incremental sync with
a key reconciliation. The warehouse is compared with the generator's model after each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from extractors.auth import basic_credentials
from extractors.extract import BatchManifest, extract_scope, parse_cursor
from extractors.http import HttpClient
from extractors.loader import LoadReport, WarehouseLoader
from extractors.streams.jira import ISSUE_KEYS, ISSUES, VERSIONS, resolve_field_mapping, streams_for
from simulator.jira import JiraSite
from simulator.jira_api import jira_time
from simulator.simulation import JIRA_EMAIL, Credentials, build_simulation

ANCHOR = datetime(2026, 11, 26, tzinfo=UTC)
# With this seed, the day after ANCHOR deletes one issue and moves another between projects.
SEED = 17
QUIET_OVERLAP = timedelta(days=30)
FIELD_NAMES = {"severity": "Severity", "environment": "Environment", "team": "Engineering team"}


def jira_client(base_url: str, flavour: str, token: str, **options: Any) -> HttpClient:
    """Cloud: Basic e-mail + API token; Server/DC: a personal access token as Bearer."""
    credentials = basic_credentials(JIRA_EMAIL, token) if flavour == "cloud" else token
    return HttpClient(base_url, credentials, **options)


@dataclass
class JiraSync:
    """Extract every project of the site and load the batches in one load, like a night."""

    client: HttpClient
    flavour: str
    projects: list[str]
    root: Path
    overlap: timedelta = timedelta(hours=72)

    def __post_init__(self) -> None:
        self.fields = resolve_field_mapping(self.client, self.flavour, FIELD_NAMES)
        self.loader = WarehouseLoader(self.root / "warehouse.duckdb")

    @property
    def warehouse(self) -> Path:
        return self.loader.db_path

    def run(self, run_id: str, reconcile: bool = True) -> LoadReport:
        watermarks = self.loader.read_watermarks()
        manifests: list[BatchManifest] = []
        for project in self.projects:
            manifests += extract_scope(
                self.client, streams_for(self.flavour, self.fields, reconcile=reconcile), project,
                watermarks={stream: cursor for (stream, scope), cursor in watermarks.items() if scope == project},
                run_id=run_id, landing_dir=self.root / "landing", overlap=self.overlap,
            )
        # Key listings first: marking deletions must not depend on the order of batches.
        manifests.sort(key=lambda manifest: manifest.key_listing_of is None)
        self.manifests = manifests  # the last night's, with the requests each batch cost
        return self.loader.load(manifests)


def model_issues(site: JiraSite) -> dict[str, dict[str, Any]]:
    """Every visible issue as the facts the warehouse must hold, from the generator's model."""
    return {str(issue.id): {
        "key": issue.key, "project": issue.project_key, "status": issue.status, "resolution": issue.resolution,
        "resolutiondate": jira_time(issue.resolution_date), "created": jira_time(issue.created),
        "updated": jira_time(issue.updated), "fix_versions": [str(v) for v in issue.fix_version_ids],
        "labels": sorted(issue.labels), "severity": issue.severity, "environment": issue.environment,
        "team": issue.team, "histories": [str(history.id) for history in issue.histories],
    } for issue in site.live_issues()}


def warehouse_issues(warehouse: Path, *, deleted: bool = False) -> dict[str, dict[str, Any]]:
    facts = {}
    for key, payload in _rows(warehouse, ISSUES, deleted=deleted):
        fields = payload["fields"]
        facts[key] = {
            "key": payload["key"], "project": fields["project"]["key"], "status": fields["status"]["name"],
            "resolution": (fields.get("resolution") or {}).get("name"), "resolutiondate": fields["resolutiondate"],
            "created": fields["created"], "updated": fields["updated"],
            "fix_versions": [version["id"] for version in fields["fixVersions"]], "labels": sorted(fields["labels"]),
            "severity": payload["severity"], "environment": payload["environment"], "team": payload["team"],
            "histories": [history["id"] for history in payload["changelog"]["histories"]],
        }
    return facts


def _rows(warehouse: Path, table: str, *, deleted: bool = False) -> list[tuple[str, dict]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tracked = con.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'raw' "
                              "AND table_name = ? AND column_name = '_deleted_at'", [table]).fetchone()[0]
        # Until a key listing has loaded, the table has no `_deleted_at`: nothing is deleted.
        deleted_at = "_deleted_at" if tracked else "NULL"
        condition = f"{deleted_at} IS NOT NULL" if deleted else f"{deleted_at} IS NULL"
        rows = con.execute(f"SELECT record_key, payload FROM raw.{table} WHERE {condition}").fetchall()
    return [(key, json.loads(payload)) for key, payload in rows]


def row_runs(warehouse: Path) -> dict[str, tuple[str, str, Any]]:
    """record_key -> (run_id, scope, _deleted_at) of raw.jira__issues."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(f"SELECT record_key, run_id, scope, _deleted_at FROM raw.{ISSUES}").fetchall()
    return {key: (run_id, scope, deleted_at) for key, run_id, scope, deleted_at in rows}


def model_versions(site: JiraSite) -> dict[str, dict[str, Any]]:
    return {str(version.id): {
        "name": version.name, "releaseDate": version.planned_release_date.isoformat(),
        "released": version.released, "archived": version.archived,
        "projectId": site.projects_by_key[version.project_key].id,
    } for version in site.versions}


def warehouse_versions(warehouse: Path) -> dict[str, dict[str, Any]]:
    return {key: {name: payload[name] for name in ("name", "releaseDate", "released", "archived", "projectId")}
            for key, payload in _rows(warehouse, VERSIONS)}


@pytest.fixture(scope="module", params=["cloud", "server"])
def synced(request, tmp_path_factory):
    flavour = request.param
    simulation = build_simulation("small", seed=SEED, anchor=ANCHOR)
    site = simulation.jira
    credentials = Credentials()
    with simulation.server(credentials) as server:
        client = jira_client(server.url_for("jira"), flavour, credentials.jira_token)
        sync = JiraSync(client, flavour, [project.key for project in site.projects],
                        tmp_path_factory.mktemp(f"jira-{flavour}"))
        model_before, versions_before = model_issues(site), model_versions(site)
        full = sync.run("night-1")
        warehouse_before, runs_before = warehouse_issues(sync.warehouse), row_runs(sync.warehouse)
        versions_after_full = warehouse_versions(sync.warehouse)
        watermarks_after_full = sync.loader.read_watermarks()
        changelog_route = f"GET /rest/api/{'3' if flavour == 'cloud' else '2'}/issue/{{issueIdOrKey}}/changelog"
        changelog_requests = server.count("jira", route=changelog_route)
        requests_full = client.request_count

        simulation.advance(1)
        model_after, versions_after = model_issues(site), model_versions(site)
        incremental = sync.run("night-2")
        requests_incremental = client.request_count - requests_full

        # A quiet night re-reading a month: more than a page of issues in the window.
        sync.overlap = QUIET_OVERLAP
        quiet = sync.run("night-3", reconcile=False)
    yield {
        "quiet": quiet, "quiet_manifests": sync.manifests,
        "flavour": flavour, "site": site, "sync": sync, "full": full, "incremental": incremental,
        "model_before": model_before, "model_after": model_after, "versions_before": versions_before,
        "versions_after": versions_after, "warehouse_before": warehouse_before, "runs_before": runs_before,
        "versions_after_full": versions_after_full, "watermarks_after_full": watermarks_after_full,
        "changelog_requests": changelog_requests, "requests_full": requests_full,
        "requests_incremental": requests_incremental,
    }


def test_full_sync_equals_the_generators_visible_issues(synced):
    model, loaded = synced["model_before"], synced["warehouse_before"]
    assert len(loaded) == len(model) > 2500
    assert loaded.keys() == model.keys()
    for issue_id, facts in model.items():
        assert loaded[issue_id] == facts, issue_id
    assert all(deleted_at is None for _, _, deleted_at in synced["runs_before"].values())
    assert {scope for _, scope, _ in synced["runs_before"].values()} == {p.key for p in synced["site"].projects}


def test_changelogs_beyond_one_page_are_complete(synced):
    longest = max(synced["model_before"].values(), key=lambda facts: len(facts["histories"]))
    assert len(longest["histories"]) > 100  # the generator's chatty issue
    assert synced["changelog_requests"] >= 2  # paged through /issue/{id}/changelog
    loaded = synced["warehouse_before"]
    assert sum(len(facts["histories"]) for facts in loaded.values()) == sum(
        len(facts["histories"]) for facts in synced["model_before"].values())


def test_versions_equal_the_generators_versions(synced):
    assert synced["versions_after_full"] == synced["versions_before"]
    assert warehouse_versions(synced["sync"].warehouse) == synced["versions_after"]


def test_watermark_is_the_newest_issue_update_per_project(synced):
    watermarks = synced["watermarks_after_full"]
    for project in synced["site"].projects:
        newest = max(facts["updated"] for facts in synced["model_before"].values()
                     if facts["project"] == project.key)
        assert watermarks[(ISSUES, project.key)] == newest
    assert not any(stream in (VERSIONS, ISSUE_KEYS) for stream, _ in watermarks)


def test_incremental_sync_loads_exactly_the_new_and_changed_issues(synced):
    before, after = synced["model_before"], synced["model_after"]
    changed = {issue_id for issue_id, facts in after.items() if before.get(issue_id) != facts}
    assert len(changed) > 20
    warehouse = synced["sync"].warehouse
    assert warehouse_issues(warehouse) == after
    runs = row_runs(warehouse)
    rewritten = {key for key, (run_id, _, _) in runs.items() if run_id == "night-2"}
    assert rewritten == changed
    report = synced["incremental"]
    issue_batches = [batch for batch in report.batches if batch.stream == ISSUES]
    assert sum(batch.inserted for batch in issue_batches) == len(after.keys() - before.keys())
    assert sum(batch.updated for batch in issue_batches) == len(changed & before.keys())
    # The increment reads the overlap window, not the project again.
    assert sum(b.inserted + b.updated + b.unchanged for b in issue_batches) < len(before) / 5
    assert synced["requests_incremental"] < synced["requests_full"]


def test_a_quiet_night_costs_cloud_one_search_page_per_project_however_long_the_overlap(synced):
    quiet, after = synced["quiet"], synced["model_after"]
    issue_batches = {batch.scope: batch for batch in synced["quiet_manifests"] if batch.stream == ISSUES}
    assert quiet.inserted == quiet.updated == 0
    newest = max(parse_cursor(issue["updated"]) for issue in after.values())
    in_window = Counter(issue["project"] for issue in after.values()
                        if parse_cursor(issue["updated"]) >= newest - QUIET_OVERLAP)
    assert max(in_window.values()) > 100  # read oldest first, the window is more than one page
    if synced["flavour"] == "cloud":
        # Newest first, stopping an hour behind the watermark (Jira's own `updated` values).
        assert {scope: batch.requests for scope, batch in issue_batches.items()} == dict.fromkeys(issue_batches, 1)
    else:
        # Server/DC pages oldest first in windows of `updated`: the whole overlap is re-read.
        assert max(batch.requests for batch in issue_batches.values()) > 1


def test_reconciliation_marks_the_deleted_issue_and_only_it(synced):
    deleted = synced["model_before"].keys() - synced["model_after"].keys()
    assert deleted, "the seed must delete a loaded issue the day after the anchor"
    warehouse = synced["sync"].warehouse
    assert warehouse_issues(warehouse, deleted=True).keys() == deleted
    assert synced["incremental"].deleted == len(deleted)
    runs = row_runs(warehouse)
    for issue_id in deleted:
        run_id, scope, deleted_at = runs[issue_id]
        assert deleted_at is not None and run_id == "night-1"  # marked, not rewritten
        assert scope == synced["model_before"][issue_id]["project"]


def test_moved_issue_is_not_deleted_and_lives_under_its_new_key(synced):
    before, after = synced["model_before"], synced["model_after"]
    moved = {issue_id for issue_id in before.keys() & after.keys()
             if before[issue_id]["project"] != after[issue_id]["project"]}
    assert moved, "the seed must move a loaded issue the day after the anchor"
    loaded, runs = warehouse_issues(synced["sync"].warehouse), row_runs(synced["sync"].warehouse)
    for issue_id in moved:
        _, scope, deleted_at = runs[issue_id]
        assert deleted_at is None
        assert scope == after[issue_id]["project"] != before[issue_id]["project"]
        assert loaded[issue_id]["key"] == after[issue_id]["key"]
        assert loaded[issue_id]["histories"] == after[issue_id]["histories"]  # the move is in the changelog


def test_no_people_are_stored(synced):
    with duckdb.connect(str(synced["sync"].warehouse), read_only=True) as con:
        text = "\n".join(payload for (payload,) in con.execute(f"SELECT payload FROM raw.{ISSUES}").fetchall())
    for person_field in ('"assignee"', '"reporter"', '"creator"', '"author"', "accountId", "emailAddress"):
        assert person_field not in text
