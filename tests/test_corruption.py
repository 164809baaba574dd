"""Corrupted upstream data (simulator.corruption) is quarantined, never published, and alerted.

Against the simulator over HTTP, GitHub (two repositories of the small org) and GitLab
(one project): one night is clean and publishes. Then the simulator serves a seeded plan
of corrupted records and the next night re-reads everything (a full refresh, so every
record the plan chose is read whatever the watermarks say):
- repository A: a pull request created ten years from now, one without `created_at`, one
  served together with a twin of the same number, and a workflow job that ends before it
  starts;
- the GitLab project: a pipeline with a coverage of 123.5 % and a job with a negative duration;
- repository B: new fields the API never had before on a pull request and a deployment.
Repository A's and the GitLab project's batches are quarantined whole, with reasons naming
stream, scope and expectation; repository B loads; nothing is published; the published
warehouse stays readable and unchanged; the alert names each problem.
(Merged-before-created is tests/test_quarantine.py's case, not repeated here.)
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from extractors.extract import BatchManifest
from extractors.http import HttpClient
from kpi import pipeline
from kpi.alerts import notify_task_failure
from kpi.config import load_config
from kpi.pipeline import ExtractionFailed
from simulator.corruption import COVERAGE_ABOVE_100, Corruption, CorruptionPlan
from simulator.generator import SCALES, generate_org
from simulator.github_api import workflow_jobs
from simulator.gitlab import GitLabApi, generate_gitlab
from simulator.server import SimulatorServer
from tests.support.alert_receiver import AlertReceiver
from tests.support.small_warehouse import published_state

ANCHOR = datetime(2026, 11, 23, tzinfo=timezone.utc)
GITLAB_TOKEN = "glpat-corruptiontest0123456789"
NEW_FIELD = "x_sim_added_field"
TINY = "tiny-corruption"


def _night(config, github: HttpClient, gitlab: HttpClient, run_id: str, full_refresh: bool = False):
    """Extract every scope, audit, load, publish: the DAG's steps without dbt."""
    clients = {"github": github, "gitlab": gitlab}
    listings = pipeline.extract_listings(config, run_id, full_refresh, clients=clients)
    results = [pipeline.extract_source_scope(config, scope, run_id, full_refresh,
                                             client=clients[scope.get("source", "github")])
               for scope in pipeline.plan_scopes(config, listings)]
    audited = pipeline.audit_batches(listings + pipeline.scope_manifests(results))
    loaded = pipeline.load_raw(config, audited)
    outcome = pipeline.publish(config, run_id, results, audited)
    return results, audited, loaded, outcome


