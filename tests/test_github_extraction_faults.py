"""Failures of issue 4 point 3, injected by the simulator (server.faults), over real HTTP.

After each fault the warehouse must equal the model: no loss, no duplicate; a scope that
cannot finish lands nothing and the next run completes it from its state.
"""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb
import pytest

from extractors.streams.github import GITHUB_STREAMS
from kpi.pipeline import ExtractionFailed, check_scopes
from simulator.generator import generate_org
from simulator.server import SimulatorServer
from tests.support.github_sync import Sync, model_keys, write_config

ANCHOR = datetime(2026, 11, 23, tzinfo=timezone.utc)
REPOS = ("acme/ledger", "acme/observability")


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("KPI_DATA_DIR", str(tmp_path / "data"))
    org = generate_org("small", seed=5, anchor=ANCHOR)
    with SimulatorServer(org, rate_limit=1_000_000) as simulator:
        # A 14-day horizon for one-request-per-parent details keeps these tests fast; the
        # complete-history comparison of every stream is in test_github_extraction.
        config = write_config(tmp_path / "p.yaml", simulator.github_url, orgs=(), repositories=REPOS,
                              detail_backfill_days=14)
        yield org, simulator, Sync(config, simulator.token)


# Streams compared with the model here: all but the horizon-bounded details.
COMPARED = {s.name for s in GITHUB_STREAMS.values() if s.scope == "repository" and not s.bounded_backfill}


def expected(org, repos=REPOS):
    keys = model_keys(org, set(repos))
    return {stream: keys[stream] for stream in COMPARED}


def assert_equals_model(sync, org, repos=REPOS):
    loaded = sync.keys()
    for stream, keys in expected(org, repos).items():
        assert loaded.get(stream, set()) == keys, stream


def test_5xx_bursts_connection_resets_and_truncated_bodies_are_retried(env):
    org, simulator, sync = env
    simulator.faults.add("/github/repos/*/pulls", "status", status=502, times=3)
    simulator.faults.add("/github/repos/*/actions/runs", "connection_reset", times=2)
    simulator.faults.add("/github/repos/*/deployments/*/statuses", "truncated_body", times=3, fraction=0.5)
    simulator.faults.add("/github/repos/*/issues", "status", status=503, times=1, after=1)
    result = sync.run()
    assert set(result.statuses().values()) == {"ok"}
    assert simulator.faults.stats()["fired"] == {"connection_reset": 2, "status": 4, "truncated_body": 3}
    assert_equals_model(sync, org)


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_limit_with_retry_after_is_waited_out(env, status):
    org, simulator, sync = env
    simulator.faults.add("/github/repos/*/pulls/*/reviews", "rate_limited", style="secondary", status=status,
                         retry_after=0, times=2)
    result = sync.run()
    assert set(result.statuses().values()) == {"ok"}
    assert_equals_model(sync, org)


def test_primary_exhaustion_within_the_wait_budget_waits_for_the_reset(env):
    org, simulator, sync = env
    simulator.faults.add("/github/repos/*/releases", "rate_limited", style="primary", reset_in=1, times=1)
    result = sync.run()
    assert set(result.statuses().values()) == {"ok"}
    assert_equals_model(sync, org)


def test_primary_exhaustion_beyond_the_wait_defers_that_scope_cleanly(env):
    org, simulator, sync = env
    # ledger hits the limit on its workflow runs, after its PRs and deployments were read
    simulator.faults.add("/github/repos/acme/ledger/actions/runs", "rate_limited", style="primary",
                         reset_in=3600, times=1)
    first = sync.run()
    assert first.statuses() == {"acme/ledger": "deferred", "acme/observability": "ok"}
    loaded = sync.keys()
    ledger = expected(org, ["acme/ledger"])
    # Stream families (a parent with all its children) finished before the limit are landed,
    # so a scope larger than one rate-limit window still makes progress...
    for stream in ("github__pull_requests", "github__deployments", "github__deployment_statuses",
                   "github__releases", "github__milestones", "github__issues"):
        assert ledger[stream] and ledger[stream] <= loaded[stream], stream
    # ...while the family that hit the limit, and every stream after it, land nothing.
    for stream in ("github__workflow_runs", "github__dependabot_alerts", "github__code_scanning_alerts"):
        assert not ledger[stream] & loaded.get(stream, set()), stream
    with duckdb.connect(str(sync.config.working_warehouse), read_only=True) as connection:
        landed_scopes = {row[0] for row in connection.execute("select distinct scope from raw.github__workflow_jobs").fetchall()}
    assert landed_scopes == {"acme/observability"}  # the runs' children went with their parent
    assert check_scopes(first.results)["deferred"] == ["github:acme/ledger"]  # not a failure
    second = sync.run()
    assert set(second.statuses().values()) == {"ok"}
    assert_equals_model(sync, org)


