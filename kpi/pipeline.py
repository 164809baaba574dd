"""The steps of the nightly pipeline, as plain functions.

The Airflow DAG (dags/kpi_nightly.py) calls these one task each, and the CLI can call
them without Airflow. Each step takes the validated configuration and passes on only
small, JSON-serialisable values (scopes, manifest paths) so they travel through XCom.

Flow: list the orgs' repositories -> extract each scope to landing batches -> audit the batches
(Great Expectations; a scope with a failing batch is quarantined whole) -> merge the good
ones into the working warehouse and advance watermarks (one transaction per scope) -> dbt
build -> audit the marts (a failure stops here) -> publish a read-only copy (not when a
scope failed or was quarantined, unless configured) -> fail the run naming what went wrong.
"""

from __future__ import annotations

import logging
import os
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
HELD_BACK = "held back with"  # the reason of a batch quarantined only because a sibling failed


def safe_run_id(run_id: str) -> str:
    """Airflow run ids hold ':' and '+'; landing folders should not."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)


class ExtractionFailed(RuntimeError):
    """One or more scopes failed to extract or had a batch quarantined; the others were
    loaded. Lists every failed scope and every quarantined batch with its reason."""

    def __init__(self, failures: list[dict[str, Any]], quarantined: list[dict[str, Any]] | None = None) -> None:
        self.failures = failures
        self.quarantined = quarantined or []
        lines = []
        if failures:
            lines.append(f"{len(failures)} scope(s) failed to extract (the other scopes were loaded):")
            lines += [f"  - {failure.get('source', 'github')} {failure['scope']}: {failure['error']}"
                      for failure in failures]
        if self.quarantined:
            lines.append(f"{len(self.quarantined)} batch(es) failed their data-quality audit and were quarantined "
                         "(see the warehouse's quarantine schema; their scopes are re-read next run):")
            # The batches that failed, each with its reasons, then one line per scope for the
            # siblings held back with them: an alert shows what is wrong before it is cut short.
            held: dict[tuple[str, str], list[str]] = {}
            for entry in self.quarantined:
                if entry["reason"].startswith(HELD_BACK):
                    held.setdefault((_source_of(entry["stream"]), entry["scope"]), []).append(entry["stream"])
                else:
                    lines.append(f"  - {entry['stream']} {entry['scope']}: {entry['reason']}")
            lines += [f"  - {source} {scope}: {len(streams)} more batch(es) held back with the failed ones "
                      f"(a scope lands whole): {', '.join(sorted(streams))}"
                      for (source, scope), streams in held.items()]
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


def check_scopes(results: list[dict[str, Any]], audited: dict[str, Any] | None = None) -> dict[str, Any]:
    """Raise ExtractionFailed listing every failed scope and quarantined batch; report
    deferred and skipped ones."""
    summary = {status: sorted(f"{r.get('source', 'github')}:{r['scope']}" for r in results if r["status"] == status)
               for status in ("ok", "deferred", "skipped", "failed")}
    for result in results:
        if result["status"] in ("deferred", "skipped"):
            log.warning("scope %s %s: %s", result["scope"], result["status"], result["error"])
    failures = [result for result in results if result["status"] == "failed"]
    quarantined = (audited or {}).get("quarantined", [])
    if failures or quarantined:
        raise ExtractionFailed(failures, quarantined)
    return summary


def _source_of(stream: str) -> str:
    return stream.split("__", 1)[0]


def audit_batches(manifest_paths: list[str], now: datetime | None = None,
                  data_dir: Path | None = None) -> dict[str, Any]:
    """Audit each landing batch with its Great Expectations suite.

    A batch that fails holds back every batch of its source and scope: a scope's stream
    families land together or not at all (children are not re-read for parents already
    loaded, so a parent must never land without its children), and its watermarks stay
    where they were, so the next night re-reads it. Returns
    {"accepted": [manifest paths], "quarantined": [{"manifest", "stream", "scope", "reason",
    "record_reasons"}]}; nothing is raised for bad data: `load_raw` quarantines it and
    `check_scopes` fails the run naming it."""
    from expectations.runner import audit_batch

    manifests = [(path, BatchManifest.from_file(Path(path))) for path in manifest_paths]
    failures: dict[tuple[str, str], tuple[str, Any]] = {}  # the first failed batch of each scope
    failed: dict[str, Any] = {}  # every failed batch: each is quarantined with its own reasons
    rows = 0
    results = []
    for path, manifest in manifests:
        result = audit_batch(Path(manifest.path), manifest.stream, now=now)
        results.append(result)
        rows += result.rows
        if not result.success:
            failures.setdefault((_source_of(manifest.stream), manifest.scope), (path, result))
            failed[path] = result
            log.error("quarantining %s %s: %s", manifest.stream, manifest.scope, result.describe())
    accepted, quarantined = [], []
    for path, manifest in manifests:
        first_failure = failures.get((_source_of(manifest.stream), manifest.scope))
        if first_failure is None:
            accepted.append(path)
            continue
        failed_path, result = first_failure
        if path in failed:
            result = failed[path]
            reason = result.describe()
            record_reasons: dict[str, list[str]] = {}
            for failure in result.failures:
                label = f"{failure.expectation}({', '.join(f'{k}={v}' for k, v in failure.arguments.items())})"
                for key in failure.record_keys:
                    record_reasons.setdefault(key, []).append(label)
            reasons = {key: "failed " + "; ".join(labels) for key, labels in record_reasons.items()}
        else:
            reason = f"{HELD_BACK} {failed_path} (same scope), which failed its audit: {result.suite}"
            reasons = {}
        quarantined.append({"manifest": path, "stream": manifest.stream, "scope": manifest.scope,
                            "reason": reason, "record_reasons": reasons})
    log.info("audited %d batches, %d records; %d batches quarantined", len(manifests), rows, len(quarantined))
    if data_dir is not None:  # GX Data Docs of tonight's batch audit (data/docs/expectations/)
        from expectations.data_docs import write_data_docs_or_log

        write_data_docs_or_log(data_dir, "batches", results, run_name=manifests[0][1].run_id if manifests else None)
    return {"accepted": accepted, "quarantined": quarantined}


def load_raw(config: PipelineConfig, audited: dict[str, Any]) -> dict[str, Any]:
    """Merge the accepted batches and the team mappings into the working warehouse; record
    the quarantined ones in its `quarantine` schema (copies under data/quarantine/)."""
    from extractors.loader import QuarantinedBatch

    config.working_warehouse.parent.mkdir(parents=True, exist_ok=True)
    loader = WarehouseLoader(config.working_warehouse)
    held = [QuarantinedBatch(BatchManifest.from_file(Path(entry["manifest"])), entry["reason"],
                             entry.get("record_reasons") or {}) for entry in audited.get("quarantined", [])]
    quarantined_records = loader.quarantine(held, config.data_dir / "quarantine")
    manifests = [BatchManifest.from_file(Path(path)) for path in audited["accepted"]]
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
    load_kpi_reference_tables(loader)
    okr_key_results = load_okr_reference_tables(loader, config)
    load_scorecard_reference_table(loader, config)
    return {"batches": len(manifests), "repositories": len(repositories), "inserted": report.inserted,
            "updated": report.updated, "quarantined_batches": len(held), "quarantined_records": quarantined_records,
            "okr_key_results": okr_key_results}


def load_okr_reference_tables(loader: WarehouseLoader, config: PipelineConfig) -> int:
    """The OKRs of the folder `okrs:` names (validated: an error names the file and line and
    fails the night before dbt runs, so nothing is published from a broken OKR file; no
    folder configured: empty tables) and the scoring rules, as raw.config__okr_*; returns
    the number of key results."""
    from kpi.okr_scoring import SCORING_COLUMNS, load_scoring
    from kpi.okrs import CHECK_IN_COLUMNS, KEY_RESULT_COLUMNS, OBJECTIVE_COLUMNS, load_okrs

    if config.okrs_dir is None:
        objectives, key_results, check_ins = [], [], []
    else:
        okrs = load_okrs(config.okrs_dir, config=config)
        objectives, key_results, check_ins = okrs.objective_rows(), okrs.key_result_rows(), okrs.check_in_rows()
    loader.load_reference_table("config__okr_objectives", objectives, columns=OBJECTIVE_COLUMNS)
    loader.load_reference_table("config__okr_key_results", key_results, columns=KEY_RESULT_COLUMNS)
    loader.load_reference_table("config__okr_check_ins", check_ins, columns=CHECK_IN_COLUMNS)
    loader.load_reference_table("config__okr_scoring", load_scoring().rows(), columns=SCORING_COLUMNS)
    return len(key_results)


def load_kpi_reference_tables(loader: WarehouseLoader) -> None:
    """The KPI catalogue (config/kpi_catalogue.yaml) as raw.config__kpis and its DORA
    thresholds as raw.config__dora_levels: the period models read how each KPI aggregates
    to a period, and dora_metrics the levels, from the one place they are written."""
    from kpi.catalogue import (
        DORA_LEVEL_REFERENCE_COLUMNS,
        KPI_REFERENCE_COLUMNS,
        dora_level_reference_rows,
        kpi_reference_rows,
        load_catalogue,
    )

    catalogue = load_catalogue()
    loader.load_reference_table("config__kpis", kpi_reference_rows(catalogue), columns=KPI_REFERENCE_COLUMNS)
    loader.load_reference_table("config__dora_levels", dora_level_reference_rows(catalogue),
                                columns=DORA_LEVEL_REFERENCE_COLUMNS)


def load_scorecard_reference_table(loader: WarehouseLoader, config: PipelineConfig) -> int:
    """The teams' scorecard rules (the file `scorecards:` names; none without it) as
    raw.config__scorecard_rules, which marts.kpi_scorecard reads. Returns the rule count."""
    from kpi.scorecards import SCORECARD_RULE_COLUMNS, Scorecards, load_scorecards

    scorecards = Scorecards()
    if config.scorecards_path is not None:
        scorecards = load_scorecards(config.scorecards_path,
                                     {team.name for team in config.teams} | {config.unassigned_team})
    rows = scorecards.rule_rows()
    loader.load_reference_table("config__scorecard_rules", rows, columns=SCORECARD_RULE_COLUMNS)
    return len(rows)


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


def build_marts(config: PipelineConfig, as_of: datetime | None = None, full_refresh: bool = False) -> dict[str, Any]:
    """dbt build: incremental, or a full refresh when asked or when the dbt code, the
    configuration or the reference tables changed since the last build (kpi.dbt_runner.build).
    `as_of` is the moment the marts describe (the DAG passes its run's data interval end, so
    a rerun of the same night, or a backfill of it, builds the same marts); $KPI_AS_OF, when
    set, wins; neither: the build's own clock."""
    from kpi.dbt_runner import build

    extra_env = {"KPI_AS_OF": as_of.isoformat()} if as_of is not None and not os.environ.get("KPI_AS_OF") else {}
    outcome = build(config, full_refresh=full_refresh, extra_env=extra_env)
    summary = next((line for line in reversed(outcome["output"].splitlines()) if "Done." in line), "done")
    log.info("dbt build (%s): %s", "full refresh" if outcome["full_refresh"] else "incremental", summary)
    return {"full_refresh": outcome["full_refresh"], "reason": outcome["reason"]}


