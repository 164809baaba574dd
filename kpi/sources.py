"""One adapter per configured source: how to reach it, which scopes it has tonight, and
which streams each scope runs. The pipeline (kpi.pipeline) is written against this
interface only, so adding a source is one adapter here plus its streams in extractors/.

A night per source: the *listing* streams run over the listing scopes (GitHub orgs,
GitLab groups) and land like any stream; `scopes()` then names the scopes to extract
(repositories, projects, jobs), each in its own mapped Airflow task.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

from extractors.extract import BatchManifest
from extractors.http import HttpClient
from extractors.streams.base import Stream
from extractors.streams.github import GITHUB_STREAMS
from extractors.streams.gitlab import GITLAB_GROUP_STREAMS, GITLAB_PROJECT_STREAMS
from extractors.streams.jenkins import JENKINS_STREAMS, discover_jenkins_jobs
from extractors.streams.jira import JiraFieldMapping, jira_streams, reconcile_due, resolve_field_mapping, streams_for
from kpi.config import PipelineConfig, check_transport
from kpi.credentials import get_basic_credentials, get_github_credentials, get_token_credentials


class SourceAdapter:
    name: ClassVar[str]
    listing_streams: ClassVar[list[Stream]] = []

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.settings = getattr(config.sources, self.name)

    @property
    def connection_id(self) -> str:
        return self.settings.connection_id

    @property
    def overlap(self) -> timedelta:
        return timedelta(hours=self.settings.overlap_hours)

    @property
    def detail_horizon(self) -> timedelta | None:
        days = getattr(self.settings, "detail_backfill_days", None)
        return None if days is None else timedelta(days=days)

    def client(self) -> HttpClient:
        base_url, credentials = self._credentials()
        check_transport(base_url, self.settings.allow_insecure_http)  # the connection may override base_url
        return HttpClient(base_url, credentials, max_rate_limit_wait=self.settings.max_rate_limit_wait_seconds)

    def _credentials(self):  # pragma: no cover - interface
        raise NotImplementedError

    def listing_scopes(self) -> list[str]:
        return []

    def scopes(self, listings: list[BatchManifest], client: HttpClient | None) -> list[dict[str, Any]]:
        """Tonight's scopes: [{"scope": name, "options": {...}}]; `client` is given to sources
        that must ask the server (Jenkins folders, Jira field names)."""
        raise NotImplementedError  # pragma: no cover - interface

    def scope_streams(self, options: dict[str, Any]) -> list[Stream]:
        raise NotImplementedError  # pragma: no cover - interface

    @property
    def all_streams(self) -> list[Stream]:
        """Every stream a scope of this source may run (for children-skip state)."""
        return self.scope_streams({})

    @property
    def needs_client_to_plan(self) -> bool:
        return False


class GitHubAdapter(SourceAdapter):
    name = "github"
    listing_streams = [stream for stream in GITHUB_STREAMS.values() if stream.scope == "org"]
    repository_streams = [stream for stream in GITHUB_STREAMS.values() if stream.scope == "repository"]

    def _credentials(self):
        return get_github_credentials(self.settings.connection_id, self.settings.base_url)

    def listing_scopes(self) -> list[str]:
        return list(self.settings.orgs)

    def scopes(self, listings: list[BatchManifest], client: HttpClient | None) -> list[dict[str, Any]]:
        repositories: set[str] = set(self.settings.repositories)
        for manifest in listings:
            if manifest.stream == "github__repositories":
                repositories.update(_batch_values(Path(manifest.path), "full_name"))
                if manifest.not_modified:  # 304: the listing is what the warehouse already holds
                    repositories.update(_stored_values(self.config.working_warehouse, "github__repositories",
                                                       "full_name", manifest.scope))
        return [{"scope": repository, "options": {}} for repository in sorted(repositories)]

    def scope_streams(self, options: dict[str, Any]) -> list[Stream]:
        return self.repository_streams


class GitLabAdapter(SourceAdapter):
    name = "gitlab"
    listing_streams = GITLAB_GROUP_STREAMS

    def _credentials(self):
        return get_token_credentials(self.settings.connection_id, self.settings.base_url)

    def listing_scopes(self) -> list[str]:
        return list(self.settings.groups)

    def scopes(self, listings: list[BatchManifest], client: HttpClient | None) -> list[dict[str, Any]]:
        projects: set[str] = set()
        for manifest in listings:
            if manifest.stream == "gitlab__projects":
                projects.update(_batch_values(Path(manifest.path), "path_with_namespace"))
                if manifest.not_modified:
                    projects.update(_stored_values(self.config.working_warehouse, "gitlab__projects",
                                                   "path_with_namespace", manifest.scope))
        return [{"scope": project, "options": {}} for project in sorted(projects)]

    def scope_streams(self, options: dict[str, Any]) -> list[Stream]:
        return GITLAB_PROJECT_STREAMS


class JenkinsAdapter(SourceAdapter):
    name = "jenkins"

    def _credentials(self):
        return get_basic_credentials(self.settings.connection_id, self.settings.base_url)

    @property
    def needs_client_to_plan(self) -> bool:
        return True

    def scopes(self, listings: list[BatchManifest], client: HttpClient | None) -> list[dict[str, Any]]:
        jobs = discover_jenkins_jobs(client or self.client(), tuple(self.settings.folders))
        return [{"scope": job, "options": {}} for job in jobs]

    def scope_streams(self, options: dict[str, Any]) -> list[Stream]:
        return list(JENKINS_STREAMS.values())


class JiraAdapter(SourceAdapter):
    name = "jira"

    def _credentials(self):
        if self.settings.flavour == "cloud":  # Cloud: e-mail + API token; Server/DC: a personal access token
            return get_basic_credentials(self.settings.connection_id, self.settings.base_url)
        return get_token_credentials(self.settings.connection_id, self.settings.base_url)

    @property
    def needs_client_to_plan(self) -> bool:
        return True

    def scopes(self, listings: list[BatchManifest], client: HttpClient | None) -> list[dict[str, Any]]:
        from extractors.loader import WarehouseLoader

        names = {role: value for role, value in self.settings.fields.model_dump().items() if value}
        fields = resolve_field_mapping(client or self.client(), self.settings.flavour, names) if names \
            else JiraFieldMapping()
        last = WarehouseLoader(self.config.working_warehouse).read_last_loaded("jira__issue_keys")
        every, now = timedelta(days=self.settings.reconcile_every_days), datetime.now(timezone.utc)
        return [{"scope": project,
                 "options": {"fields": fields.roles(), "reconcile": reconcile_due(_aware(last.get(project)), every, now)}}
                for project in self.settings.projects]

    def scope_streams(self, options: dict[str, Any]) -> list[Stream]:
        fields = JiraFieldMapping(**(options.get("fields") or {}))
        return streams_for(self.settings.flavour, fields, reconcile=bool(options.get("reconcile")))

    @property
    def all_streams(self) -> list[Stream]:
        return list(jira_streams(self.settings.flavour, JiraFieldMapping()).values())


ADAPTERS: dict[str, type[SourceAdapter]] = {
    adapter.name: adapter for adapter in (GitHubAdapter, GitLabAdapter, JenkinsAdapter, JiraAdapter)
}


def all_streams() -> list[Stream]:
    """Every stream of every source the product knows, configured or not."""
    return [*GITHUB_STREAMS.values(), *GITLAB_GROUP_STREAMS, *GITLAB_PROJECT_STREAMS, *JENKINS_STREAMS.values(),
            *jira_streams("cloud", JiraFieldMapping()).values()]


def configured_sources(config: PipelineConfig) -> list[SourceAdapter]:
    return [adapter(config) for name, adapter in ADAPTERS.items() if getattr(config.sources, name) is not None]


def source_named(config: PipelineConfig, name: str) -> SourceAdapter:
    if name not in ADAPTERS or getattr(config.sources, name) is None:
        raise ValueError(f"source {name!r} is not configured (configured: "
                         f"{[source.name for source in configured_sources(config)]})")
    return ADAPTERS[name](config)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _batch_values(batch_file: Path, field: str) -> list[str]:
    with batch_file.open(encoding="utf-8") as handle:
        return [json.loads(line)["payload"][field] for line in handle if line.strip()]


def _stored_values(warehouse: Path, table: str, field: str, scope: str) -> set[str]:
    import duckdb

    if not warehouse.exists() or not re.fullmatch(r"[a-z_]+", table + field):
        return set()
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        try:
            rows = connection.execute(
                f"select payload->>'{field}' from raw.{table} where scope = ?", [scope]).fetchall()
        except duckdb.CatalogException:
            return set()
    return {row[0] for row in rows if row[0]}
