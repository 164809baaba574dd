"""The pipeline configuration: `config/pipeline.yaml`, validated with pydantic.

Secrets never live in this file. Tokens come from Airflow connections (or, outside
Airflow, from environment variables): see `kpi.credentials`. A value that looks like a
secret is refused with an error naming the key path, so a token pasted here by
mistake never reaches git, the warehouse or a log.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config" / "pipeline.yaml"
CONFIG_ENV_VAR = "KPI_CONFIG"
DATA_DIR_ENV_VAR = "KPI_DATA_DIR"

# Keys that name a secret, and values shaped like well-known token formats.
_SECRET_KEY = re.compile(r"(token|password|passwd|secret|api[_-]?key|private[_-]?key|credential)", re.I)
_SECRET_VALUE = re.compile(
    r"^(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_\-]{20,}|xox[bap]-[A-Za-z0-9-]{10,}|ATATT[A-Za-z0-9_\-=]{20,})$"
)
# A GitHub owner or repository name: letters, digits, '-', '_' and '.', nothing that could
# change a URL path, a SQL literal or a shell word.
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,99})"
_OWNER_RE = re.compile(rf"^{_NAME}$")
_REPO_PATTERN_RE = re.compile(r"^[A-Za-z0-9._*?-]{1,100}/[A-Za-z0-9._*?-]{1,100}$")


class ConfigError(ValueError):
    """A configuration file is wrong; the message names the file, the key path and what was expected."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _HttpSource(_Strict):
    """What every HTTP source shares: where it is, which connection holds its secret, how
    far behind the watermark a night re-reads, how long to wait at a rate limit."""

    base_url: str
    connection_id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    overlap_hours: float = Field(default=72, ge=0, description="re-read window behind the watermark")
    max_rate_limit_wait_seconds: float = Field(default=900, ge=0)
    allow_insecure_http: bool = Field(default=False, description="permit http:// to a non-loopback host")
    max_parallel_scopes: int = Field(
        default=4, ge=1, le=64,
        description="scopes extracted at once (the size of the source's Airflow pool kpi_api_<source>)")

    @field_validator("base_url")
    @classmethod
    def _url_is_safe(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"expected an http(s) URL with a host, got {value!r}")
        if parts.username or parts.password:
            raise ValueError("credentials must not be embedded in base_url; use the Airflow connection")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _plain_http_only_on_loopback(self):
        check_transport(self.base_url, self.allow_insecure_http)
        return self


class GitHubSource(_HttpSource):
    base_url: str = Field(description="REST API root: https://api.github.com, https://ghe.example.com/api/v3, or the simulator")
    connection_id: str = Field(default="github_default", pattern=r"^[A-Za-z0-9_.-]+$")
    orgs: list[Annotated[str, Field(pattern=_OWNER_RE.pattern)]] = Field(default_factory=list)
    repositories: list[Annotated[str, Field(pattern=rf"^{_NAME}/{_NAME}$")]] = Field(default_factory=list)
    detail_backfill_days: float | None = Field(
        default=14, gt=0,
        description="first sync: read reviews, PR commits, job and artifact lists (one request per parent) only for "
                    "parents active in the last N days of each repository; null = all (full_refresh always reads all)",
    )

    @model_validator(mode="after")
    def _has_scopes(self) -> "GitHubSource":
        if not self.orgs and not self.repositories:
            raise ValueError("name at least one of 'orgs' or 'repositories'")
        return self


class JiraFields(_Strict):
    """Custom fields by id (customfield_10010) or by name (Severity); null = not used."""

    severity: str | None = None
    environment: str | None = None
    team: str | None = None


# Jira bumps an issue's `updated` with every change, so the overlap only has to cover the
# JQL time zone (dates are read in the extraction account's zone, at worst UTC-12, plus an
# hour of daylight saving) and the search index's lag: 14 hours, not GitHub's 72 (whose
# late status updates do not move a listing's sort key). Each hour re-reads that hour's
# updated issues every night.
JIRA_DEFAULT_OVERLAP_HOURS = 14