def _plan(org, gitlab_site, repository: str, other: str) -> tuple[CorruptionPlan, dict[str, Corruption]]:
    """The seeded plan: which record each mode corrupts is drawn from the model's candidates."""
    plan = CorruptionPlan(seed=20261123)
    pulls = org.pull_requests[repository]
    chosen: dict[str, Corruption] = {}
    taken: set[int] = set()
    for mode, field in (("future_date", "created_at"), ("missing_field", "created_at"), ("duplicate_key", "number")):
        pull = plan.pick((pr for pr in pulls if pr.id not in taken), key=lambda pr: pr.id)
        taken.add(pull.id)
        chosen[mode] = plan.add(mode, {"id": pull.id}, path=f"/github/repos/{repository}/pulls", field=field)
    job = plan.pick((job for run in org.workflow_runs[repository] if run.status == "completed"
                     for job in workflow_jobs(run) if job["status"] == "completed"), key=lambda job: job["id"])
    chosen["negative_duration"] = plan.add("negative_duration", {"id": job["id"]},
                                           path=f"/github/repos/{repository}/actions/runs/*/jobs",
                                           field="started_at:completed_at")
    [project] = gitlab_site.projects
    pipeline_ = plan.pick((p for p in project.pipelines if p.coverage is not None), key=lambda p: p.id)
    chosen["coverage_above_100"] = plan.add("coverage_above_100", {"id": pipeline_.id},
                                            path=f"/gitlab/api/v4/projects/*/pipelines/{pipeline_.id}")
    job_owner = plan.pick((p for p in project.pipelines if p.id != pipeline_.id
                           and any(j.duration for j in p.jobs)), key=lambda p: p.id)
    gitlab_job = plan.pick((j for j in job_owner.jobs if j.duration), key=lambda j: j.id)
    chosen["negative_duration_gitlab"] = plan.add("negative_duration", {"id": gitlab_job.id},
                                                  path=f"/gitlab/api/v4/projects/*/pipelines/{job_owner.id}/jobs",
                                                  field="duration")
    new_pull = plan.pick(org.pull_requests[other], key=lambda pr: pr.id)
    chosen["unexpected_field_pull"] = plan.add("unexpected_field", {"id": new_pull.id},
                                               path=f"/github/repos/{other}/pulls", field=NEW_FIELD)
    new_deployment = plan.pick(org.deployments[other], key=lambda d: d.id)
    chosen["unexpected_field_deployment"] = plan.add("unexpected_field", {"id": new_deployment.id},
                                                     path=f"/github/repos/{other}/deployments", field=NEW_FIELD)
    return plan, chosen


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("corruption")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("KPI_DATA_DIR", str(root / "data"))
    receiver = AlertReceiver()
    monkeypatch.setenv("AIRFLOW_CONN_KPI_ALERTS", json.dumps(
        {"conn_type": "http", "host": receiver.url}))
    # A tiny slice of the small org keeps both nights short: two of its repositories (one
    # per team, GitLab hosting the growth one) over its last three weeks.
    small = SCALES["small"]
    monkeypatch.setitem(SCALES, TINY, replace(
        small, teams=(("platform", ("platform-core",)), ("growth", ("mobile-app",))),
        pull_requests=small.pull_requests * 2 // 8 * 21 // small.days, days=21))
    org = generate_org(TINY, seed=11, anchor=ANCHOR)
    repository, other = "acme/platform-core", "acme/mobile-app"
    gitlab_site = generate_gitlab([org.repository(other)], org.seed, org.anchor, SCALES[TINY].days)
    outcome: dict = {"org": org, "repository": repository, "other": other,
                     "project": gitlab_site.projects[0].path_with_namespace, "group": gitlab_site.group_path}
    try:
        with SimulatorServer(org, rate_limit=1_000_000,
                             extra_apis={"/gitlab": GitLabApi(gitlab_site, token=GITLAB_TOKEN)}) as simulator:
            config_path = root / "pipeline.yaml"
            config_path.write_text(textwrap.dedent(f"""
                sources:
                  github:
                    base_url: {simulator.github_url}
                    repositories: [{repository}, {other}]
                    detail_backfill_days: null
                  gitlab:
                    base_url: {simulator.url_for("gitlab")}/api/v4
                    groups: [{gitlab_site.group_path}]
                deployments:
                  production_environments: [production]
                teams:
                  - name: everyone
                    repositories: ["acme/*"]
                """))
            config = load_config(config_path)
            options = {"backoff_base": 0.01, "backoff_max": 0.05, "max_rate_limit_wait": 5}

            def clients():
                return (HttpClient(simulator.github_url, simulator.token, **options),
                        HttpClient(simulator.url_for("gitlab") + "/api/v4", GITLAB_TOKEN, **options))

            outcome["clean"] = _night(config, *clients(), "night-1")
            outcome["after_clean"] = published_state(config.published_warehouse)
            outcome["parquet_after_clean"] = _files(config.data_dir / "published")
            watermarks_clean = pipeline.WarehouseLoader(config.working_warehouse).read_watermarks()

            plan, chosen = _plan(org, gitlab_site, repository, other)
            simulator.corruptions.extend(plan.corruptions)
            outcome["chosen"] = chosen
            outcome["bad"] = _night(config, *clients(), "night-2", full_refresh=True)
            outcome["applied"] = dict(simulator.corruptions.applied)
            outcome["after_bad"] = published_state(config.published_warehouse)
            outcome["parquet_after_bad"] = _files(config.data_dir / "published")
            outcome["watermarks"] = (watermarks_clean,
                                     pipeline.WarehouseLoader(config.working_warehouse).read_watermarks())
            with duckdb.connect(str(config.published_warehouse), read_only=True) as connection:
                outcome["published_tables"] = connection.execute(
                    "select table_schema, table_name from information_schema.tables").fetchall()
            with duckdb.connect(str(config.working_warehouse), read_only=True) as connection:
                outcome["quarantined"] = connection.execute(
                    "select stream, scope, reason from quarantine.batches").fetchall()
                outcome["quarantined_records"] = connection.execute(
                    "select stream, scope, record_key, reason from quarantine.records").fetchall()
                outcome["raw"] = {
                    table: connection.execute(
                        f'select record_key, payload::varchar from raw."{table}" where scope = ?',
                        [other]).fetchall()
                    for table in ("github__pull_requests", "github__deployments")}
            results, audited, _, _ = outcome["bad"]
            with pytest.raises(ExtractionFailed) as failed:
                pipeline.check_scopes(results, audited)
            outcome["error"] = str(failed.value)
            ti = SimpleNamespace(dag_id="kpi_nightly", task_id="check_scopes", map_index=-1, run_id="night-2")
            notify_task_failure({"ti": ti, "run_id": "night-2", "exception": failed.value})
            outcome["alerts"] = list(receiver.alerts)
    finally:
        receiver.shutdown()
        monkeypatch.undo()
    yield outcome


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(path.relative_to(folder)): (path.stat().st_ino, path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


# mode -> (stream, scope key in the fixture, expectation, the argument naming the column)
QUARANTINED = {
    "future_date": ("github__pull_requests", "repository", "expect_column_values_to_be_between",
                    "column='created_at'"),
    "missing_field": ("github__pull_requests", "repository", "expect_column_values_to_not_be_null",
                      "column='created_at'"),
    "duplicate_key": ("github__pull_requests", "repository", "expect_column_values_to_be_unique",
                      "column='number'"),
    "negative_duration": ("github__workflow_jobs", "repository",
                          "expect_column_pair_values_a_to_be_greater_than_b", "column_A='completed_at'"),
    "coverage_above_100": ("gitlab__pipeline_details", "project", "expect_column_values_to_be_between",
                           "column='coverage'"),
    "negative_duration_gitlab": ("gitlab__pipeline_jobs", "project", "expect_column_values_to_be_between",
                                 "column='duration'"),
}


def test_the_clean_night_publishes(nights):
    results, audited, _, outcome = nights["clean"]
    assert audited["quarantined"] == [] and outcome["published"] is True
    assert {result["status"] for result in results} == {"ok"}
    assert nights["after_clean"][2] == "night-1"


def test_every_corruption_was_served(nights):
    applied = nights["applied"]
    assert set(applied) == {"future_date", "missing_field", "duplicate_key", "negative_duration",
                            "coverage_above_100", "unexpected_field"}
    assert all(count >= 1 for count in applied.values())


@pytest.mark.parametrize("mode", sorted(QUARANTINED))
def test_a_corrupted_record_quarantines_its_batch_naming_stream_scope_and_expectation(nights, mode):
    stream, scope_of, expectation, argument = QUARANTINED[mode]
    scope = nights[scope_of]
    reasons = [reason for batch_stream, batch_scope, reason in nights["quarantined"]
               if (batch_stream, batch_scope) == (stream, scope)]
    assert len(reasons) == 1, nights["quarantined"]
    [reason] = reasons
    failed = [line for line in reason.splitlines() if expectation in line and argument in line]
    assert failed, reason
    # the corrupted record is kept in quarantine.records with the expectation it failed
    corruption = nights["chosen"][mode]
    key = str(corruption.match["id"])
    records = {(s, k): r for s, sc, k, r in nights["quarantined_records"] if sc == scope}
    if mode == "duplicate_key":  # the twin carries another id and the same number: both fail
        twin = str(corruption.match["id"] + 10**12)
        assert expectation in records[(stream, key)] and expectation in records[(stream, twin)]
    else:
        assert expectation in records[(stream, key)]


def test_bad_scopes_are_held_whole_and_keep_their_watermarks_while_the_other_loads(nights):
    _, audited, loaded, _ = nights["bad"]
    held = {(entry["stream"], entry["scope"]) for entry in audited["quarantined"]}
    assert {scope for _, scope in held} == {nights["repository"], nights["project"]}
    assert ("github__pull_request_reviews", nights["repository"]) in held  # the family is held with its parent
    accepted = {(manifest.stream, manifest.scope) for manifest in map(BatchManifest.from_file, audited["accepted"])}
    assert {scope for _, scope in accepted} <= {nights["other"], nights["group"]}
    assert ("github__deployments", nights["other"]) in accepted
    assert loaded["batches"] == len(audited["accepted"]) > 0
    clean, bad = nights["watermarks"]
    for scope in (nights["repository"], nights["project"]):
        assert {k: v for k, v in bad.items() if k[1] == scope} == {k: v for k, v in clean.items() if k[1] == scope}


def test_nothing_is_published_and_the_previous_warehouse_stays_readable_and_unchanged(nights):
    assert nights["after_bad"] == nights["after_clean"]  # same file, same inode, night 1's publication
    assert nights["parquet_after_bad"] == nights["parquet_after_clean"]
    assert ("meta", "publication") in nights["published_tables"]
    assert not any(schema in {"raw", "quarantine"} for schema, _ in nights["published_tables"])
    _, _, _, outcome = nights["bad"]
    assert outcome["published"] is False
    assert any(nights["repository"] in blocker for blocker in outcome["blockers"])
    assert any(nights["project"] in blocker for blocker in outcome["blockers"])


def test_the_alert_names_each_problem(nights):
    assert len(nights["alerts"]) == 1
    [alert] = nights["alerts"]
    assert "task check_scopes failed" in alert
    assert f"github__pull_requests {nights['repository']}" in alert and "created_at" in alert
    assert f"github__workflow_jobs {nights['repository']}" in alert and "completed_at" in alert
    assert f"gitlab__pipeline_details {nights['project']}" in alert and "coverage" in alert
    assert "expect_column_values_to_be_unique" in alert and "column='number'" in alert
    assert f"github__pull_requests {nights['other']}" not in alert  # the other repository loaded
    assert "held back with the failed ones" in alert


def test_an_unexpected_new_field_is_kept_in_raw_json_and_does_not_break_the_load(nights):
    """APIs add fields without notice (GitHub and GitLab do so routinely, and call it a
    non-breaking change), so a new field is not bad data: quarantining it would stop the
    warehouse every time an upstream API grew. Streams that keep the whole payload keep the
    new field in the raw JSON (there if we ever want it); streams with a declared field list
    drop it at extraction. Either way the batch passes its audit and loads: the marts read
    named payload fields only, so a field they do not name cannot change them."""
    other = nights["other"]
    _, audited, _, _ = nights["bad"]
    assert not any(entry["scope"] == other and entry["stream"].startswith("github__")
                   for entry in audited["quarantined"])
    deployment = nights["chosen"]["unexpected_field_deployment"]
    pull = nights["chosen"]["unexpected_field_pull"]
    deployments = dict(nights["raw"]["github__deployments"])
    pulls = dict(nights["raw"]["github__pull_requests"])
    assert json.loads(deployments[str(deployment.match["id"])])[NEW_FIELD]["added_by"] == "upstream"
    assert NEW_FIELD not in json.loads(pulls[str(pull.match["id"])])  # projected away: PULL_REQUEST_FIELDS
    assert all(NEW_FIELD not in json.loads(payload) for key, payload in deployments.items()
               if key != str(deployment.match["id"]))


def test_the_coverage_corruption_is_above_100():
    plan = CorruptionPlan(seed=1)
    plan.add("coverage_above_100", {"id": 7}, path="/gitlab/*")
    body = plan.corrupt("/gitlab/api/v4/projects/1/pipelines/7", json.dumps({"id": 7, "coverage": "80.00"}).encode())
    assert json.loads(body)["coverage"] == str(COVERAGE_ABOVE_100) and COVERAGE_ABOVE_100 > 100
    assert plan.corrupt("/github/repos/a/b/pulls", b'[{"id": 7}]') is None  # another path: served clean
