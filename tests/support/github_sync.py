"""Run the pipeline's extraction + load steps against the simulator, without Airflow.

`Sync` drives `kpi.pipeline` (extract_listings, plan_scopes, extract_source_scope, load) with an
explicit HttpClient, so tests can count requests and inject faults through the simulator.
`model_keys` lists, per raw stream, the record keys the generator's model implies.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from extractors.extract import BatchManifest
from extractors.http import HttpClient
from extractors.loader import LoadReport, WarehouseLoader
from kpi import pipeline
from kpi.config import PipelineConfig, load_config
from datetime import datetime, timedelta

from simulator.github_api import ARTIFACT_RETENTION_DAYS, _stable_child_id, artifact_files, run_artifacts, workflow_jobs
from simulator.model import Org

TEAMS = """
teams:
  - name: payments
    repositories: [acme/payments-*, acme/billing-*, acme/ledger, acme/fraud-*]
  - name: rest
    repositories: ["acme/*"]
"""


def write_config(path: Path, base_url: str, *, orgs=("acme",), repositories=(), detail_backfill_days=None,
                 max_wait: float = 30) -> PipelineConfig:
    backfill = "null" if detail_backfill_days is None else detail_backfill_days
    text = textwrap.dedent(f"""
        sources:
          github:
            base_url: {base_url}
            orgs: [{", ".join(orgs)}]
            repositories: [{", ".join(repositories)}]
            overlap_hours: 72
            max_rate_limit_wait_seconds: {max_wait}
            detail_backfill_days: {backfill}
        deployments:
          production_environments: [production]
        """) + TEAMS
    path.write_text(text)
    return load_config(path)


@dataclass
class SyncResult:
    run_id: str
    results: list[dict[str, Any]]
    manifests: list[BatchManifest]
    report: LoadReport | None
    requests: int
    not_modified: int
    requests_by_stream: Counter = field(default_factory=Counter)

    def statuses(self) -> dict[str, str]:
        return {r["scope"]: r["status"] for r in self.results}


class Sync:
    def __init__(self, config: PipelineConfig, token: str, **client_options: Any) -> None:
        self.config = config
        self.token = token
        options = {"backoff_base": 0.01, "backoff_max": 0.05, "max_rate_limit_wait": config.sources.github.max_rate_limit_wait_seconds}
        options.update(client_options)
        self.client_options = options
        self.runs = 0

    def client(self) -> HttpClient:
        return HttpClient(self.config.sources.github.base_url, self.token, **self.client_options)

    def run(self, full_refresh: bool = False, load: bool = True) -> SyncResult:
        self.runs += 1
        run_id = f"run-{self.runs}"
        client = self.client()
        org_manifests = pipeline.extract_listings(self.config, run_id, full_refresh, clients={"github": client})
        requests = client.request_count
        results = []
        for scope in pipeline.plan_scopes(self.config, org_manifests):
            # One client per repository, like the DAG's mapped tasks.
            scope_client = self.client()
            results.append(pipeline.extract_source_scope(self.config, scope, run_id, full_refresh, client=scope_client))
            requests += scope_client.request_count
        paths = org_manifests + pipeline.scope_manifests(results)
        manifests = [BatchManifest.from_file(path) for path in paths]
        report = WarehouseLoader(self.config.working_warehouse).load(manifests) if load else None
        by_stream: Counter = Counter()
        for manifest in manifests:
            by_stream[manifest.stream] += manifest.requests
        return SyncResult(run_id, results, manifests, report, requests,
                          sum(m.not_modified for m in manifests), by_stream)

    def keys(self) -> dict[str, set[str]]:
        return warehouse_keys(self.config.working_warehouse)


def warehouse_keys(warehouse: Path) -> dict[str, set[str]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [row[0] for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' "
            "and table_name like 'github__%'").fetchall()]
        return {table: {row[0] for row in con.execute(f'select record_key from raw."{table}"').fetchall()}
                for table in tables}


def warehouse_rows(warehouse: Path, table: str) -> dict[str, tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {row[0]: row[1:] for row in con.execute(
            f'select record_key, updated_at, payload::varchar, run_id from raw."{table}"').fetchall()}


def model_keys(org: Org, only: set[str] | None = None, first_synced_at: datetime | None = None) -> dict[str, set[str]]:
    """Record keys per raw stream as the generator's model implies them (`only`: these repositories).

    Reports are read from artifacts not yet expired when first synced (`first_synced_at`,
    default the org's anchor); the warehouse keeps them after the artifact expires."""
    synced_at = first_synced_at or org.anchor
    keys: dict[str, set[str]] = {name: set() for name in (
        "github__repositories", "github__pull_requests", "github__deployments", "github__deployment_statuses",
        "github__pull_request_reviews", "github__pull_request_commits", "github__releases", "github__milestones",
        "github__issues", "github__workflow_runs", "github__workflow_jobs", "github__workflow_artifacts",
        "github__code_scanning_alerts", "github__dependabot_alerts", "github__commits",
        "github__artifact_reports")}
    for repo in org.repositories:
        name = repo.full_name
        if only is not None and name not in only:
            continue
        keys["github__repositories"].add(str(repo.id))
        keys["github__commits"].update(f"{name}#{commit.sha}" for commit in repo.commits)
        for pr in org.pull_requests.get(name, []):
            keys["github__pull_requests"].add(str(pr.id))
            keys["github__pull_request_reviews"].update(str(review.id) for review in pr.reviews)
            keys["github__pull_request_commits"].update(f"{pr.id}:{commit.sha}" for commit in pr.commits[:250])
        for deployment in org.deployments.get(name, []):
            keys["github__deployments"].add(str(deployment.id))
            keys["github__deployment_statuses"].update(str(status.id) for status in deployment.statuses)
        keys["github__releases"].update(str(release.id) for release in org.releases.get(name, []))
        keys["github__milestones"].update(
            str(_stable_child_id(org, name, 4_000_000_000, m.number)) for m in org.milestones.get(name, []))
        keys["github__issues"].update(str(issue.id) for issue in org.issues.get(name, []))
        for run in org.workflow_runs.get(name, []):
            keys["github__workflow_runs"].add(str(run.id))
            keys["github__workflow_jobs"].update(str(job["id"]) for job in workflow_jobs(run))
            keys["github__workflow_artifacts"].update(str(artifact_id) for artifact_id, _ in run_artifacts(run))
            # Reports of pull-request runs are not downloaded (the KPIs read the default branch).
            if run.event != "pull_request" and run.updated_at + timedelta(days=ARTIFACT_RETENTION_DAYS) >= synced_at:
                for _, artifact_name in run_artifacts(run):
                    files, _ = artifact_files(org, run, artifact_name)
                    keys["github__artifact_reports"].update(
                        f"{name}#{run.id}:{artifact_name}.zip/{member}" for member in files)
        for alert in org.security_alerts.get(name, []):
            stream = "github__code_scanning_alerts" if alert.kind == "code_scanning" else "github__dependabot_alerts"
            keys[stream].add(f"{name}#{alert.number}")
    return keys


def model_versions(org: Org) -> dict[str, dict[str, Any]]:
    """Per stream, record key -> a version stamp that changes whenever the model changes the record."""
    versions: dict[str, dict[str, Any]] = {"github__pull_requests": {}, "github__deployments": {},
                                           "github__workflow_runs": {}}
    for repo in org.repositories:
        for pr in org.pull_requests.get(repo.full_name, []):
            versions["github__pull_requests"][str(pr.id)] = (pr.updated_at, pr.state, pr.merged_at)
        for deployment in org.deployments.get(repo.full_name, []):
            versions["github__deployments"][str(deployment.id)] = (deployment.updated_at,)
        for run in org.workflow_runs.get(repo.full_name, []):
            versions["github__workflow_runs"][str(run.id)] = (run.updated_at, run.status, run.conclusion)
    return versions
