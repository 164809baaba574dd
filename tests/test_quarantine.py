"""Bad data is quarantined, never merged or published, and the rerun after the fix is exact.

Against the simulator over HTTP: one night is clean and published; then a pull request
of one repository turns bad upstream (merged before it was created). That repository's
batches are quarantined whole (stream families land together), the other repositories
load, nothing is published, and the run fails naming the stream, the scope and the
expectation. Once the source is fixed, the next night loads exactly what the model holds.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from kpi import pipeline
from kpi.pipeline import ExtractionFailed
from simulator.generator import generate_org
from simulator.server import SimulatorServer
from tests.support.small_warehouse import published_state
from tests.support.github_sync import Sync, model_keys, warehouse_keys, write_config

ANCHOR = datetime(2026, 11, 23, tzinfo=timezone.utc)


def _night(sync: Sync, config):
    """Extract every scope, audit, load, publish: the DAG's steps without dbt."""
    sync.runs += 1
    run_id = f"night-{sync.runs}"
    client = sync.client()
    listings = pipeline.extract_listings(config, run_id, clients={"github": client})
    results = [pipeline.extract_source_scope(config, scope, run_id, client=sync.client())
               for scope in pipeline.plan_scopes(config, listings)]
    audited = pipeline.audit_batches(listings + pipeline.scope_manifests(results))
    loaded = pipeline.load_raw(config, audited)
    outcome = pipeline.publish(config, run_id, results, audited)
    return results, audited, loaded, outcome


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("quarantine")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("KPI_DATA_DIR", str(root / "data"))
    org = generate_org("small", seed=11, anchor=ANCHOR)
    # Two repositories keep the three nights short: the one that turns bad and one that does not.
    repositories = [repo.full_name for repo in org.repositories
                    if any(pr.merged for pr in org.pull_requests[repo.full_name])][:2]
    with SimulatorServer(org, rate_limit=1_000_000) as simulator:
        config = write_config(root / "pipeline.yaml", simulator.github_url, orgs=(), repositories=repositories)
        warehouse = config.working_warehouse
        sync = Sync(config, simulator.token)
        clean = _night(sync, config)
        published_after_clean = published_state(config.published_warehouse)
        watermarks_after_clean = pipeline.WarehouseLoader(config.working_warehouse).read_watermarks()

        # Upstream a pull request turns bad: merged a day before it was created.
        repository = org.repository(repositories[0])
        pull = max((pr for pr in org.pull_requests[repository.full_name] if pr.merged), key=lambda pr: pr.updated_at)
        original = (pull.merged_at, pull.updated_at)
        bad_moment = org.anchor - timedelta(minutes=5)
        pull.merged_at, pull.updated_at = pull.created_at - timedelta(days=1), bad_moment
        org.revision += 1  # the server drops its cached pages
        bad = _night(sync, config)
        keys_after_bad = warehouse_keys(config.working_warehouse)
        watermarks_after_bad = pipeline.WarehouseLoader(config.working_warehouse).read_watermarks()
        published_after_bad = published_state(config.published_warehouse)
        with duckdb.connect(str(config.working_warehouse), read_only=True) as connection:
            quarantined_batches = connection.execute(
                "select stream, scope, reason, kept_path from quarantine.batches order by stream").fetchall()
            quarantined_pull = connection.execute(
                "select reason from quarantine.records where stream = 'github__pull_requests' "
                "and record_key = ?", [str(pull.id)]).fetchone()

        # The source is fixed (the merge time corrected; updated again).
        pull.merged_at, pull.updated_at = original[0], bad_moment + timedelta(minutes=1)
        org.revision += 1
        fixed = _night(sync, config)
        keys_after_fix = warehouse_keys(config.working_warehouse)
        published_after_fix = published_state(config.published_warehouse)
    monkeypatch.undo()
    yield {
        "org": org, "config": config, "warehouse": warehouse, "repositories": repositories,
        "repository": repository.full_name, "pull": pull, "original_merged_at": original[0],
        "clean": clean, "bad": bad, "fixed": fixed,
        "published": (published_after_clean, published_after_bad, published_after_fix),
        "watermarks": (watermarks_after_clean, watermarks_after_bad),
        "keys_after_bad": keys_after_bad, "keys_after_fix": keys_after_fix,
        "quarantined_batches": quarantined_batches, "quarantined_pull": quarantined_pull,
    }


