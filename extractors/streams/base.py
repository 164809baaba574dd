"""A stream is a declaration: where its records live and how to replicate them.

No HTTP or paging code lives here; `extractors.extract` interprets the declaration using
`extractors.http.HttpClient`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Protocol
from types import MappingProxyType

from extractors.pagination import LinkHeaderPaginator, Paginator

if TYPE_CHECKING:
    from extractors.http import HttpClient

REPLICATIONS = ("full", "sorted_desc")


# Scope kind -> function turning a scope string into the path placeholders it fills. Each
# source registers its kinds next to its streams with `register_scope_kind` (GitHub: org
# and repository; Jira: jira_project; Jenkins: jenkins_job; GitLab: gitlab_group/project).
SCOPE_KINDS: dict[str, Callable[[str], dict[str, str]]] = {}


def register_scope_kind(kind: str, variables: Callable[[str], dict[str, str]]) -> None:
    known = SCOPE_KINDS.get(kind)
    if known is not None and known is not variables:
        raise ValueError(f"scope kind {kind!r} is already registered")
    SCOPE_KINDS[kind] = variables


class StreamReader(Protocol):
    """A stream's own read loop, for endpoints the generic one cannot express (a JQL query
    built from the watermark, Jenkins' `{m,n}` ranges). Yields the stream's records; the
    caller still de-duplicates, projects, lands and tracks the cursor."""

    def __call__(
        self, client: "HttpClient", stream: "Stream", variables: Mapping[str, Any],
        watermark: str | None, overlap: timedelta,
    ) -> Iterator[dict[str, Any]]: ...


def _present(value: Any) -> bool:
    """Set and meaningful: GitHub (2012 recordings) sent plain issues a `pull_request` object
    whose URLs are all null; only a pull request has them filled."""
    if isinstance(value, Mapping):
        return any(item is not None for item in value.values())
    return value not in (None, "", [])


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Stream:
    name: str  # also the raw table name, e.g. github__pull_requests
    source: str  # github, jira, ...
    path: str  # template: placeholders from the scope ({org} {owner} {repo}) or the parent
    primary_key: tuple[str, ...]
    cursor_field: str | None = None
    scope: str = "repository"
    params: Mapping[str, Any] = field(default_factory=dict)
    # full: read everything each run. sorted_desc: endpoint is sorted by cursor_field,
    # newest first, so stop once a whole page is older than watermark - overlap.
    replication: str = "full"
    records_path: str | None = None  # key holding the list when the body is an object
    parent: str | None = None
    # placeholder / child field name -> parent record field, e.g. {"deployment_id": "id"}
    parent_key_fields: Mapping[str, str] = field(default_factory=dict)
    # Fields kept from each record; dotted paths keep part of an object (head.sha).
    # None keeps the whole payload.
    keep_fields: tuple[str, ...] | None = None
    paginator: Paginator = field(default_factory=LinkHeaderPaginator)
    # Query parameters sent only on an incremental read (a watermark exists, no full
    # refresh). Values are templates: {since_iso} / {since_date} are watermark - overlap,
    # e.g. {"since": "{since_iso}"} or {"created": ">={since_date}"}.
    incremental_params: Mapping[str, str] = field(default_factory=dict)
    # Records holding any of these keys (non-null) are dropped, e.g. /issues lists pull
    # requests with a `pull_request` key.
    exclude_if_present: tuple[str, ...] = ()
    # Prefix the record key with the scope: for keys only unique within a repository
    # (alert numbers), so raw tables keyed on record_key never collide across scopes.
    key_includes_scope: bool = False
    # True when any change in the scope moves a record onto the first page (the listing
    # is sorted by update time, newest first): an unchanged first page (HTTP 304) then
    # proves the whole scope unchanged. Otherwise an ETag is only trusted when the first
    # page was the whole read.
    first_page_reflects_changes: bool = False
    # Child streams only: read for every parent in the batch only on a full refresh;
    # otherwise only for parents whose cursor is within `detail_horizon` of the newest
    # parent (extract_scope). One request per parent makes a first sync of years of pull
    # requests or workflow runs cost more than a token's hourly budget; the nightly
    # increment (parents in the overlap window) is always inside the horizon.
    bounded_backfill: bool = False
    # Parent streams: a field that moves whenever the record or its children change
    # (GitHub's updated_at does for pull requests, deployments and workflow runs). Children
    # are re-read only for parents whose value differs from the one already loaded.
    change_field: str | None = "updated_at"
    # A path of the scope's own resource (GitLab: /projects/{project}). A 403 on this stream
    # while the probe answers 200 means the feature is switched off for the scope (CI,
    # environments or releases disabled on a GitLab project): skipped with a warning, not
    # a permission failure of the whole scope.
    feature_probe: str | None = None
    # Replaces the generic paginated read (see StreamReader). None: the generic read.
    reader: StreamReader | None = None
    # Records listing every key of another stream's scope (e.g. all Jira issue keys of a
    # project): when such a batch loads complete, rows of that stream and scope missing
    # from it are marked deleted.
    key_listing_of: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _frozen(self.params))
        object.__setattr__(self, "parent_key_fields", _frozen(self.parent_key_fields))
        object.__setattr__(self, "incremental_params", _frozen(self.incremental_params))
        if self.scope not in SCOPE_KINDS:
            raise ValueError(
                f"{self.name}: scope kind {self.scope!r} is not registered (known: {sorted(SCOPE_KINDS)})"
            )
        if self.replication not in REPLICATIONS:
            raise ValueError(f"{self.name}: replication must be one of {REPLICATIONS}")
        if not self.primary_key:
            raise ValueError(f"{self.name}: primary_key must name at least one field")
        if self.replication == "sorted_desc" and not self.cursor_field:
            raise ValueError(f"{self.name}: sorted_desc replication needs a cursor_field")
        if bool(self.parent) != bool(self.parent_key_fields):
            raise ValueError(f"{self.name}: parent and parent_key_fields go together")
        if not self.name.replace("_", "").isalnum():
            raise ValueError(f"{self.name!r} is not usable as a table name")

    def __hash__(self) -> int:  # params are mappings; the name identifies a stream
        return hash((self.source, self.name))

    def scope_variables(self, scope: str) -> dict[str, str]:
        """The path placeholders a scope string fills, e.g. 'acme/api' -> owner, repo."""
        try:
            return SCOPE_KINDS[self.scope](scope)
        except ValueError as error:
            raise ValueError(f"{self.name}: {error}") from None

    @property
    def placeholders(self) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(self.path) if name}

    def record_key(self, record: Mapping[str, Any], scope: str | None = None) -> str:
        try:
            key = ":".join(str(record[field_name]) for field_name in self.primary_key)
        except KeyError as missing:
            raise KeyError(f"{self.name}: record lacks primary key field {missing}") from None
        if self.key_includes_scope:
            if not scope:
                raise ValueError(f"{self.name}: record keys include the scope; pass scope=")
            return f"{scope}#{key}"
        return key

    def cursor_of(self, record: Mapping[str, Any]) -> Any:
        """The record's cursor value; a dotted cursor_field reads a nested one (commit.committer.date)."""
        if not self.cursor_field:
            return None
        node: Any = record
        for part in self.cursor_field.split("."):
            if not isinstance(node, Mapping):
                return None
            node = node.get(part)
        return node

    def keeps(self, record: Mapping[str, Any]) -> bool:
        """False for records the declaration excludes (e.g. pull requests in /issues)."""
        return not any(_present(record.get(name)) for name in self.exclude_if_present)

    def incremental_query(self, since: "datetime") -> dict[str, str]:
        """The incremental parameters for a read starting at `since` (UTC)."""
        values = {"since_iso": since.strftime("%Y-%m-%dT%H:%M:%SZ"), "since_date": since.strftime("%Y-%m-%d")}
        return {name: template.format(**values) for name, template in self.incremental_params.items()}

    def project(self, record: Mapping[str, Any]) -> dict[str, Any]:
        if self.keep_fields is None:
            return dict(record)
        kept: dict[str, Any] = {}
        for path in self.keep_fields:
            _copy_path(record, kept, path.split("."))
        return kept


def _copy_path(source: Mapping[str, Any], target: dict[str, Any], parts: list[str]) -> None:
    """Copy source[a][b]... into target, creating the intermediate objects."""
    key, rest = parts[0], parts[1:]
    if key not in source:
        return
    value = source[key]
    if not rest or not isinstance(value, Mapping):
        # A null (or scalar) where an object was expected is kept as it is: it is data.
        target.setdefault(key, value)
        return
    nested = target.setdefault(key, {})
    if isinstance(nested, dict):
        _copy_path(value, nested, rest)
