"""Jenkins extraction against the simulator over real HTTP: full, incremental, quiet, faults.

The expected records come from the generator's model (`simulation.jenkins`), never from
the API: every build's result, times, commit, tests and artifacts, and the coverage
numbers of every build that recorded coverage.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest

from extractors.auth import basic_credentials
from extractors.errors import RetriesExhausted
from extractors.extract import BatchManifest, extract_scope
from extractors.http import HttpClient
from extractors.loader import LoadReport, WarehouseLoader
from extractors.streams.jenkins import JENKINS_STREAMS, discover_jenkins_jobs
from simulator.simulation import JENKINS_USER, Credentials, Simulation, build_simulation

ANCHOR = datetime(2026, 11, 23, tzinfo=timezone.utc)
OVERLAP = timedelta(hours=72)
STREAMS = list(JENKINS_STREAMS.values())
BUILDS, COVERAGE, REPORTS = "jenkins__builds", "jenkins__build_coverage", "jenkins__build_reports"


# -- a night of the pipeline, as kpi.pipeline will run it for Jenkins ------------------


@dataclass
class Night:
    run_id: str
    jobs: list[str]
    manifests: list[BatchManifest]
    report: LoadReport
    requests: int
    discovery_requests: int

    def requests_of(self, stream: str) -> int:
        return sum(manifest.requests for manifest in self.manifests if manifest.stream == stream)

    def requests_by_scope(self, stream: str) -> dict[str, int]:
        return {manifest.scope: manifest.requests for manifest in self.manifests if manifest.stream == stream}


class JenkinsSync:
    def __init__(self, base_url: str, token: str, root: Path, **client_options: Any) -> None:
        self.base_url, self.token, self.root = base_url, token, root
        self.client_options = {"backoff_base": 0.01, "backoff_max": 0.05, **client_options}
        self.warehouse = root / "warehouse.duckdb"
        self.nights = 0

    def client(self) -> HttpClient:
        return HttpClient(self.base_url, basic_credentials(JENKINS_USER, self.token), **self.client_options)

    def run(self) -> Night:
        self.nights += 1
        run_id = f"run-{self.nights}"
        loader = WarehouseLoader(self.warehouse)
        watermarks, loaded = loader.read_watermarks(), loader.read_loaded_parents(STREAMS, OVERLAP)
        client = self.client()
        jobs = discover_jenkins_jobs(client)
        discovery = client.request_count
        manifests: list[BatchManifest] = []
        for job in jobs:
            manifests += extract_scope(
                client, STREAMS, job, run_id=run_id, landing_dir=self.root / "landing", overlap=OVERLAP,
                watermarks={stream: cursor for (stream, scope), cursor in watermarks.items() if scope == job},
                loaded_parents=loaded.get(job, {}),
            )
        report = loader.load(manifests)
        return Night(run_id, jobs, manifests, report, client.request_count, discovery)

    def rows(self, table: str) -> dict[str, tuple[dict, str]]:
        """record key -> (payload, run_id that last wrote it)."""
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return {key: (json.loads(payload), run_id) for key, payload, run_id in
                    con.execute(f"select record_key, payload, run_id from raw.{table}").fetchall()}


# -- the model's view ---------------------------------------------------------------


def _at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def model_builds(simulation: Simulation) -> dict[str, dict[str, Any]]:
    builds = {}
    for job in simulation.jenkins.all_jobs():
        for build in job.builds:
            builds[f"{job.folder}/{job.name}:{build.number}"] = {
                "result": build.result, "building": build.building, "started_at": build.started_at,
                "finished_at": build.finished_at, "duration_ms": None if build.building else build.duration_ms,
                "commit_sha": build.sha,
                # the git plugin names the branch built by its remote-tracking ref
                "branch": f"refs/remotes/origin/{build.branch}",
                "change_commit_ids": [commit.sha for commit in build.changes],
                "tests": (build.total_count, build.fail_count, build.skip_count),
                "artifacts": [build.coverage.artifact_path] if build.coverage else [],
                "remote_urls": [job.remote_url],
            }
    return builds


def loaded_builds(rows: dict[str, tuple[dict, str]]) -> dict[str, dict[str, Any]]:
    return {key: {
        "result": p["result"], "building": p["building"], "started_at": _at(p["started_at"]),
        "finished_at": _at(p["finished_at"]), "duration_ms": p["duration_ms"], "commit_sha": p["commit_sha"],
        "branch": p["branch"], "change_commit_ids": p["change_commit_ids"],
        "tests": (p["tests_total"], p["tests_failed"], p["tests_skipped"]),
        "artifacts": [artifact["relative_path"] for artifact in p["artifacts"]],
        "remote_urls": p["checkouts"][0]["remote_urls"],
    } for key, (p, _) in rows.items()}


def model_coverage(simulation: Simulation) -> dict[str, tuple[float, int]]:
    """(line %, lines) of every finished build whose report the Coverage plugin recorded."""
    return {f"{job.folder}/{job.name}:{build.number}":
            (100 * build.coverage.facts["line_rate"], build.coverage.facts["lines_valid"])
            for job in simulation.jenkins.all_jobs() for build in job.builds
            if build.coverage is not None and not build.building}


def assert_coverage_equal(rows: dict[str, tuple[dict, str]], expected: dict[str, tuple[float, int]]) -> None:
    assert set(rows) == set(expected)
    for key, (line_percent, lines) in expected.items():
        payload = rows[key][0]
        assert payload["loc"] == lines, key
        assert math.isclose(payload["line_percent"], line_percent, abs_tol=0.005), key  # the API rounds to 0.01


def changed_keys(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {key for key in after if key not in before or before[key] != after[key]}


# -- one simulated controller, four nights -------------------------------------------


@pytest.fixture(scope="module")
def simulation():
    return build_simulation("small", anchor=ANCHOR)


@pytest.fixture(scope="module")
def synced(simulation, tmp_path_factory):
    """Full sync; advance(1) + incremental; a quiet night."""
    credentials = Credentials()
    with simulation.server(credentials) as server:
        sync = JenkinsSync(server.url_for("/jenkins"), credentials.jenkins_token, tmp_path_factory.mktemp("jenkins"))
        full = sync.run()
        state = {"builds_before": model_builds(simulation), "coverage_before": model_coverage(simulation),
                 "rows_before": {table: sync.rows(table) for table in (BUILDS, COVERAGE, REPORTS)}}
        simulation.advance(1)
        incremental = sync.run()
        state.update(builds_after=model_builds(simulation), coverage_after=model_coverage(simulation),
                     rows_after={table: sync.rows(table) for table in (BUILDS, COVERAGE)})
        quiet = sync.run()
        state["rows_quiet"] = {table: sync.rows(table) for table in (BUILDS, COVERAGE)}
    return {"full": full, "incremental": incremental, "quiet": quiet, **state}


def test_discovery_walks_the_team_folders_to_every_job(synced, simulation):
    expected = sorted(f"{job.folder}/{job.name}" for job in simulation.jenkins.all_jobs())
    assert synced["full"].jobs == expected
    # the root, then one listing per folder
    assert synced["full"].discovery_requests == 1 + len(simulation.jenkins.folders)


def test_full_sync_equals_the_generator(synced):
    builds = loaded_builds(synced["rows_before"][BUILDS])
    model = synced["builds_before"]
    assert set(builds) == set(model)
    for key, expected in model.items():
        assert builds[key] == expected, key
    assert_coverage_equal(synced["rows_before"][COVERAGE], synced["coverage_before"])
    assert synced["full"].report.inserted == len(model) + 2 * len(synced["coverage_before"])
    # running builds have no end, no duration and no coverage read yet
    running = [key for key, build in model.items() if build["building"]]
    assert running and all(builds[key]["finished_at"] is None for key in running)


def test_archived_reports_carry_the_exact_line_counts_the_plugin_rounds(synced):
    """One parsed report per covered build; its exact counts agree with the model's coverage."""
    reports = {f"{payload['job']}:{payload['number']}": payload for payload, *_ in synced["rows_before"][REPORTS].values()}
    assert reports.keys() == synced["coverage_before"].keys()
    for key, (percent, lines) in synced["coverage_before"].items():
        report = reports[key]
        assert report["report_kind"] == "coverage" and report["lines_valid"] == lines, key
        assert math.isclose(100 * report["lines_covered"] / report["lines_valid"], percent, abs_tol=1e-9), key


