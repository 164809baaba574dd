"""GitLab extraction against the simulator over real HTTP: full, incremental, quiet, faults.

Expected records come from the generator's model (`simulation.gitlab`), never from the
API: pipelines with GitLab's durations and coverage, every job, deployments with their
environment, merge requests with the commits they merged, releases and milestones.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest

from extractors.extract import BatchManifest, extract_scope
from extractors.http import HttpClient
from extractors.loader import LoadReport, WarehouseLoader
from extractors.streams.gitlab import GITLAB_GROUP_STREAMS, GITLAB_PROJECT_STREAMS, discover_gitlab_projects
from simulator.simulation import Credentials, Simulation, build_simulation

# A Friday: the day `advance(1)` adds closes a sprint, so milestones change and a release appears.
ANCHOR = datetime(2026, 11, 27, tzinfo=timezone.utc)
OVERLAP = timedelta(hours=72)
STREAMS = GITLAB_GROUP_STREAMS + GITLAB_PROJECT_STREAMS
CHILDREN = ("gitlab__pipeline_details", "gitlab__pipeline_jobs")
LISTINGS = [stream.name for stream in GITLAB_PROJECT_STREAMS if stream.parent is None]


# -- a night of the pipeline, as kpi.pipeline will run it for GitLab -------------------


@dataclass
class Night:
    run_id: str
    projects: list[str]
    manifests: list[BatchManifest]
    report: LoadReport
    requests: int

    def requests_of(self, stream: str) -> int:
        return sum(manifest.requests for manifest in self.manifests if manifest.stream == stream)


class GitLabSync:
    def __init__(self, base_url: str, token: str, root: Path, group: str = "acme", **client_options: Any) -> None:
        self.base_url, self.token, self.root, self.group = base_url, token, root, group
        self.client_options = {"backoff_base": 0.01, "backoff_max": 0.05, **client_options}
        self.warehouse = root / "warehouse.duckdb"
        self.nights = 0

    def client(self) -> HttpClient:
        return HttpClient(self.base_url, self.token, **self.client_options)

    def run(self) -> Night:
        self.nights += 1
        run_id = f"run-{self.nights}"
        loader = WarehouseLoader(self.warehouse)
        watermarks, loaded = loader.read_watermarks(), loader.read_loaded_parents(STREAMS, OVERLAP)
        client = self.client()

        def extract(streams, scope):
            return extract_scope(
                client, streams, scope, run_id=run_id, landing_dir=self.root / "landing", overlap=OVERLAP,
                watermarks={stream: cursor for (stream, where), cursor in watermarks.items() if where == scope},
                loaded_parents=loaded.get(scope, {}),
            )

        projects = discover_gitlab_projects(client, self.group)
        manifests = extract(GITLAB_GROUP_STREAMS, self.group)
        for project in projects:
            manifests += extract(GITLAB_PROJECT_STREAMS, project)
        report = loader.load(manifests)
        return Night(run_id, projects, manifests, report, client.request_count)

    def rows(self, table: str) -> dict[str, tuple[dict, str]]:
        """record key -> (payload, run_id that last wrote it)."""
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return {key: (json.loads(payload), run_id) for key, payload, run_id in
                    con.execute(f"select record_key, payload, run_id from raw.{table}").fetchall()}

    def all_rows(self) -> dict[str, dict[str, tuple[dict, str]]]:
        return {stream.name: self.rows(stream.name) for stream in STREAMS}


# -- the model's view, and the warehouse's in the same terms ------------------------------


def _ms(moment: datetime | None) -> datetime | None:
    """GitLab renders times to the millisecond."""
    return None if moment is None else moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def _number(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)  # GitLab sends pipeline coverage as "80.84"


def model_records(simulation: Simulation) -> dict[str, dict[str, Any]]:
    site = simulation.gitlab
    records: dict[str, dict[str, Any]] = {stream.name: {} for stream in STREAMS}
    for project in site.projects:
        records["gitlab__projects"][str(project.id)] = {
            "path_with_namespace": project.path_with_namespace, "default_branch": project.default_branch}
        for pipeline in project.pipelines:
            key = str(pipeline.id)
            records["gitlab__pipelines"][key] = {
                "project_id": project.id, "sha": pipeline.sha, "ref": pipeline.ref, "status": pipeline.status,
                "created_at": _ms(pipeline.created_at), "updated_at": _ms(pipeline.updated_at)}
            records["gitlab__pipeline_details"][key] = {
                "status": pipeline.status, "updated_at": _ms(pipeline.updated_at),
                "started_at": _ms(pipeline.started_at), "finished_at": _ms(pipeline.finished_at),
                "duration": pipeline.duration, "queued_duration": pipeline.queued_duration,
                "coverage": _number(pipeline.coverage)}
            for job in pipeline.jobs:
                records["gitlab__pipeline_jobs"][str(job.id)] = {
                    "pipeline_id": pipeline.id, "name": job.name, "stage": job.stage, "status": job.status,
                    "started_at": _ms(job.started_at), "finished_at": _ms(job.finished_at),
                    "coverage": _number(job.coverage)}
        for deployment in project.deployments:
            records["gitlab__deployments"][str(deployment.id)] = {
                "status": deployment.status, "environment": deployment.environment, "sha": deployment.sha,
                "created_at": _ms(deployment.created_at), "updated_at": _ms(deployment.updated_at),
                "finished_at": _ms(deployment.finished_at), "job_id": deployment.job.id,
                "pipeline_id": deployment.pipeline.id}
        for mr in project.merge_requests:
            records["gitlab__merge_requests"][str(mr.id)] = {
                "iid": mr.iid, "state": mr.state, "created_at": _ms(mr.created_at), "updated_at": _ms(mr.updated_at),
                "merged_at": _ms(mr.merged_at), "closed_at": _ms(mr.closed_at), "target_branch": mr.target_branch,
                "merge_commit_sha": mr.merge_commit_sha, "squash_commit_sha": mr.squash_commit_sha}
        for release in project.releases:
            records["gitlab__releases"][f"{project.path_with_namespace}#{release.tag_name}"] = {
                "created_at": _ms(release.created_at), "released_at": _ms(release.released_at),
                "commit_sha": release.sha, "milestone_ids": [release.milestone.id] if release.milestone else []}
        for milestone in project.milestones:
            records["gitlab__milestones"][str(milestone.id)] = {
                "title": milestone.title, "state": milestone.state, "start_date": milestone.start_date,
                "due_date": milestone.due_date, "updated_at": _ms(milestone.updated_at)}
    return records


_LOADED = {
    "gitlab__projects": lambda p: {"path_with_namespace": p["path_with_namespace"], "default_branch": p["default_branch"]},
    "gitlab__pipelines": lambda p: {
        "project_id": p["project_id"], "sha": p["sha"], "ref": p["ref"], "status": p["status"],
        "created_at": _at(p["created_at"]), "updated_at": _at(p["updated_at"])},
    "gitlab__pipeline_details": lambda p: {
        "status": p["status"], "updated_at": _at(p["updated_at"]), "started_at": _at(p["started_at"]),
        "finished_at": _at(p["finished_at"]), "duration": p["duration"], "queued_duration": p["queued_duration"],
        "coverage": _number(p["coverage"])},
    "gitlab__pipeline_jobs": lambda p: {
        "pipeline_id": p["pipeline_id"], "name": p["name"], "stage": p["stage"], "status": p["status"],
        "started_at": _at(p["started_at"]), "finished_at": _at(p["finished_at"]), "coverage": _number(p["coverage"])},
    "gitlab__deployments": lambda p: {
        "status": p["status"], "environment": p["environment"]["name"], "sha": p["sha"],
        "created_at": _at(p["created_at"]), "updated_at": _at(p["updated_at"]), "finished_at": _at(p["finished_at"]),
        "job_id": p["deployable"]["id"], "pipeline_id": p["deployable"]["pipeline"]["id"]},
    "gitlab__merge_requests": lambda p: {
        "iid": p["iid"], "state": p["state"], "created_at": _at(p["created_at"]), "updated_at": _at(p["updated_at"]),
        "merged_at": _at(p["merged_at"]), "closed_at": _at(p["closed_at"]), "target_branch": p["target_branch"],
        "merge_commit_sha": p["merge_commit_sha"], "squash_commit_sha": p["squash_commit_sha"]},
    "gitlab__releases": lambda p: {
        "created_at": _at(p["created_at"]), "released_at": _at(p["released_at"]), "commit_sha": p["commit_sha"],
        "milestone_ids": [milestone["id"] for milestone in p["milestones"]]},
    "gitlab__milestones": lambda p: {
        "title": p["title"], "state": p["state"], "start_date": date.fromisoformat(p["start_date"]),
        "due_date": date.fromisoformat(p["due_date"]), "updated_at": _at(p["updated_at"])},
}


def loaded_records(rows: dict[str, dict[str, tuple[dict, str]]]) -> dict[str, dict[str, Any]]:
    return {table: {key: _LOADED[table](payload) for key, (payload, _) in table_rows.items()}
            for table, table_rows in rows.items()}


def assert_equal_records(loaded: dict[str, dict[str, Any]], model: dict[str, dict[str, Any]]) -> None:
    assert set(loaded) == set(model)
    for table, expected in model.items():
        assert set(loaded[table]) == set(expected), table
        for key, record in expected.items():
            got = dict(loaded[table][key])
            if table == "gitlab__pipeline_details" and record["queued_duration"] is not None:
                assert math.isclose(got.pop("queued_duration"), record["queued_duration"], abs_tol=1e-6), key
                record = {name: value for name, value in record.items() if name != "queued_duration"}
            assert got == record, (table, key)


def changed_keys(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {key for key in after if key not in before or before[key] != after[key]}


# -- one simulated GitLab, three nights -------------------------------------------------


@pytest.fixture(scope="module")
def simulation():
    return build_simulation("small", anchor=ANCHOR)


@pytest.fixture(scope="module")
def synced(simulation, tmp_path_factory):
    credentials = Credentials()
    with simulation.server(credentials) as server:
        sync = GitLabSync(server.url_for("/gitlab") + "/api/v4", credentials.gitlab_token,
                          tmp_path_factory.mktemp("gitlab"))
        full = sync.run()
        state = {"model_before": model_records(simulation), "rows_before": sync.all_rows()}
        simulation.advance(1)
        incremental = sync.run()
        state.update(model_after=model_records(simulation), rows_after=sync.all_rows())
        quiet = sync.run()
        state["rows_quiet"] = sync.all_rows()
    return {"full": full, "incremental": incremental, "quiet": quiet, **state}


def test_discovery_lists_the_group_projects(synced, simulation):
    assert synced["full"].projects == sorted(project.path_with_namespace for project in simulation.gitlab.projects)


def test_full_sync_equals_the_generator(synced):
    assert_equal_records(loaded_records(synced["rows_before"]), synced["model_before"])
    assert synced["full"].report.inserted == sum(len(records) for records in synced["model_before"].values())


def test_merge_requests_keep_the_commit_they_merged_and_no_person(synced):
    for payload, _ in synced["rows_before"]["gitlab__merge_requests"].values():
        assert not {"author", "assignee", "assignees", "reviewers", "merged_by", "merge_user", "closed_by"} & set(payload)
        if payload["state"] == "merged":
            assert (payload["merge_commit_sha"] is None) != (payload["squash_commit_sha"] is None)
    for table in ("gitlab__pipeline_jobs", "gitlab__deployments", "gitlab__pipeline_details"):
        for payload, _ in synced["rows_before"][table].values():
            assert "user" not in payload and "user" not in payload.get("deployable", {}), table
            assert "commit" not in payload and "runner" not in payload, table


def test_incremental_sync_loads_exactly_the_new_and_changed_records(synced):
    before, after = synced["model_before"], synced["model_after"]
    assert_equal_records(loaded_records(synced["rows_after"]), after)
    run_id = synced["incremental"].run_id
    for table in after:
        rows_before, rows_after = synced["rows_before"][table], synced["rows_after"][table]
        rewritten = {key for key, (_, written_by) in rows_after.items() if written_by == run_id}
        assert rewritten == changed_keys(before[table], after[table]), table
        assert set(rows_after) - set(rows_before) == set(after[table]) - set(before[table]), table
        assert all(rows_after[key] == rows_before[key] for key in set(rows_after) - rewritten), table
    for table in ("gitlab__pipelines", "gitlab__pipeline_details", "gitlab__pipeline_jobs", "gitlab__deployments",
                  "gitlab__merge_requests", "gitlab__milestones"):
        assert changed_keys(before[table], after[table]) - (set(after[table]) - set(before[table])), \
            f"advance(1) should change some existing {table}"
    assert set(after["gitlab__releases"]) - set(before["gitlab__releases"]), "the closed sprint should be released"


def test_the_pipeline_running_at_the_first_sync_is_updated_with_its_end_and_duration(synced):
    before, after = synced["model_before"]["gitlab__pipeline_details"], synced["model_after"]["gitlab__pipeline_details"]
    finished = [key for key, detail in before.items() if detail["status"] == "running" and after[key]["status"] != "running"]
    assert finished
    for key in finished:
        payload, written_by = synced["rows_after"]["gitlab__pipeline_details"][key]
        assert written_by == synced["incremental"].run_id
        assert payload["duration"] == after[key]["duration"] and _at(payload["finished_at"]) == after[key]["finished_at"]


def test_an_incremental_night_costs_one_page_per_listing_plus_two_requests_per_changed_pipeline(synced):
    night = synced["incremental"]
    pipelines = changed_keys(synced["model_before"]["gitlab__pipelines"], synced["model_after"]["gitlab__pipelines"])
    # every child request is for a new or changed pipeline: its details and its jobs
    assert {name: night.requests_of(name) for name in CHILDREN} == dict.fromkeys(CHILDREN, len(pipelines))
    # the window (72 h + the day advanced) holds < 100 records per listing: one page each
    assert all(night.requests_of(name) == len(night.projects) for name in LISTINGS)
    discovery_and_group_listing = 2
    assert night.requests == discovery_and_group_listing + len(LISTINGS) * len(night.projects) + 2 * len(pipelines)


def test_a_quiet_night_reads_one_page_per_listing_and_rewrites_nothing(synced):
    quiet = synced["quiet"]
    assert quiet.requests == 2 + len(LISTINGS) * len(quiet.projects)
    assert quiet.report.inserted == quiet.report.updated == 0
    assert synced["rows_quiet"] == synced["rows_after"]


# -- faults -----------------------------------------------------------------------------


def test_5xx_bursts_connection_resets_and_truncated_bodies_still_give_the_generator(simulation, tmp_path):
    credentials = Credentials()
    with simulation.server(credentials) as server:
        api = "/gitlab/api/v4"
        server.faults.add(f"{api}/groups/*/projects", "status", status=503, times=2)
        server.faults.add(f"{api}/projects/*/pipelines", "status", status=502, times=3, after=1)
        server.faults.add(f"{api}/projects/*/pipelines/*/jobs", "connection_reset", times=3, after=10)
        server.faults.add(f"{api}/projects/*/pipelines/[0-9]*[0-9]", "truncated_body", times=2, after=20)
        server.faults.add(f"{api}/projects/*/merge_requests", "status", status=500, times=2)
        server.faults.add(f"{api}/projects/*/deployments", "connection_reset", times=1, after=1)
        sync = GitLabSync(f"{server.url_for('/gitlab')}/api/v4", credentials.gitlab_token, tmp_path)
        sync.run()
        fired = server.faults.stats()["fired"]
    assert fired == {"connection_reset": 4, "status": 7, "truncated_body": 2}
    assert_equal_records(loaded_records(sync.all_rows()), model_records(simulation))