def audit_marts(config: PipelineConfig, now: datetime | None = None) -> int:
    from expectations.runner import audit_marts as run_mart_audits
    from expectations.runner import raise_for_failures

    from expectations.data_docs import write_data_docs_or_log

    results = run_mart_audits(config.working_warehouse, now=now)
    write_data_docs_or_log(config.data_dir, "marts", results)  # failed audits documented too
    raise_for_failures(results)
    return sum(result.rows for result in results)


def publish_blockers(config: PipelineConfig, results: list[dict[str, Any]] | None,
                     audited: dict[str, Any] | None) -> list[str]:
    """Why tonight must not replace the published warehouse (empty: publish)."""
    if config.publish.when_scopes_fail == "publish_good_scopes":
        return []
    blockers = [f"scope {r.get('source', 'github')}:{r['scope']} failed" for r in results or []
                if r["status"] == "failed"]
    blockers += [f"batch {q['stream']} {q['scope']} quarantined" for q in (audited or {}).get("quarantined", [])]
    return blockers


def publish(config: PipelineConfig, run_id: str, results: list[dict[str, Any]] | None = None,
            audited: dict[str, Any] | None = None) -> dict[str, Any]:
    """Swap in a new published warehouse, unless tonight had a failed scope or a quarantined
    batch and `publish.when_scopes_fail` is keep_previous: then readers keep the previous
    one untouched (and `check_scopes` fails the run naming the cause)."""
    from kpi.publish import publish as publish_file
    from kpi.status import record_run

    blockers = publish_blockers(config, results, audited)
    if blockers:
        log.warning("not published (publish.when_scopes_fail = keep_previous): %s", "; ".join(blockers))
        record_run(config.working_warehouse, run_id, results, published=False, blockers=blockers)
        return {"published": False, "blockers": blockers}
    counts = publish_file(config.working_warehouse, config.published_warehouse, run_id)
    log.info("published %s: %s", config.published_warehouse, counts)
    record_run(config.working_warehouse, run_id, results, published=True, blockers=[])  # for `kpi status`
    return {"published": True, "tables": counts}


