"""Run stream declarations for one scope and write landing batches.

Landing layout: ``<landing_dir>/<run_id>/<stream>/<scope with / as __>.jsonl`` plus a
``.manifest.json`` next to it. Each line: ``{"record_key", "scope", "updated_at",
"payload"}`` where ``updated_at`` is the record's cursor value. Files are written under a
temporary name and renamed, so a batch that exists is a complete batch.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from extractors.errors import ExtractError
from extractors.http import HttpClient
from extractors.streams.base import Stream

log = logging.getLogger("extractors.extract")


@dataclass(frozen=True)
class BatchManifest:
    stream: str
    scope: str
    run_id: str
    path: str  # the .jsonl batch file
    records: int
    previous_cursor: str | None
    new_cursor: str | None
    extracted_at: str  # ISO 8601, UTC
    requests: int
    complete: bool

    @property
    def manifest_path(self) -> Path:
        return manifest_path_for(Path(self.path))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_file(cls, path: Path | str) -> "BatchManifest":
        """Read a manifest; accepts the .manifest.json path or its .jsonl batch path."""
        path = Path(path)
        if path.suffix == ".jsonl":
            path = manifest_path_for(path)
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def manifest_path_for(batch_path: Path) -> Path:
    return batch_path.with_name(batch_path.name.removesuffix(".jsonl") + ".manifest.json")


def parse_cursor(value: Any) -> datetime | None:
    """Cursor values are ISO 8601 timestamps (GitHub: '2024-05-01T12:00:00Z')."""
    if value is None or value == "":
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def scope_variables(stream: Stream, scope: str) -> dict[str, str]:
    if stream.scope == "org":
        if "/" in scope:
            raise ExtractError(f"{stream.name} is org-scoped; got repository scope {scope!r}")
        return {"org": scope, "owner": scope}
    owner, sep, repo = scope.partition("/")
    if not sep or not owner or not repo or "/" in repo:
        raise ExtractError(f"{stream.name} needs an 'owner/repo' scope, got {scope!r}")
    return {"org": owner, "owner": owner, "repo": repo}


def order_parents_first(streams: Sequence[Stream]) -> list[Stream]:
    by_name = {stream.name: stream for stream in streams}
    ordered: list[Stream] = []
    visiting: set[str] = set()

    def visit(stream: Stream) -> None:
        if stream in ordered:
            return
        if stream.name in visiting:
            raise ExtractError(f"parent cycle through {stream.name}")
        visiting.add(stream.name)
        if stream.parent:
            if stream.parent not in by_name:
                raise ExtractError(
                    f"{stream.name} needs its parent {stream.parent} in the same extraction"
                )
            visit(by_name[stream.parent])
        ordered.append(stream)

    for stream in streams:
        visit(stream)
    return ordered


class _Batch:
    """Records of one stream+scope, deduplicated by key keeping the newest cursor."""

    def __init__(self, stream: Stream, scope: str) -> None:
        self.stream = stream
        self.scope = scope
        self.lines: dict[str, dict[str, Any]] = {}
        self._cursors: dict[str, datetime | None] = {}
        self.max_cursor: tuple[datetime, str] | None = None

    def add(self, payload: dict[str, Any], extra_fields: Mapping[str, Any]) -> None:
        stream = self.stream
        key = stream.record_key(payload)
        cursor_raw = payload.get(stream.cursor_field) if stream.cursor_field else None
        cursor = parse_cursor(cursor_raw)
        if key in self.lines:
            kept = self._cursors[key]
            # A record seen twice (it moved between pages while we paged): keep the newer.
            if kept is not None and (cursor is None or cursor < kept):
                return
        projected = stream.project(payload)
        projected.update(extra_fields)
        self.lines[key] = {
            "record_key": key,
            "scope": self.scope,
            "updated_at": cursor_raw,
            "payload": projected,
        }
        self._cursors[key] = cursor
        if cursor is not None and (self.max_cursor is None or cursor > self.max_cursor[0]):
            self.max_cursor = (cursor, str(cursor_raw))


def extract_scope(
    client: HttpClient,
    streams: Sequence[Stream],
    scope: str,
    *,
    watermarks: Mapping[str, str | None],
    run_id: str,
    landing_dir: Path,
    overlap: timedelta = timedelta(hours=72),
    full_refresh: bool = False,
    now: datetime | None = None,
) -> list[BatchManifest]:
    """Extract every stream for `scope` (parents first) into landing batches.

    `watermarks` maps stream name -> the cursor stored for this scope (None: first run).
    """
    extracted_at = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat()
    parent_records: dict[str, list[dict[str, Any]]] = {}
    manifests: list[BatchManifest] = []
    for stream in order_parents_first(streams):
        previous = None if full_refresh else watermarks.get(stream.name)
        requests_before = client.request_count
        batch = _Batch(stream, scope)
        raw_records: list[dict[str, Any]] = []
        for payload, extra in _read_stream(client, stream, scope, previous, overlap, parent_records):
            batch.add(payload, extra)
            raw_records.append(payload)
        parent_records[stream.name] = raw_records
        manifest = _write_batch(
            batch,
            run_id=run_id,
            landing_dir=landing_dir,
            previous_cursor=watermarks.get(stream.name),
            extracted_at=extracted_at,
            requests=client.request_count - requests_before,
        )
        log.info(
            "extracted %s for %s: %d records in %d requests",
            stream.name, scope, manifest.records, manifest.requests,
        )
        manifests.append(manifest)
    return manifests


def _read_stream(
    client: HttpClient,
    stream: Stream,
    scope: str,
    watermark: str | None,
    overlap: timedelta,
    parent_records: Mapping[str, list[dict[str, Any]]],
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yield (record, fields to add) for the stream, honouring its replication mode."""
    variables = scope_variables(stream, scope)
    if stream.parent is None:
        yield from ((record, {}) for record in _read_path(client, stream, variables, watermark, overlap))
        return
    for parent in parent_records[stream.parent]:
        child_fields = {name: parent[source] for name, source in stream.parent_key_fields.items()}
        for record in _read_path(client, stream, {**variables, **child_fields}, watermark, overlap):
            yield record, child_fields