def test_coverage_is_read_only_for_builds_that_recorded_it(synced):
    # one request per covered build: FAILURE, ABORTED and running builds cost nothing
    assert synced["full"].requests_of(COVERAGE) == len(synced["coverage_before"])
    for key, (payload, _) in synced["rows_before"][BUILDS].items():
        recorded = key in synced["coverage_before"]
        assert (payload["coverage_api"] is not None) == recorded, key
        if recorded:
            assert payload["result"] in ("SUCCESS", "UNSTABLE")
            # the archived report can be fetched relative to the Jenkins base URL
            job, number = key.rsplit(":", 1)
            assert payload["artifacts"][0]["api_path"].startswith(
                "".join(f"/job/{part}" for part in job.split("/")) + f"/{number}/artifact/")


def test_incremental_sync_loads_exactly_the_new_and_changed_builds(synced):
    before, after = synced["builds_before"], synced["builds_after"]
    assert loaded_builds(synced["rows_after"][BUILDS]) == after
    assert_coverage_equal(synced["rows_after"][COVERAGE], synced["coverage_after"])
    run_id = synced["incremental"].run_id
    for table, model_before, model_after in ((BUILDS, before, after),
                                             (COVERAGE, synced["coverage_before"], synced["coverage_after"])):
        rows_before, rows_after = synced["rows_before"][table], synced["rows_after"][table]
        rewritten = {key for key, (_, written_by) in rows_after.items() if written_by == run_id}
        assert rewritten == changed_keys(model_before, model_after), table
        assert set(rows_after) - set(rows_before) == set(model_after) - set(model_before), table
        untouched = set(rows_after) - rewritten
        assert untouched and all(rows_after[key] == rows_before[key] for key in untouched), table
    report = synced["incremental"].report
    gained = set(synced["coverage_after"]) - set(synced["coverage_before"])
    assert report.inserted == len(set(after) - set(before)) + 2 * len(gained)  # coverage + its archived report