def test_a_scope_with_a_failing_batch_is_quarantined_whole_and_the_others_load(nights):
    _, audited, loaded, _ = nights["bad"]
    repository = nights["repository"]
    held = {(entry["stream"], entry["scope"]) for entry in audited["quarantined"]}
    # every batch of that repository is held (its family), none of another repository
    assert {scope for _, scope in held} == {repository}
    assert ("github__pull_requests", repository) in held and len(held) > 1
    assert loaded["quarantined_batches"] == len(held)
    assert {(stream, scope) for stream, scope, _, _ in nights["quarantined_batches"]} == held
    # the failing batch names the expectation; its siblings say why they were held
    reasons = {stream: reason for stream, _, reason, _ in nights["quarantined_batches"]}
    assert "expect_column_pair_values_a_to_be_greater_than_b" in reasons["github__pull_requests"]
    assert "column_A='merged_at'" in reasons["github__pull_requests"]
    assert all("held back with" in reason for stream, reason in reasons.items() if stream != "github__pull_requests")
    # the bad record is kept, with the expectation it failed, and the batch file is kept too
    assert nights["quarantined_pull"][0].startswith("failed expect_column_pair_values_a_to_be_greater_than_b")
    assert all(os.path.isfile(kept) for _, _, _, kept in nights["quarantined_batches"])


def test_a_quarantined_scope_keeps_its_watermarks_and_its_bad_record_is_not_merged(nights):
    clean_marks, bad_marks = nights["watermarks"]
    repository = nights["repository"]
    assert {k: v for k, v in bad_marks.items() if k[1] == repository} == \
        {k: v for k, v in clean_marks.items() if k[1] == repository}
    _, audited, loaded, _ = nights["bad"]
    assert loaded["batches"] == len(audited["accepted"]) > 0  # the other repository loaded
    with duckdb.connect(str(nights["warehouse"]), read_only=True) as connection:
        stored = connection.execute(
            "select cast(payload->>'merged_at' as timestamptz) from raw.github__pull_requests where record_key = ?",
            [str(nights["pull"].id)]).fetchone()[0]
    assert stored == nights["original_merged_at"]  # raw still holds the clean night's version


def test_nothing_is_published_and_the_run_fails_naming_stream_scope_and_expectation(nights):
    after_clean, after_bad, _ = nights["published"]
    assert after_bad == after_clean  # same file, same inode, same publication
    results, audited, _, outcome = nights["bad"]
    assert outcome["published"] is False
    assert any(nights["repository"] in blocker for blocker in outcome["blockers"])
    with pytest.raises(ExtractionFailed) as caught:
        pipeline.check_scopes(results, audited)
    message = str(caught.value)
    assert f"github__pull_requests {nights['repository']}" in message
    assert "merged_at" in message and "quarantined" in message


def test_the_night_after_the_fix_loads_exactly_the_model_and_publishes(nights):
    results, audited, _, outcome = nights["fixed"]
    assert audited["quarantined"] == [] and outcome["published"] is True
    pipeline.check_scopes(results, audited)  # a clean night does not raise
    expected = model_keys(nights["org"], only=set(nights["repositories"]), first_synced_at=ANCHOR)
    loaded = nights["keys_after_fix"]
    expected.pop("github__repositories")  # explicit repositories: no org listing is read
    assert expected and all(expected.values())
    for stream, keys in expected.items():
        assert loaded[stream] == keys, stream
    _, _, after_fix = nights["published"]
    assert after_fix[2] == "night-3"