def _read_path(
    client: HttpClient,
    stream: Stream,
    variables: Mapping[str, Any],
    watermark: str | None,
    overlap: timedelta,
) -> Iterator[dict[str, Any]]:
    try:
        path = stream.path.format(**variables)
    except KeyError as missing:
        raise ExtractError(f"{stream.name}: no value for path placeholder {missing}") from None
    bound = None
    if stream.replication == "sorted_desc" and watermark:
        bound = parse_cursor(watermark) - overlap
    pages = client.paginate(
        path, stream.params, records_path=stream.records_path, paginator=stream.paginator
    )
    for page in pages:
        if bound is None:
            yield from page.records
            continue
        fresh = [r for r in page.records if _cursor_at_least(r, stream.cursor_field, bound)]
        yield from fresh
        if page.records and not fresh:
            # Sorted newest first: a page entirely older than the bound ends the read.
            break


def _cursor_at_least(record: Mapping[str, Any], cursor_field: str | None, bound: datetime) -> bool:
    cursor = parse_cursor(record.get(cursor_field)) if cursor_field else None
    return cursor is None or cursor >= bound  # unknown cursor: keep rather than lose


def _write_batch(
    batch: _Batch,
    *,
    run_id: str,
    landing_dir: Path,
    previous_cursor: str | None,
    extracted_at: str,
    requests: int,
) -> BatchManifest:
    stream_dir = Path(landing_dir) / run_id / batch.stream.name
    stream_dir.mkdir(parents=True, exist_ok=True)
    batch_path = stream_dir / f"{batch.scope.replace('/', '__')}.jsonl"

    new_cursor = previous_cursor
    if batch.max_cursor is not None:
        previous = parse_cursor(previous_cursor)
        if previous is None or batch.max_cursor[0] > previous:
            new_cursor = batch.max_cursor[1]

    # sort_keys: the same payload always serialises to the same bytes, which the loader's
    # "update only when the payload changed" comparison relies on.
    lines = (json.dumps(line, sort_keys=True, separators=(",", ":")) for line in batch.lines.values())
    _atomic_write(batch_path, "".join(f"{line}\n" for line in lines))
    manifest = BatchManifest(
        stream=batch.stream.name,
        scope=batch.scope,
        run_id=run_id,
        path=str(batch_path),
        records=len(batch.lines),
        previous_cursor=previous_cursor,
        new_cursor=new_cursor,
        extracted_at=extracted_at,
        requests=requests,
        complete=True,
    )
    _atomic_write(manifest.manifest_path, manifest.to_json() + "\n")
    return manifest


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