class JiraSource(_HttpSource):
    connection_id: str = Field(default="jira_default", pattern=r"^[A-Za-z0-9_.-]+$")
    overlap_hours: float = Field(
        default=JIRA_DEFAULT_OVERLAP_HOURS, ge=0,
        description="re-read window behind the watermark; the default is safe for an account in any time zone")
    flavour: str = Field(default="cloud", pattern=r"^(cloud|server)$",
                         description="cloud: /rest/api/3/search/jql; server: Server/Data Center /rest/api/2/search")
    projects: list[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{1,9}$")]] = Field(min_length=1)
    fields: JiraFields = Field(default_factory=JiraFields)
    reconcile_every_days: float = Field(default=7, gt=0, description="list every issue key this often to detect deletions")


class JenkinsSource(_HttpSource):
    connection_id: str = Field(default="jenkins_default", pattern=r"^[A-Za-z0-9_.-]+$")
    folders: list[Annotated[str, Field(pattern=r"^[^/]+(/[^/]+)*$")]] = Field(
        default_factory=list, description="walk only these folders (empty: the whole controller)")
    detail_backfill_days: float | None = Field(default=14, gt=0)


class GitLabSource(_HttpSource):
    connection_id: str = Field(default="gitlab_default", pattern=r"^[A-Za-z0-9_.-]+$")
    groups: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")]] = Field(
        min_length=1)
    detail_backfill_days: float | None = Field(default=14, gt=0)


class Sources(_Strict):
    github: GitHubSource | None = None
    jira: JiraSource | None = None
    jenkins: JenkinsSource | None = None
    gitlab: GitLabSource | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> "Sources":
        if not any((self.github, self.jira, self.jenkins, self.gitlab)):
            raise ValueError("configure at least one source (github, jira, jenkins or gitlab)")
        return self


class DeploymentRules(_Strict):
    production_environments: list[str] = Field(min_length=1, description="environment names that count as production")
    # A repository's first deployment ships only this much history before it: older
    # merges predate deployment tracking instead of reporting years-long lead times.
    first_deployment_lookback_days: int = Field(default=30, ge=0, le=3650)
    # An incident is attributed to the latest successful deployment finished at most this
    # long before it was opened (change failure rate).
    incident_attribution_hours: int = Field(default=24, ge=1, le=24 * 30)

    @field_validator("production_environments")
    @classmethod
    def _names_are_plain(cls, names: list[str]) -> list[str]:
        for name in names:
            if not re.fullmatch(r"[A-Za-z0-9 ._/-]{1,100}", name):
                raise ValueError(f"environment name {name!r} may only hold letters, digits, space and ._/-")
        return names


