"""The steps of the nightly pipeline, as plain functions.

The Airflow DAG (dags/kpi_nightly.py) calls these one task each, and the CLI can call
them without Airflow. Each step takes the validated configuration and passes on only
small, JSON-serialisable values (scopes, manifest paths) so they travel through XCom.

Flow: list the orgs' repositories -> extract each scope to landing batches -> audit the batches
(Great Expectations) -> merge them into the working warehouse and advance watermarks
(one transaction) -> dbt build -> audit the marts -> publish a read-only copy.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
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
from kpi.config import PipelineConfig
from kpi.credentials import MissingCredentials
from kpi.sources import GitHubAdapter, SourceAdapter, all_streams, configured_sources, source_named

log = logging.getLogger(__name__)

REPOSITORY_STREAMS = GitHubAdapter.repository_streams


def safe_run_id(run_id: str) -> str:
    """Airflow run ids hold ':' and '+'; landing folders should not."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)


class ExtractionFailed(RuntimeError):
    """One or more scopes failed to extract; the others were loaded. Lists every failed scope."""

    def __init__(self, failures: list[dict[str, Any]]) -> None:
        self.failures = failures
        lines = [f"{len(failures)} scope(s) failed to extract (the other scopes were loaded):"]
        lines += [f"  - {failure.get('source', 'github')} {failure['scope']}: {failure['error']}" for failure in failures]
        super().__init__("\n".join(lines))


def _scope_failure_message(connection_id: str, scope: str, error: Exception) -> str:
    """Names the connection and the scope, never a token (errors carry URLs and statuses only)."""
    if isinstance(error, AuthenticationError):
        return (f"connection {connection_id!r} was refused for scope {scope} ({error}); "
                "the token is missing, wrong, expired or revoked: fix the connection and rerun")
    if isinstance(error, PermissionDenied):
        return (f"connection {connection_id!r} lacks permission for scope {scope} ({error}); "
                "grant the token read access to this scope's data and rerun")
    return f"scope {scope} via connection {connection_id!r}: {error}"


def _manifest_path(manifest: BatchManifest) -> str:
    return str(manifest.manifest_path)


def _watermarks_for(all_watermarks: dict[tuple[str, str], Any], scope: str, streams: list) -> dict[str, Any]:
    names = {stream.name for stream in streams}
    return {stream: value for (stream, stream_scope), value in all_watermarks.items()
            if stream_scope == scope and stream in names}


def extract_listings(config: PipelineConfig, run_id: str, full_refresh: bool = False,
                     clients: dict[str, HttpClient] | None = None) -> list[str]:
    """Land every source's listing streams (GitHub orgs' repositories, GitLab groups' projects)."""
    loader = WarehouseLoader(config.working_warehouse)
    watermarks, validators = loader.read_watermarks(), loader.read_validators()
    manifests: list[str] = []
    for source in configured_sources(config):
        if not source.listing_streams:
            continue
        client = (clients or {}).get(source.name) or source.client()
        for scope in source.listing_scopes():
            try:
                landed = extract_scope(
                    client, source.listing_streams, scope,
                    watermarks=_watermarks_for(watermarks, scope, source.listing_streams),
                    run_id=safe_run_id(run_id), landing_dir=config.landing_dir, overlap=source.overlap,
                    full_refresh=full_refresh,
                    validators=_watermarks_for(validators, scope, source.listing_streams),
                )
            except (AuthenticationError, PermissionDenied) as error:
                raise ExtractError(_scope_failure_message(source.connection_id, scope, error)) from None
            manifests += [_manifest_path(manifest) for manifest in landed]
        log.info("%s: listed %d scopes (%d requests)", source.name, len(source.listing_scopes()), client.request_count)
    return manifests


