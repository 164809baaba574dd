"""The steps of the nightly pipeline, as plain functions.

The Airflow DAG (dags/kpi_nightly.py) calls these one task each, and the CLI can call
them without Airflow. Each step takes the validated configuration and passes on only
small, JSON-serialisable values (scopes, manifest paths) so they travel through XCom.

Flow: list the orgs' repositories -> extract each scope to landing batches -> audit the batches
(Great Expectations) -> merge them into the working warehouse and advance watermarks
(one transaction) -> dbt build -> audit the marts -> publish a read-only copy.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from extractors.errors import (
    AuthenticationError,
    ExtractError,
    PermissionDenied,
    RateLimitDeferred,
    ScopeDeferred,
)
from extractors.extract import BatchManifest, RepositoryNotFound, extract_scope
from extractors.http import HttpClient
from extractors.loader import WarehouseLoader
from extractors.streams.github import GITHUB_STREAMS
from kpi.config import PipelineConfig, check_transport
from kpi.credentials import get_github_credentials

log = logging.getLogger(__name__)

ORG_STREAMS = [stream for stream in GITHUB_STREAMS.values() if stream.scope == "org"]
REPOSITORY_STREAMS = [stream for stream in GITHUB_STREAMS.values() if stream.scope == "repository"]


def safe_run_id(run_id: str) -> str:
    """Airflow run ids hold ':' and '+'; landing folders should not."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)


class ExtractionFailed(RuntimeError):
    """One or more scopes failed to extract; the others were loaded. Lists every failed scope."""

    def __init__(self, failures: list[dict[str, Any]]) -> None:
        self.failures = failures
        lines = [f"{len(failures)} scope(s) failed to extract (the other scopes were loaded):"]
        lines += [f"  - {failure['scope']}: {failure['error']}" for failure in failures]
        super().__init__("\n".join(lines))


def github_client(config: PipelineConfig) -> HttpClient:
    source = config.sources.github
    base_url, credentials = get_github_credentials(source.connection_id, source.base_url)
    check_transport(base_url, source.allow_insecure_http)  # the connection may override base_url
    return HttpClient(base_url, credentials, max_rate_limit_wait=source.max_rate_limit_wait_seconds)


def _scope_failure_message(connection_id: str, scope: str, error: Exception) -> str:
    """Names the connection and the scope, never a token (errors carry URLs and statuses only)."""
    if isinstance(error, AuthenticationError):
        return (f"connection {connection_id!r} was refused for scope {scope} ({error}); "
                "the token is missing, wrong, expired or revoked: fix the connection and rerun")
    if isinstance(error, PermissionDenied):
        return (f"connection {connection_id!r} lacks permission for scope {scope} ({error}); "
                "grant the token read access to this repository's data and rerun")
    return f"scope {scope} via connection {connection_id!r}: {error}"


def _manifest_path(manifest: BatchManifest) -> str:
    return str(manifest.manifest_path)


def _watermarks_for(all_watermarks: dict[tuple[str, str], str], scope: str) -> dict[str, str | None]:
    return {stream: cursor for (stream, stream_scope), cursor in all_watermarks.items() if stream_scope == scope}


def extract_orgs(config: PipelineConfig, run_id: str, full_refresh: bool = False,
                 client: HttpClient | None = None) -> list[str]:
    """Land the org-level streams (the repository listing of each configured org)."""
    github = config.sources.github
    client = client or github_client(config)
    loader = WarehouseLoader(config.working_warehouse)
    watermarks, validators = loader.read_watermarks(), loader.read_validators()
    manifests: list[str] = []
    for org in github.orgs:
        try:
            landed = extract_scope(
                client, ORG_STREAMS, org,
                watermarks=_watermarks_for(watermarks, org), run_id=safe_run_id(run_id),
                landing_dir=config.landing_dir, overlap=timedelta(hours=github.overlap_hours),
                full_refresh=full_refresh, validators=_watermarks_for(validators, org),
            )
        except (AuthenticationError, PermissionDenied) as error:
            raise ExtractError(_scope_failure_message(github.connection_id, org, error)) from None
        manifests += [_manifest_path(manifest) for manifest in landed]
    log.info("listed %d orgs (%d requests)", len(github.orgs), client.request_count)
    return manifests


