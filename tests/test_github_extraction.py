"""GitHub extraction against the simulator over real HTTP: complete, incremental, conditional."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from extractors.streams.github import GITHUB_STREAMS
from simulator.generator import generate_org
from simulator.server import SimulatorServer
from tests.support.github_sync import Sync, model_keys, model_versions, warehouse_rows, write_config

ANCHOR = datetime(2026, 11, 23, tzinfo=timezone.utc)
TOP_LEVEL_REPOSITORY_STREAMS = [s for s in GITHUB_STREAMS.values() if s.scope == "repository" and not s.parent]


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    """One simulated org: full sync, then advance(1) + incremental, then two quiet nights."""
    root = tmp_path_factory.mktemp("github-sync")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("KPI_DATA_DIR", str(root / "data"))
    org = generate_org("small", seed=11, anchor=ANCHOR)
    with SimulatorServer(org, rate_limit=1_000_000) as simulator:
        config = write_config(root / "pipeline.yaml", simulator.github_url)
        sync = Sync(config, simulator.token)
        full = sync.run()
        keys_after_full = sync.keys()
        model_after_full = model_keys(org)
        first_anchor = org.anchor
        before = model_versions(org)
        rows_before = {table: warehouse_rows(config.working_warehouse, table) for table in keys_after_full}
        org.advance(1)
        incremental = sync.run()
        keys_after_incremental = sync.keys()
        model_after_advance = model_keys(org, first_synced_at=first_anchor)
        after = model_versions(org)
        rows_after = {table: warehouse_rows(config.working_warehouse, table) for table in keys_after_incremental}
        quiet_first = sync.run()
        quiet = sync.run()
    monkeypatch.undo()
    yield {
        "full": full, "incremental": incremental, "quiet_first": quiet_first, "quiet": quiet,
        "keys_after_full": keys_after_full, "model_after_full": model_after_full,
        "keys_after_incremental": keys_after_incremental, "model_after_advance": model_after_advance,
        "versions_before": before, "versions_after": after, "rows_before": rows_before, "rows_after": rows_after,
        "scopes": len(org.repositories),
    }


def test_full_sync_equals_the_generator_records_per_stream(synced):
    model, loaded = synced["model_after_full"], synced["keys_after_full"]
    assert set(loaded) == set(model)
    for stream in model:
        assert len(loaded[stream]) == len(model[stream]), stream
        assert loaded[stream] == model[stream], stream
    assert all(r["status"] == "ok" for r in synced["full"].results)
    assert synced["full"].report.inserted == sum(len(keys) for keys in model.values())


def test_issues_exclude_pull_requests_and_alert_keys_carry_the_repository(synced):
    loaded = synced["keys_after_full"]
    assert not loaded["github__issues"] & loaded["github__pull_requests"]
    assert all("#" in key and key.startswith("acme/") for key in loaded["github__dependabot_alerts"])


def test_incremental_sync_after_advance_loads_exactly_the_new_and_changed_records(synced):
    model, loaded = synced["model_after_advance"], synced["keys_after_incremental"]
    for stream in model:
        assert loaded[stream] == model[stream], stream
    run_id = synced["incremental"].run_id
    for stream, keys in model.items():
        new = keys - synced["model_after_full"][stream]
        inserted = {key for key, row in synced["rows_after"][stream].items()
                    if key not in synced["rows_before"][stream]}
        assert inserted == new, stream  # exactly the new records, nothing re-inserted
        assert all(synced["rows_after"][stream][key][2] == run_id for key in new)
    for stream, before in synced["versions_before"].items():
        after = synced["versions_after"][stream]
        changed = {key for key in before if before[key] != after[key]}
        if stream == "github__pull_requests":
            assert changed, "advance(1) should change some pull requests"
        rows_before, rows_after = synced["rows_before"][stream], synced["rows_after"][stream]
        # every record the model changed was rewritten by the incremental run ...
        assert {key for key in changed if rows_after[key][2] == run_id} == changed, stream
        # ... and records outside the overlap window were not touched
        untouched = {key for key in before if rows_after[key] == rows_before[key]}
        assert untouched and not untouched & changed, stream
    report = synced["incremental"].report
    assert report.inserted == sum(len(model[s] - synced["model_after_full"][s]) for s in model)


def test_a_quiet_night_costs_one_request_per_stream_and_scope_mostly_304(synced):
    quiet = synced["quiet"]
    floor = 1 + synced["scopes"] * len(TOP_LEVEL_REPOSITORY_STREAMS)  # + the org's repository listing
    assert quiet.requests <= floor
    assert quiet.not_modified == quiet.requests  # every one a 304
    assert quiet.report.inserted == quiet.report.updated == 0
    # child streams cost nothing when their parent scope is unchanged
    for stream in GITHUB_STREAMS.values():
        if stream.parent:
            assert quiet.requests_by_stream[stream.name] == 0


def test_the_first_quiet_night_after_changes_rereads_only_the_overlap_windows(synced):
    # Streams filtered server-side by the watermark (issues `since`, runs `created>=`) ask a
    # new URL after a night that moved their watermark, so their first page cannot be a 304
    # yet; their parents in the window are listed again, but children of unchanged parents
    # are not re-read. Nothing is loaded.
    first = synced["quiet_first"]
    assert first.report.inserted == first.report.updated == 0
    children = [s.name for s in GITHUB_STREAMS.values() if s.parent is not None]
    assert {name: first.requests_by_stream[name] for name in children} == dict.fromkeys(children, 0)
    listings = [s.name for s in GITHUB_STREAMS.values() if s.scope == "repository" and s.parent is None]
    # one page per listing and scope, plus the rare second page of a window holding > 100 records
    assert first.requests <= len(listings) * synced["scopes"] * 1.1
    assert first.not_modified >= synced["scopes"] * 4  # pulls, deployments, milestones, alerts ...


def test_full_refresh_ignores_watermarks_and_validators(tmp_path, monkeypatch):
    monkeypatch.setenv("KPI_DATA_DIR", str(tmp_path / "data"))
    org = generate_org("small", seed=3, anchor=ANCHOR)
    with SimulatorServer(org, rate_limit=1_000_000) as simulator:
        config = write_config(tmp_path / "p.yaml", simulator.github_url, orgs=(), repositories=("acme/ledger",))
        sync = Sync(config, simulator.token)
        first = sync.run()
        sync.run()
        refresh = sync.run(full_refresh=True)
    assert refresh.not_modified == 0
    assert refresh.requests == first.requests
    assert refresh.report.inserted == 0