class Team(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    repositories: list[Annotated[str, Field(pattern=_REPO_PATTERN_RE.pattern)]] = Field(
        min_length=1, description="owner/repo names; shell-style wildcards (* ?) allowed"
    )
    jira_projects: list[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{1,9}$")]] = Field(
        default_factory=list, description="Jira project keys whose issues are this team's"
    )


class Warehouse(_Strict):
    data_dir: str = Field(default="data", description="relative paths are relative to the project root")

    def resolve(self, root: Path = PROJECT_ROOT) -> Path:
        path = Path(self.data_dir)
        return path if path.is_absolute() else root / path


class PublishRules(_Strict):
    """When a night publishes. The working warehouse always keeps what loaded (nothing is lost
    and the next night goes on from it); the published file is what readers trust."""

    when_scopes_fail: str = Field(
        default="keep_previous", pattern=r"^(keep_previous|publish_good_scopes)$",
        description="keep_previous: a night with a failed scope or a quarantined batch publishes nothing, "
                    "readers keep the previous warehouse; publish_good_scopes: publish what loaded",
    )


class Alerts(_Strict):
    """Where failures are announced: an Airflow connection (a Slack-style webhook as an
    http connection, or an smtp connection for e-mail); none defined = logged only."""

    connection_id: str = Field(default="kpi_alerts", pattern=r"^[A-Za-z0-9_.-]+$")


class PipelineConfig(_Strict):
    warehouse: Warehouse = Field(default_factory=Warehouse)
    publish: PublishRules = Field(default_factory=PublishRules)
    alerts: Alerts = Field(default_factory=Alerts)
    sources: Sources
    deployments: DeploymentRules
    teams: list[Team] = Field(min_length=1)
    unassigned_team: str = Field(default="unassigned", pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    scorecards: str | None = Field(
        default=None, description="the teams' KPI scorecard rules (kpi.scorecards); relative to the project root")
    okrs: str | None = Field(
        default=None, description="folder of the OKR files <period>.yaml (kpi.okrs); relative to the project root")

    @property
    def okrs_dir(self) -> Path | None:
        return _from_project_root(self.okrs)

    @property
    def scorecards_path(self) -> Path | None:
        return _from_project_root(self.scorecards)

    @model_validator(mode="after")
    def _team_names_unique(self) -> "PipelineConfig":
        seen: set[str] = set()
        for team in self.teams:
            if team.name in seen:
                raise ValueError(f"team {team.name!r} is defined twice")
            seen.add(team.name)
        return self

    def team_of_project(self, project_key: str) -> str:
        """The team owning a Jira project (teams[].jira_projects), else `unassigned_team`."""
        return next((team.name for team in self.teams if project_key in team.jira_projects), self.unassigned_team)

    def team_of(self, full_name: str) -> str:
        """The team owning a repository: the first team whose pattern matches, else `unassigned_team`."""
        lowered = full_name.lower()
        for team in self.teams:
            if any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in team.repositories):
                return team.name
        return self.unassigned_team

    # Paths the pipeline writes; all under the data directory.
    @property
    def data_dir(self) -> Path:
        # $KPI_DATA_DIR lets tests and parallel environments keep their own data.
        override = os.environ.get(DATA_DIR_ENV_VAR)
        return Path(override) if override else self.warehouse.resolve()

    @property
    def working_warehouse(self) -> Path:
        return self.data_dir / "warehouse" / "work.duckdb"

    @property
    def published_warehouse(self) -> Path:
        return self.data_dir / "published" / "warehouse.duckdb"

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"


def _from_project_root(value: str | None) -> Path | None:
    """A configured path: absolute as written, relative to the project root otherwise."""
    if value is None:
        return None
    path = Path(value)
    return path if path.is_absolute() else PROJECT_ROOT / path


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(url: str, allow_insecure_http: bool) -> None:
    """Plain http only to this machine, unless explicitly allowed (tokens travel in headers)."""
    parts = urlsplit(url)
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(parts.hostname or ""):
        raise ValueError(
            f"{url!r} uses plain http to a non-loopback host; "
            "use https, or set allow_insecure_http: true if you really mean it"
        )


def _find_secrets(node: Any, path: str = "") -> list[str]:
    """Key paths whose key names a secret or whose value looks like a token."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            child = f"{path}.{key}" if path else str(key)
            # `connection_id` names where a secret lives; it is not one.
            if _SECRET_KEY.search(str(key)) and not str(key).endswith("_id") and value not in (None, "", [], {}):
                found.append(child)
            else:
                found.extend(_find_secrets(value, child))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_find_secrets(value, f"{path}[{index}]"))
    elif isinstance(node, str) and _SECRET_VALUE.match(node.strip()):
        found.append(path)
    return found


def _format_validation_error(path: Path, error: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for problem in error.errors():
        location = ""
        for part in problem["loc"]:
            location += f"[{part}]" if isinstance(part, int) else (f".{part}" if location else str(part))
        expected = problem["msg"]
        if problem["type"] == "extra_forbidden":
            expected = "unknown key (check the spelling; see config/pipeline.yaml for the accepted keys)"
        elif problem["type"] == "missing":
            expected = "required key is missing"
        got = problem.get("input")
        suffix = "" if problem["type"] == "missing" or isinstance(got, (dict, list)) else f" (got {got!r})"
        lines.append(f"  {location or '<root>'}: {expected}{suffix}")
    return "\n".join(lines)


def load_config(path: Path | str | None = None) -> PipelineConfig:
    """Read and validate the pipeline configuration (path, else $KPI_CONFIG, else config/pipeline.yaml)."""
    config_path = Path(path or os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_PATH)
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot read configuration ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{config_path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: expected a mapping at the top level, got {type(raw).__name__}")
    secrets_found = _find_secrets(raw)
    if secrets_found:
        raise ConfigError(
            f"{config_path}: secrets are not allowed in configuration files; found one at "
            + ", ".join(secrets_found)
            + ". Put tokens in an Airflow connection (e.g. github_default) or an environment variable."
        )
    try:
        config = PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(config_path, exc)) from None
    if config.scorecards_path is not None:  # the teams' scorecards are checked with the teams they name
        from kpi.scorecards import load_scorecards

        load_scorecards(config.scorecards_path, {team.name for team in config.teams} | {config.unassigned_team})
    return config