def test_a_build_running_at_the_first_sync_is_updated_once_it_finished(synced):
    before, after = synced["builds_before"], synced["builds_after"]
    finished = [key for key in before if before[key]["building"] and not after[key]["building"]]
    assert finished, "advance(1) should finish the builds running at the anchor"
    rows = synced["rows_after"][BUILDS]
    for key in finished:
        payload, written_by = rows[key]
        assert written_by == synced["incremental"].run_id
        assert (payload["result"], payload["building"]) == (after[key]["result"], False)
        assert _at(payload["finished_at"]) == after[key]["finished_at"]
        assert (key in synced["rows_after"][COVERAGE]) == (key in synced["coverage_after"])


def test_an_incremental_night_costs_one_page_per_job_plus_the_coverage_now_due(synced, simulation):
    night = synced["incremental"]
    # the window re-read (from the first night's newest start - 72 h) holds < 100 builds of any job ...
    window_start = ANCHOR - OVERLAP
    assert all(sum(b["started_at"] >= window_start for k, b in synced["builds_after"].items()
                   if k.startswith(job + ":")) < 100 for job in night.jobs)
    # ... so each job costs one page, and coverage is read only for builds that gained it
    assert night.requests_by_scope(BUILDS) == dict.fromkeys(night.jobs, 1)
    gained = set(synced["coverage_after"]) - set(synced["coverage_before"])
    assert night.requests_of(COVERAGE) == len(gained)
    assert night.requests_of(REPORTS) == len(gained)  # one archived report download each
    assert night.requests == night.discovery_requests + len(night.jobs) + 2 * len(gained)


def test_a_quiet_night_costs_one_page_per_job_and_rewrites_nothing(synced):
    quiet = synced["quiet"]
    assert quiet.requests == quiet.discovery_requests + len(quiet.jobs)
    assert quiet.requests_of(COVERAGE) == 0  # the builds re-listed in the overlap are known
    assert quiet.report.inserted == quiet.report.updated == 0
    assert synced["rows_quiet"] == synced["rows_after"]


# -- faults ---------------------------------------------------------------------------


def test_5xx_bursts_connection_resets_and_truncated_bodies_still_give_the_generator(simulation, tmp_path):
    credentials = Credentials()
    with simulation.server(credentials) as server:
        server.faults.add("/jenkins/api/json", "status", status=503, times=2)
        server.faults.add("/jenkins/job/*/job/*/api/json", "status", status=502, times=4)
        server.faults.add("/jenkins/job/*/job/*/*/coverage/api/json", "connection_reset", times=3, after=5)
        server.faults.add("/jenkins/job/*/job/*/*/coverage/api/json", "truncated_body", times=2, after=40)
        server.faults.add("/jenkins/job/*/job/*/*/coverage/api/json", "status", status=500, times=2, after=90)
        sync = JenkinsSync(server.url_for("/jenkins"), credentials.jenkins_token, tmp_path)
        sync.run()
        fired = server.faults.stats()["fired"]
    assert fired == {"connection_reset": 3, "status": 8, "truncated_body": 2}
    assert loaded_builds(sync.rows(BUILDS)) == model_builds(simulation)
    assert_coverage_equal(sync.rows(COVERAGE), model_coverage(simulation))


def test_a_job_that_keeps_failing_lands_nothing_and_the_next_night_completes_it(simulation, tmp_path):
    credentials = Credentials()
    with simulation.server(credentials) as server:
        broken = "/jenkins/job/payments/job/ledger/*/coverage/api/json"
        rule = server.faults.add(broken, "status", status=500)
        sync = JenkinsSync(server.url_for("/jenkins"), credentials.jenkins_token, tmp_path, max_retries=1)
        client = sync.client()
        with pytest.raises(RetriesExhausted):
            extract_scope(client, STREAMS, "payments/ledger", watermarks={}, run_id="run-x",
                          landing_dir=tmp_path / "landing", overlap=OVERLAP)
        assert not list((tmp_path / "landing").rglob("*.jsonl"))  # all or nothing: no builds without coverage
        server.faults.clear()
        assert rule.fired >= 2
        sync.run()
    assert loaded_builds(sync.rows(BUILDS)) == model_builds(simulation)
    assert_coverage_equal(sync.rows(COVERAGE), model_coverage(simulation))