def build_dashboard(config: PipelineConfig, publication: dict[str, Any]) -> dict[str, Any]:
    """The offline HTML dashboard (data/dashboard/index.html) of what was just published; a
    night that kept the previous publication keeps the dashboard of that one."""
    from kpi.dashboard import build_dashboard as build
    from kpi.dashboard import dashboard_path

    if not publication.get("published"):
        return {"built": False, "reason": "nothing published tonight"}
    page = build(config.published_warehouse, dashboard_path(config.data_dir).parent)
    log.info("dashboard: %s", page)
    return {"built": True, "page": str(page)}


def run_all(config: PipelineConfig, run_id: str | None = None, full_refresh: bool = False,
            progress: Any = None) -> dict[str, int]:
    """The whole pipeline in one process, without Airflow (used by the CLI and tests);
    `progress` (kpi.progress.RichProgress for `kpi run`) is told of each scope and step."""
    from kpi.progress import PipelineProgress

    progress = progress or PipelineProgress()
    run_id = run_id or "cli__" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    with progress.step("list repositories and projects"):
        manifests = extract_listings(config, run_id, full_refresh)
    with progress.step("plan scopes"):
        planned = plan_scopes(config, manifests)
    results = [extract_source_scope(config, scope, run_id, full_refresh) for scope in progress.scopes(planned)]
    manifests += scope_manifests(results)
    with progress.step("audit batches (Great Expectations)"):
        audited = audit_batches(manifests, data_dir=config.data_dir)
    with progress.step("load raw"):
        load_raw(config, audited)
    with progress.step("dbt build"):
        build_marts(config, full_refresh=full_refresh)
    with progress.step("audit marts (Great Expectations)"):
        audit_marts(config)
    with progress.step("publish"):
        outcome = publish(config, run_id, results, audited)
    with progress.step("dashboard"):
        build_dashboard(config, outcome)
    check_scopes(results, audited)  # after loading what was good: the run still fails loudly
    return outcome
