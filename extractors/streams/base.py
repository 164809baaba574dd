"""A stream is a declaration: where its records live and how to replicate them.

No HTTP or paging code lives here; `extractors.extract` interprets the declaration using
`extractors.http.HttpClient`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from extractors.pagination import LinkHeaderPaginator, Paginator

SCOPES = ("org", "repository")
REPLICATIONS = ("full", "sorted_desc")


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
    keep_fields: tuple[str, ...] | None = None  # None keeps the whole payload
    paginator: Paginator = field(default_factory=LinkHeaderPaginator)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _frozen(self.params))
        object.__setattr__(self, "parent_key_fields", _frozen(self.parent_key_fields))
        if self.scope not in SCOPES:
            raise ValueError(f"{self.name}: scope must be one of {SCOPES}, got {self.scope!r}")
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

    @property
    def placeholders(self) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(self.path) if name}

    def record_key(self, record: Mapping[str, Any]) -> str:
        try:
            return ":".join(str(record[field_name]) for field_name in self.primary_key)
        except KeyError as missing:
            raise KeyError(f"{self.name}: record lacks primary key field {missing}") from None

    def project(self, record: Mapping[str, Any]) -> dict[str, Any]:
        if self.keep_fields is None:
            return dict(record)
        return {key: record[key] for key in self.keep_fields if key in record}
