"""`kpi status`: the last run, freshness per source and scope, failures and quarantined
batches, read without taking the pipeline's write lock."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

import duckdb
import pytest
from typer.testing import CliRunner

from extractors.extract import BatchManifest
from extractors.loader import QuarantinedBatch, WarehouseLoader
from kpi.cli import app
from kpi.status import read_status, record_run
from tests.support.warehouse_copy import copy_small_warehouse

runner = CliRunner()


def batch(folder, stream: str, scope: str, keys: list[str], run_id: str = "night2") -> BatchManifest:
    """A landing batch of `keys` (minimal records) with its manifest."""
    path = folder / f"{run_id}-{stream}-{scope.replace('/', '_')}.jsonl"
    now = datetime.now(timezone.utc).isoformat()
    path.write_text("".join(json.dumps({"record_key": key, "scope": scope, "updated_at": now,
                                        "payload": {"id": key}}) + "\n" for key in keys))
    return BatchManifest(stream=stream, scope=scope, run_id=run_id, path=str(path), records=len(keys),
                         previous_cursor=None, new_cursor=None, extracted_at=now, requests=1, complete=True)


@pytest.fixture
def copied(small_warehouse, tmp_path):
    return copy_small_warehouse(small_warehouse, tmp_path)


def test_status_names_the_published_run_and_every_scope_fresh_with_no_failure(small_warehouse):
    config = small_warehouse["config"]
    status = read_status(config)
    assert status.publication["run_id"] == "small_marts"
    assert status.last_run["run_id"] == "small_marts" and status.last_run["published"] is True
    assert status.working_available and status.freshness_from == "working"
    scopes = {(row["source"], row["scope"]) for row in status.freshness}
    repositories = {repository.full_name for repository in small_warehouse["org"].repositories}
    assert {scope for source, scope in scopes if source == "github"} == repositories | {"acme"}
    assert {scope for source, scope in scopes if source == "jira"} == {"GRO", "PAY", "PLAT"}
    assert {source for source, _ in scopes} == {"github", "gitlab", "jenkins", "jira"}
    # Every extracted scope was ok in the last run; listings (the org 'acme') have no scope result.
    assert {row["last_run_status"] for row in status.freshness if row["scope"] != "acme"} == {"ok"}
    assert all(0 <= row["age_hours"] < 24 for row in status.freshness)
    assert status.failures == [] and status.quarantined == []


def test_status_json_lists_failures_and_outstanding_quarantined_batches_with_reasons(copied, tmp_path):
    config, config_path = copied
    loader = WarehouseLoader(config.working_warehouse)
    pull_requests = batch(tmp_path, "github__pull_requests", "acme/ledger", ["pr-1", "pr-2"])
    issues = batch(tmp_path, "jira__issues", "PAY", ["PAY-1"])
    loader.quarantine([QuarantinedBatch(pull_requests, "suite raw__github__pull_requests: merged_at before "
                                        "created_at\n  e.g. {...}"),
                       QuarantinedBatch(issues, "suite raw__jira__issues: key null")], tmp_path / "quarantine")
    loader.load([batch(tmp_path, "jira__issues", "PAY", ["PAY-1"], run_id="night3")])  # PAY loaded again since
    record_run(config.working_warehouse, "night2", [
        {"source": "github", "scope": "acme/ledger", "status": "ok", "requests": 3},
        {"source": "jira", "scope": "PAY", "status": "failed", "error": "connection 'jira_default' was refused"},
    ], published=False, blockers=["scope jira:PAY failed", "batch github__pull_requests acme/ledger quarantined"])

    result = runner.invoke(app, ["status", "--json", "-c", str(config_path)])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["last_run"]["run_id"] == "night2" and status["last_run"]["published"] is False
    assert status["last_run"]["blockers"] == ["scope jira:PAY failed",
                                              "batch github__pull_requests acme/ledger quarantined"]
    assert status["publication"]["run_id"] == "small_marts"  # the previous night stays published
    assert status["failures"] == [{"source": "jira", "scope": "PAY", "status": "failed",
                                   "error": "connection 'jira_default' was refused"}]
    assert [(q["stream"], q["scope"], q["records"]) for q in status["quarantined"]] == [
        ("github__pull_requests", "acme/ledger", 2)]
    assert status["quarantined"][0]["reason"].startswith("suite raw__github__pull_requests: merged_at")
    by_scope = {(row["source"], row["scope"]): row["last_run_status"] for row in status["freshness"]}
    assert by_scope[("jira", "PAY")] == "failed" and by_scope[("github", "acme/ledger")] == "ok"

    table = runner.invoke(app, ["status", "-c", str(config_path)])
    assert table.exit_code == 0, table.output
    assert "not published: scope jira:PAY failed" in table.output
    assert "connection 'jira_default' was refused" in table.output


def test_status_while_a_load_holds_the_lock_says_so_and_uses_the_published_file(copied):
    config, config_path = copied
    # A writer in another process, as a running load_raw would be.
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time\n"
        "c = duckdb.connect(sys.argv[1])\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"), str(config.working_warehouse)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        status = read_status(config)
    finally:
        holder.kill()
        holder.wait()
    assert not status.working_available
    assert "locked by a running pipeline step" in status.working_note
    assert status.freshness_from == "published"
    # The freshness copied into the published file at publish time: every scope, with its age.
    assert {row["source"] for row in status.freshness} == {"github", "gitlab", "jenkins", "jira"}
    assert status.publication["run_id"] == "small_marts" and status.last_run is None


def test_status_before_any_run_says_nothing_is_published(data_dir):
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert "nothing at" in result.output and "no working warehouse" in result.output