def plan_scopes(config: PipelineConfig, listing_manifest_paths: list[str],
                clients: dict[str, HttpClient] | None = None) -> list[dict[str, Any]]:
    """Every scope of every source tonight, with its stored state (watermarks, validators,
    the parents whose children are already loaded) and source options."""
    listings = [BatchManifest.from_file(Path(path)) for path in listing_manifest_paths]
    loader = WarehouseLoader(config.working_warehouse)
    watermarks, validators = loader.read_watermarks(), loader.read_validators()
    planned: list[dict[str, Any]] = []
    for source in configured_sources(config):
        streams = source.all_streams
        try:
            client = (clients or {}).get(source.name) or (source.client() if source.needs_client_to_plan else None)
            entries = source.scopes(listings, client)
        except (ExtractError, MissingCredentials, ValueError) as error:
            # One source that cannot be planned (Jenkins unreachable, a Jira field name that
            # does not resolve) must not stop the others: its extraction task reports it and
            # `check_scopes` fails the run naming it.
            message = _scope_failure_message(source.connection_id, f"{source.name} discovery", error)
            log.error("%s", message)
            planned.append({"source": source.name, "scope": f"{source.name} discovery", "planning_error": message})
            continue
        loaded_parents = loader.read_loaded_parents(streams, source.overlap)
        for entry in entries:
            scope = entry["scope"]
            planned.append({
                "source": source.name, "scope": scope, "options": entry["options"],
                "watermarks": _watermarks_for(watermarks, scope, streams),
                "validators": _watermarks_for(validators, scope, streams),
                "loaded_parents": loaded_parents.get(scope, {}),
            })
    return planned


def extract_source_scope(config: PipelineConfig, scope: dict[str, Any], run_id: str, full_refresh: bool = False,
                         client: HttpClient | None = None) -> dict[str, Any]:
    """Extract every stream of one scope (a repository, project, job) into landing batches.

    Returns {"source", "scope", "status", "manifests", "error", "requests"}; status is
    - "ok": every stream landed;
    - "deferred": the primary rate limit resets later than we wait; the stream families
      (a parent with its children) completed before that are landed, the others resume
      from their stored state next run;
    - "skipped": the repository answers 404 (deleted or invisible); a warning names it;
    - "failed": a permission/authentication error or retries exhausted; nothing landed,
      the other scopes go on, and `check_scopes` fails the run naming this scope.
    """
    source: SourceAdapter = source_named(config, scope.get("source", "github"))
    name = scope["scope"]
    result: dict[str, Any] = {"source": source.name, "scope": name, "status": "ok", "manifests": [], "error": None}
    if scope.get("planning_error"):
        return {**result, "status": "failed", "error": scope["planning_error"], "requests": 0}
    client = client or source.client()
    before = client.request_count
    try:
        manifests = extract_scope(
            client, source.scope_streams(scope.get("options") or {}), name,
            watermarks=scope.get("watermarks") or {}, run_id=safe_run_id(run_id),
            landing_dir=config.landing_dir, overlap=source.overlap,
            full_refresh=full_refresh, validators=scope.get("validators") or {},
            loaded_parents=scope.get("loaded_parents") or {},
            detail_horizon=source.detail_horizon,
        )
    except RateLimitDeferred as deferred:
        landed = deferred.landed if isinstance(deferred, ScopeDeferred) else []
        log.warning("%s scope %s deferred: %s; %d complete stream families landed, the rest resumes from "
                    "its state next run", source.name, name, deferred, len({m.stream for m in landed}))
        result.update(status="deferred", error=str(deferred),
                      manifests=[_manifest_path(manifest) for manifest in landed])
    except RepositoryNotFound as missing:
        log.warning("skipping repository %s: %s", name, missing)
        result.update(status="skipped", error=str(missing))
    except ExtractError as error:
        message = _scope_failure_message(source.connection_id, name, error)
        log.error("%s", message)
        result.update(status="failed", error=message)
    else:
        result["manifests"] = [_manifest_path(manifest) for manifest in manifests]
        log.info("extracted %s %s: %s (%d requests, %d not modified)", source.name, name,
                 ", ".join(f"{m.stream}={m.records}" for m in manifests), client.request_count - before,
                 sum(m.not_modified for m in manifests))
    result["requests"] = client.request_count - before
    return result


def scope_manifests(results: list[dict[str, Any]]) -> list[str]:
    return [path for result in results for path in result.get("manifests", [])]