def test_revoked_token_fails_with_connection_and_scope_named_then_a_rerun_completes(env):
    org, simulator, sync = env
    simulator.faults.add("/github/*", "revoke_token", after=40)
    first = sync.run()
    failed = [r for r in first.results if r["status"] == "failed"]
    assert failed
    with pytest.raises(ExtractionFailed) as caught:
        check_scopes(first.results)
    message = str(caught.value)
    for result in failed:
        assert result["scope"] in message
    assert "'github_default'" in message and "401" in message
    assert simulator.token not in message
    simulator.faults.clear()  # the token is fixed
    second = sync.run()
    assert set(second.statuses().values()) == {"ok"}
    assert_equals_model(sync, org)


def test_permission_denied_fails_only_that_scope(env):
    org, simulator, sync = env
    simulator.faults.add("/github/repos/acme/observability/pulls", "status", status=403,
                         message="Resource not accessible by integration")
    result = sync.run()
    assert result.statuses() == {"acme/ledger": "ok", "acme/observability": "failed"}
    with pytest.raises(ExtractionFailed, match=r"acme/observability.*'github_default'|'github_default'.*acme/observability"):
        check_scopes(result.results)
    loaded = sync.keys()
    assert expected(org, ["acme/ledger"])["github__pull_requests"] <= loaded["github__pull_requests"]


def test_records_inserted_and_updated_while_paging_land_once(env):
    org, simulator, sync = env
    # after the first page of ledger's pulls: one new PR and the oldest one bumped to the top
    simulator.faults.add("/github/repos/acme/ledger/pulls", "mutate_while_paging", after=1, times=1,
                         callback=lambda: simulator.api.churn_pull_requests("acme/ledger"))
    result = sync.run()
    assert set(result.statuses().values()) == {"ok"}
    manifest = next(m for m in result.manifests if m.stream == "github__pull_requests" and m.scope == "acme/ledger")
    assert manifest.records == len(org.pull_requests["acme/ledger"])
    assert_equals_model(sync, org)


def test_deleted_repository_is_skipped_with_a_warning_naming_it(env, caplog):
    org, simulator, sync = env
    simulator.faults.add("/github/repos/acme/ledger*", "status", status=404, message="Not Found")
    result = sync.run()
    assert result.statuses() == {"acme/ledger": "skipped", "acme/observability": "ok"}
    assert "acme/ledger" in caplog.text and "not found" in caplog.text.lower()
    check_scopes(result.results)  # a skip is not a failure


def test_renamed_repository_is_followed_and_keeps_its_configured_name(tmp_path, monkeypatch):
    monkeypatch.setenv("KPI_DATA_DIR", str(tmp_path / "data"))
    org = generate_org("small", seed=7, anchor=ANCHOR)
    [renamed] = [repo for repo in org.repositories if repo.previous_names]
    former = renamed.previous_names[0]
    with SimulatorServer(org, rate_limit=1_000_000) as simulator:
        config = write_config(tmp_path / "p.yaml", simulator.github_url, orgs=(), repositories=(former,))
        sync = Sync(config, simulator.token)
        result = sync.run()
        moved = simulator.count(status=301)
    assert result.statuses() == {former: "ok"}
    assert moved >= 1  # answered with 301 and followed, with the token (else 401)
    assert all(m.scope == former for m in result.manifests)
    loaded = sync.keys()
    assert loaded["github__pull_requests"] == expected(org, [renamed.full_name])["github__pull_requests"]
