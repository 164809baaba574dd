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

from extractors.extract import BatchManifest, extract_scope
from extractors.http import HttpClient
from extractors.loader import WarehouseLoader
from extractors.streams.github import GITHUB_STREAMS
from kpi.config import PipelineConfig, check_transport
from kpi.credentials import get_connection_endpoint

log = logging.getLogger(__name__)

ORG_STREAMS = [stream for stream in GITHUB_STREAMS.values() if stream.scope == "org"]
REPOSITORY_STREAMS = [stream for stream in GITHUB_STREAMS.values() if stream.scope == "repository"]


def safe_run_id(run_id: str) -> str:
    """Airflow run ids hold ':' and '+'; landing folders should not."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)


def github_client(config: PipelineConfig) -> HttpClient:
    source = config.sources.github
    base_url, token = get_connection_endpoint(source.connection_id, source.base_url)
    check_transport(base_url, source.allow_insecure_http)  # the connection may override base_url
    return HttpClient(base_url, token, max_rate_limit_wait=source.max_rate_limit_wait_seconds)


def _manifest_path(manifest: BatchManifest) -> str:
    return str(manifest.manifest_path)


def _watermarks_for(all_watermarks: dict[tuple[str, str], str], scope: str) -> dict[str, str | None]:
    return {stream: cursor for (stream, stream_scope), cursor in all_watermarks.items() if stream_scope == scope}


def extract_orgs(config: PipelineConfig, run_id: str, full_refresh: bool = False) -> list[str]:
    """Land the org-level streams (the repository listing of each configured org)."""
    github = config.sources.github
    client = github_client(config)
    watermarks = WarehouseLoader(config.working_warehouse).read_watermarks()
    manifests: list[str] = []
    for org in github.orgs:
        manifests += [
            _manifest_path(manifest)
            for manifest in extract_scope(
                client, ORG_STREAMS, org,
                watermarks=_watermarks_for(watermarks, org), run_id=safe_run_id(run_id),
                landing_dir=config.landing_dir, overlap=timedelta(hours=github.overlap_hours),
                full_refresh=full_refresh,
            )
        ]
    log.info("listed %d orgs (%d requests)", len(github.orgs), client.request_count)
    return manifests


def plan_scopes(config: PipelineConfig, org_manifest_paths: list[str]) -> list[dict[str, Any]]:
    """Every repository in scope (listed by the orgs, plus explicit ones), with its watermarks."""
    repositories: set[str] = set(config.sources.github.repositories)
    for manifest_path in org_manifest_paths:
        manifest = BatchManifest.from_file(Path(manifest_path))
        if manifest.stream == "github__repositories":
            repositories.update(_full_names(Path(manifest.path)))
    watermarks = WarehouseLoader(config.working_warehouse).read_watermarks()
    return [
        {"scope": repository, "watermarks": _watermarks_for(watermarks, repository)}
        for repository in sorted(repositories)
    ]


def _full_names(batch_file: Path) -> list[str]:
    with batch_file.open(encoding="utf-8") as handle:
        return [json.loads(line)["payload"]["full_name"] for line in handle if line.strip()]


def extract_repository(config: PipelineConfig, scope: dict[str, Any], run_id: str, full_refresh: bool = False) -> list[str]:
    """Extract every repository-level stream of one repository into landing batches."""
    client = github_client(config)
    manifests = extract_scope(
        client, REPOSITORY_STREAMS, scope["scope"],
        watermarks=scope.get("watermarks") or {}, run_id=safe_run_id(run_id),
        landing_dir=config.landing_dir, overlap=timedelta(hours=config.sources.github.overlap_hours),
        full_refresh=full_refresh,
    )
    log.info("extracted %s: %s (%d requests)", scope["scope"],
             ", ".join(f"{m.stream}={m.records}" for m in manifests), client.request_count)
    return [_manifest_path(manifest) for manifest in manifests]


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
    for scope in plan_scopes(config, manifests):
        manifests += extract_repository(config, scope, run_id, full_refresh)
    audit_batches(manifests)
    load_raw(config, manifests)
    build_marts(config)
    audit_marts(config)
    return publish(config, run_id)