def plan_scopes(config: PipelineConfig, org_manifest_paths: list[str]) -> list[dict[str, Any]]:
    """Every repository in scope (listed by the orgs, plus explicit ones), with its watermarks."""
    repositories: set[str] = set(config.sources.github.repositories)
    for manifest_path in org_manifest_paths:
        manifest = BatchManifest.from_file(Path(manifest_path))
        if manifest.stream == "github__repositories":
            repositories.update(_full_names(Path(manifest.path)))
            if manifest.not_modified:  # 304: the listing is what the warehouse already holds
                repositories.update(_stored_full_names(config.working_warehouse, manifest.scope))
    loader = WarehouseLoader(config.working_warehouse)
    watermarks, validators = loader.read_watermarks(), loader.read_validators()
    loaded_parents = loader.read_loaded_parents(REPOSITORY_STREAMS, timedelta(hours=config.sources.github.overlap_hours))
    return [
        {"scope": repository, "watermarks": _watermarks_for(watermarks, repository),
         "validators": _watermarks_for(validators, repository),
         "loaded_parents": loaded_parents.get(repository, {})}
        for repository in sorted(repositories)
    ]


def _stored_full_names(warehouse: Path, org: str) -> set[str]:
    import duckdb

    if not warehouse.exists():
        return set()
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        try:
            rows = connection.execute(
                "select payload->>'full_name' from raw.github__repositories where scope = ?", [org]
            ).fetchall()
        except duckdb.CatalogException:
            return set()
    return {row[0] for row in rows if row[0]}


def _full_names(batch_file: Path) -> list[str]:
    with batch_file.open(encoding="utf-8") as handle:
        return [json.loads(line)["payload"]["full_name"] for line in handle if line.strip()]


def extract_repository(config: PipelineConfig, scope: dict[str, Any], run_id: str, full_refresh: bool = False,
                       client: HttpClient | None = None) -> dict[str, Any]:
    """Extract every repository-level stream of one repository into landing batches.

    Returns {"scope", "status", "manifests", "error", "requests"}; status is
    - "ok": every stream landed;
    - "deferred": the primary rate limit resets later than we wait; the stream families
      (a parent with its children) completed before that are landed, the others resume
      from their stored state next run;
    - "skipped": the repository answers 404 (deleted or invisible); a warning names it;
    - "failed": a permission/authentication error or retries exhausted; nothing landed,
      the other scopes go on, and `check_scopes` fails the run naming this scope.
    """
    github = config.sources.github
    client = client or github_client(config)
    name = scope["scope"]
    result: dict[str, Any] = {"scope": name, "status": "ok", "manifests": [], "error": None}
    before = client.request_count
    try:
        manifests = extract_scope(
            client, REPOSITORY_STREAMS, name,
            watermarks=scope.get("watermarks") or {}, run_id=safe_run_id(run_id),
            landing_dir=config.landing_dir, overlap=timedelta(hours=github.overlap_hours),
            full_refresh=full_refresh, validators=scope.get("validators") or {},
            loaded_parents=scope.get("loaded_parents") or {},
            detail_horizon=None if github.detail_backfill_days is None else timedelta(days=github.detail_backfill_days),
        )
    except RateLimitDeferred as deferred:
        landed = deferred.landed if isinstance(deferred, ScopeDeferred) else []
        log.warning("scope %s deferred: %s; %d complete stream families landed, the rest resumes from "
                    "its state next run", name, deferred, len({m.stream for m in landed}))
        result.update(status="deferred", error=str(deferred),
                      manifests=[_manifest_path(manifest) for manifest in landed])
    except RepositoryNotFound as missing:
        log.warning("skipping repository %s: %s", name, missing)
        result.update(status="skipped", error=str(missing))
    except ExtractError as error:
        message = _scope_failure_message(github.connection_id, name, error)
        log.error("%s", message)
        result.update(status="failed", error=message)
    else:
        result["manifests"] = [_manifest_path(manifest) for manifest in manifests]
        log.info("extracted %s: %s (%d requests, %d not modified)", name,
                 ", ".join(f"{m.stream}={m.records}" for m in manifests), client.request_count - before,
                 sum(m.not_modified for m in manifests))
    result["requests"] = client.request_count - before
    return result