def check_scopes(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Raise ExtractionFailed listing every failed scope; report deferred and skipped ones."""
    summary = {status: sorted(f"{r.get('source', 'github')}:{r['scope']}" for r in results if r["status"] == status)
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
    """Merge the audited batches and the team mappings into the working warehouse."""
    config.working_warehouse.parent.mkdir(parents=True, exist_ok=True)
    loader = WarehouseLoader(config.working_warehouse)
    manifests = [BatchManifest.from_file(Path(path)) for path in manifest_paths]
    report = loader.load(manifests)
    loader.ensure_raw_tables(all_streams())
    # Every repository ever loaded keeps its team, even when this run skipped it.
    repositories = sorted(_loaded_repositories(config.working_warehouse))
    mapping = [{"repository": repository, "team": config.team_of(repository)} for repository in repositories]
    projects = [{"project_key": key, "team": config.team_of_project(key)}
                for key in (config.sources.jira.projects if config.sources.jira else [])]
    teams = sorted({team.name for team in config.teams} | {row["team"] for row in mapping + projects})
    loader.load_reference_table("config__repository_teams", mapping,
                                columns={"repository": "VARCHAR", "team": "VARCHAR"})
    loader.load_reference_table("config__jira_project_teams", projects,
                                columns={"project_key": "VARCHAR", "team": "VARCHAR"})
    loader.load_reference_table("config__jenkins_job_repositories", _jenkins_job_repositories(config.working_warehouse),
                                columns={"job": "VARCHAR", "repository": "VARCHAR"})
    loader.load_reference_table("config__teams", [{"team": team} for team in teams])
    return {"batches": len(manifests), "repositories": len(repositories), "report": str(report)}


# A git remote as Jenkins records it: https://host/owner/repo(.git) or git@host:owner/repo.git
_REMOTE_REPOSITORY = re.compile(r"[:/]([A-Za-z0-9._-]+/[A-Za-z0-9._-]+?)(?:\.git)?/?$")


def repository_of_remote(url: str) -> str | None:
    match = _REMOTE_REPOSITORY.search(url.strip())
    return match.group(1) if match else None


def _jenkins_job_repositories(warehouse: Path) -> list[dict[str, str]]:
    """Each Jenkins job and the repository of its latest build's first git remote."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        if not connection.execute("select count(*) from information_schema.tables "
                                  "where table_schema = 'raw' and table_name = 'jenkins__builds'").fetchone()[0]:
            return []
        rows = connection.execute(
            "select scope, arg_max(json_extract_string(payload, '$.checkouts[0].remote_urls[0]'), "
            "cast(json_extract_string(payload, '$.number') as bigint)) from raw.jenkins__builds group by scope"
        ).fetchall()
    return [{"job": job, "repository": repository_of_remote(url)} for job, url in rows
            if url and repository_of_remote(url)]


def _loaded_repositories(warehouse: Path) -> set[str]:
    """owner/repo names of every repository in the raw layer: GitHub repository scopes,
    GitLab project paths and the git remotes Jenkins builds checked out."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        tables = {
            row[0] for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
            ).fetchall()
        }
        scoped = [stream.name for stream in REPOSITORY_STREAMS] + ["gitlab__pipelines", "gitlab__merge_requests"]
        names: set[str] = set()
        for table in scoped:
            if table in tables:
                names.update(row[0] for row in connection.execute(f'select distinct scope from raw."{table}"').fetchall())
        if "jenkins__builds" in tables:
            remotes = connection.execute(
                "select distinct unnest(json_extract_string(payload, '$.checkouts[*].remote_urls[*]')) "
                "from raw.jenkins__builds").fetchall()
            names.update(filter(None, (repository_of_remote(row[0]) for row in remotes if row[0])))
        return names


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
    manifests = extract_listings(config, run_id, full_refresh)
    results = [extract_source_scope(config, scope, run_id, full_refresh) for scope in plan_scopes(config, manifests)]
    manifests += scope_manifests(results)
    audit_batches(manifests)
    load_raw(config, manifests)
    build_marts(config)
    audit_marts(config)
    counts = publish(config, run_id)
    check_scopes(results)  # after publishing the scopes that worked: the run still fails loudly
    return counts