def repository_manifests(results: list[dict[str, Any]]) -> list[str]:
    return [path for result in results for path in result.get("manifests", [])]


def check_scopes(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Raise ExtractionFailed listing every failed scope; report deferred and skipped ones."""
    summary = {status: sorted(r["scope"] for r in results if r["status"] == status)
               for status in ("ok", "deferred", "skipped", "failed")}
    for result in results:
        if result["status"] in ("deferred", "skipped"):
            log.warning("scope %s %s: %s", result["scope"], result["status"], result["error"])
    failures = [result for result in results if result["status"] == "failed"]
    if failures:
        raise ExtractionFailed(failures)
    return summary


def audit_batches(manifest_paths: list[str], now: datetime | None = None) -> list[str]:
    """Audit each landing batch; raise DataQualityError naming every failed expectation."""
    from expectations.runner import audit_batch, raise_for_failures

    results = []
    for manifest_path in manifest_paths:
        manifest = BatchManifest.from_file(Path(manifest_path))
        results.append(audit_batch(Path(manifest.path), manifest.stream, now=now))
    raise_for_failures(results)
    log.info("audited %d batches, %d records", len(results), sum(r.rows for r in results))
    return manifest_paths


def load_raw(config: PipelineConfig, manifest_paths: list[str]) -> dict[str, Any]:
    """Merge the audited batches and the team mapping into the working warehouse."""
    config.working_warehouse.parent.mkdir(parents=True, exist_ok=True)
    loader = WarehouseLoader(config.working_warehouse)
    manifests = [BatchManifest.from_file(Path(path)) for path in manifest_paths]
    report = loader.load(manifests)
    # Every repository ever loaded keeps its team, even when this run skipped it.
    repositories = sorted(
        {m.scope for m in manifests if m.stream in {s.name for s in REPOSITORY_STREAMS}}
        | _loaded_repositories(config.working_warehouse)
    )
    mapping = [{"repository": repository, "team": config.team_of(repository)} for repository in repositories]
    teams = sorted({team.name for team in config.teams} | {row["team"] for row in mapping})
    loader.load_reference_table("config__repository_teams", mapping)
    loader.load_reference_table("config__teams", [{"team": team} for team in teams])
    return {"batches": len(manifests), "repositories": len(repositories), "report": str(report)}


def _loaded_repositories(warehouse: Path) -> set[str]:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        tables = {
            row[0] for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
            ).fetchall()
        }
        scopes: set[str] = set()
        for stream in REPOSITORY_STREAMS:
            if stream.name in tables:
                scopes.update(row[0] for row in connection.execute(f'select distinct scope from raw."{stream.name}"').fetchall())
        return scopes


def build_marts(config: PipelineConfig) -> None:
    from kpi.dbt_runner import run_dbt

    output = run_dbt(config, "build")
    log.info("dbt build: %s", next((l for l in reversed(output.splitlines()) if "Done." in l), "done"))


def audit_marts(config: PipelineConfig, now: datetime | None = None) -> int:
    from expectations.runner import audit_marts as run_mart_audits
    from expectations.runner import raise_for_failures

    results = run_mart_audits(config.working_warehouse, now=now)
    raise_for_failures(results)
    return sum(result.rows for result in results)


def publish(config: PipelineConfig, run_id: str) -> dict[str, int]:
    from kpi.publish import publish as publish_file

    counts = publish_file(config.working_warehouse, config.published_warehouse, run_id)
    log.info("published %s: %s", config.published_warehouse, counts)
    return counts


def run_all(config: PipelineConfig, run_id: str | None = None, full_refresh: bool = False) -> dict[str, int]:
    """The whole pipeline in one process, without Airflow (used by the CLI and tests)."""
    run_id = run_id or "cli__" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    manifests = extract_orgs(config, run_id, full_refresh)
    results = [extract_repository(config, scope, run_id, full_refresh) for scope in plan_scopes(config, manifests)]
    manifests += repository_manifests(results)
    audit_batches(manifests)
    load_raw(config, manifests)
    build_marts(config)
    audit_marts(config)
    counts = publish(config, run_id)
    check_scopes(results)  # after publishing the scopes that worked: the run still fails loudly
    return counts
