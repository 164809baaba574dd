"""Merge landing batches into DuckDB raw tables and advance watermarks, atomically per scope.

A `load()` commits scope by scope: the batches of one scope (a repository, project, job:
every stream family the extractor landed for it, parents with their children), their
watermarks, HTTP validators and load-log rows are one transaction, merged and moved
together or not at all. A night's memory is then bounded by its largest scope, not by the
whole night (a first sync of a 200-repository org is millions of rows, more than DuckDB
may hold uncommitted in the loader's memory cap). When a scope fails, its transaction is
rolled back, the scopes before it stay committed, and the load raises naming the batch:
rerunning the same batches is idempotent (unchanged rows are not rewritten, watermarks
never move backwards), and the failed scope's watermark did not move, so the next night
re-reads it. A family never lands without its children, which the child-skip of the
extractor (children not re-read for parents already loaded) relies on.

HTTP validators (the first-page ETag per stream and scope, with the URL it belongs to) live
in `ops.http_validators`, not in `raw._stream_state`: they are a cache of the source's
responses, which legitimately changes when the request URL changes (the first incremental
read after a full sync) although no data changed, so keeping them out of `raw` keeps the
guarantee "re-running the same window leaves every raw table identical". Rows are only rewritten when their payload changed, so reloading the same
window leaves the raw tables byte-identical. DuckDB allows a single writer per file, so a
connection is opened per call and closed right after.

Deletions: a batch whose manifest has `key_listing_of` lists every current key of that
stream in its scope (e.g. all Jira issue ids of a project). It is not stored as a table:
its keys are staged for the load, and once every batch of the load is merged, rows of
`raw.<that stream>` in the scope whose key is in no listing and in no batch of the load get
`_deleted_at` (the listing's extraction time); rows listed or loaded again get it cleared
and `_undeleted_at` set to the load's time (so incremental staging can find them).
Marking after the merge makes the order of batches irrelevant: an issue moved from project
A to B is re-scoped by B's issue batch (or found in B's listing) before A's listing judges it.
The marking (and the listings' load-log rows, which pace reconciliations) is the load's
final transaction: a load that fails before it marks nothing, and the listings are taken
again next run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import duckdb

from extractors.errors import LoadError
from extractors.extract import BatchManifest, parse_cursor
from extractors.streams.base import Stream

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_STATE_DDL = """
CREATE TABLE IF NOT EXISTS raw._stream_state (
    stream VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    cursor_value VARCHAR,
    moved_at TIMESTAMPTZ NOT NULL,
    run_id VARCHAR NOT NULL,
    PRIMARY KEY (stream, scope)
)"""

_LOAD_LOG_DDL = """
CREATE TABLE IF NOT EXISTS raw._load_log (
    run_id VARCHAR NOT NULL,
    stream VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    inserted BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    unchanged BIGINT NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
)"""

_VALIDATORS_DDL = """
CREATE TABLE IF NOT EXISTS ops.http_validators (
    stream VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    url VARCHAR NOT NULL,
    etag VARCHAR NOT NULL,
    stored_at TIMESTAMPTZ NOT NULL,
    run_id VARCHAR NOT NULL,
    PRIMARY KEY (stream, scope)
)"""

# No PRIMARY KEY on raw tables: DuckDB checks a key through the table's ART index, which it
# holds in memory, so a load's memory would grow with the table (millions of keys on a large
# organisation) past the loader's cap -- the large first sync ran out of memory that way.
# record_key stays unique by construction: a batch is deduplicated when staged, a row is
# inserted only when no row holds its key (an anti-join, which spills to disk), and there is
# one writer per file. tests/test_loader.py pins it.
_RAW_TABLE_DDL = """
CREATE TABLE IF NOT EXISTS raw.{table} (
    record_key VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    updated_at TIMESTAMPTZ,
    payload JSON NOT NULL,
    extracted_at TIMESTAMPTZ NOT NULL,
    run_id VARCHAR NOT NULL
)"""

# Batch lines are read with an explicit schema so an empty or odd file cannot change the
# inferred types.
_STAGE_SQL = """
CREATE OR REPLACE TEMP TABLE _stage AS
SELECT record_key, scope, CAST(updated_at AS TIMESTAMPTZ) AS updated_at, payload
FROM read_json(
    ?,
    format = 'newline_delimited',
    columns = {record_key: 'VARCHAR', scope: 'VARCHAR', updated_at: 'VARCHAR', payload: 'JSON'}
)
"""

_DUPLICATES_SQL = "SELECT count(*) - count(DISTINCT record_key) FROM _stage"

# Duplicate keys in a batch (a hand-made one, a search re-read while paging) collapse to
# the newest (`updated_at`, nulls last; between equals, any one). Chosen on keys and row ids
# only: a window over the payloads held every payload in memory at once and ran out of the
# loader's cap on a 60 MB batch of Jira issues with changelogs.
_DEDUPLICATE_SQL = """
DELETE FROM _stage WHERE rowid NOT IN (
    SELECT coalesce(max_by(rowid, updated_at), max(rowid)) FROM _stage GROUP BY record_key
)
"""

# One scan of the raw table per batch: the staged keys already present, and whether their
# payload changed. Counting, updating and inserting then read this (usually small) table
# instead of joining the whole raw table three times.
_MATCH_SQL = """
CREATE OR REPLACE TEMP TABLE _matched AS
SELECT s.record_key,
       CAST(t.payload AS VARCHAR) IS DISTINCT FROM CAST(s.payload AS VARCHAR) AS changed
FROM _stage s JOIN raw.{table} t ON t.record_key = s.record_key
"""

_COUNT_SQL = """
SELECT
    (SELECT count(*) FROM _stage) - (SELECT count(*) FROM _matched) AS inserted,
    (SELECT count(*) FROM _matched WHERE changed) AS updated,
    (SELECT count(*) FROM _matched WHERE NOT changed) AS unchanged,
    (SELECT count(*) FROM _stage WHERE record_key IS NULL OR payload IS NULL) AS invalid
"""

_UPDATE_SQL = """
UPDATE raw.{table} AS t
SET scope = s.scope, updated_at = s.updated_at, payload = s.payload,
    extracted_at = CAST(? AS TIMESTAMPTZ), run_id = ?
FROM _stage s JOIN _matched m ON m.record_key = s.record_key AND m.changed
WHERE t.record_key = s.record_key
"""

_INSERT_SQL = """
INSERT INTO raw.{table} (record_key, scope, updated_at, payload, extracted_at, run_id)
SELECT s.record_key, s.scope, s.updated_at, s.payload, CAST(? AS TIMESTAMPTZ), ?
FROM _stage s ANTI JOIN _matched m ON m.record_key = s.record_key
"""


# Deletion tracking (key listings). Temp tables live for the load's connection only.
_DELETED_COLUMN_DDL = "ALTER TABLE raw.{table} ADD COLUMN IF NOT EXISTS _deleted_at TIMESTAMPTZ"
# When a row marked deleted last came back (listed or delivered again). An undelete may not
# rewrite the row, so its batch's load time stays old: this is how incremental staging finds
# tonight's undeletes without comparing every live raw row with the staged table.
_UNDELETED_COLUMN_DDL = "ALTER TABLE raw.{table} ADD COLUMN IF NOT EXISTS _undeleted_at TIMESTAMPTZ"


def _add_deletion_columns(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """`_deleted_at` and `_undeleted_at` on a raw table whose stream has a key listing."""
    con.execute(_DELETED_COLUMN_DDL.format(table=table))
    con.execute(_UNDELETED_COLUMN_DDL.format(table=table))


_LISTING_TEMP_DDL = """
CREATE OR REPLACE TEMP TABLE _listed (stream VARCHAR NOT NULL, scope VARCHAR NOT NULL, record_key VARCHAR NOT NULL);
CREATE OR REPLACE TEMP TABLE _merged_keys (stream VARCHAR NOT NULL, record_key VARCHAR NOT NULL);
"""
_LISTING_STAGE_SQL = """
CREATE OR REPLACE TEMP TABLE _listing_stage AS
SELECT DISTINCT record_key
FROM read_json(
    ?,
    format = 'newline_delimited',
    columns = {record_key: 'VARCHAR', scope: 'VARCHAR', updated_at: 'VARCHAR', payload: 'JSON'}
)
"""
_UNDELETE_LOADED_SQL = """
UPDATE raw.{table} AS t SET _deleted_at = NULL, _undeleted_at = now()
FROM _stage s
WHERE t.record_key = s.record_key AND t._deleted_at IS NOT NULL
"""
_UNDELETE_LISTED_SQL = """
UPDATE raw.{table} AS t SET _deleted_at = NULL, _undeleted_at = now()
WHERE t._deleted_at IS NOT NULL
  AND EXISTS (SELECT 1 FROM _listed l WHERE l.stream = ? AND l.record_key = t.record_key)
"""
_MARK_DELETED_SQL = """
UPDATE raw.{table} AS t SET _deleted_at = CAST(? AS TIMESTAMPTZ)
WHERE t.scope = ? AND t._deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM _listed l WHERE l.stream = ? AND l.record_key = t.record_key)
  AND NOT EXISTS (SELECT 1 FROM _merged_keys m WHERE m.stream = ? AND m.record_key = t.record_key)
"""


@dataclass(frozen=True)
class BatchLoad:
    stream: str
    scope: str
    path: str
    inserted: int
    updated: int
    unchanged: int
    cursor_before: str | None
    cursor_after: str | None
    listed: int = 0  # key listings: the keys listed (a listing writes no row of its own)
    deleted: int = 0  # key listings: rows of the listed stream newly marked deleted
    undeleted: int = 0  # key listings: rows listed again after being marked deleted

    @property
    def watermark_moved(self) -> bool:
        return self.cursor_before != self.cursor_after


@dataclass
class LoadReport:
    batches: list[BatchLoad] = field(default_factory=list)
    committed_scopes: list[str] = field(default_factory=list)  # in commit order

    @property
    def inserted(self) -> int:
        return sum(b.inserted for b in self.batches)

    @property
    def updated(self) -> int:
        return sum(b.updated for b in self.batches)

    @property
    def unchanged(self) -> int:
        return sum(b.unchanged for b in self.batches)

    @property
    def deleted(self) -> int:
        return sum(b.deleted for b in self.batches)


@dataclass
class _Current:
    path: str = ""  # the batch being merged, for the error message


def _by_scope(manifests: Sequence[BatchManifest]) -> list[tuple[str, list[BatchManifest]]]:
    """Manifests grouped by scope, scopes in the order they first appear, batches in order."""
    groups: dict[str, list[BatchManifest]] = {}
    for manifest in manifests:
        groups.setdefault(manifest.scope, []).append(manifest)
    return list(groups.items())


@dataclass(frozen=True)
class QuarantinedBatch:
    """A landing batch held back by its audit: never merged, its watermark not moved."""

    manifest: BatchManifest
    reason: str  # what failed, or which batch of the same scope failed
    record_reasons: Mapping[str, str] = field(default_factory=dict)  # record_key -> the expectations it failed


_QUARANTINE_DDL = (
    "CREATE SCHEMA IF NOT EXISTS quarantine",
    """CREATE TABLE IF NOT EXISTS quarantine.batches (
        run_id VARCHAR NOT NULL, stream VARCHAR NOT NULL, scope VARCHAR NOT NULL,
        batch_path VARCHAR NOT NULL, kept_path VARCHAR NOT NULL, records BIGINT NOT NULL,
        reason VARCHAR NOT NULL, quarantined_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (run_id, batch_path))""",
    """CREATE TABLE IF NOT EXISTS quarantine.records (
        run_id VARCHAR NOT NULL, stream VARCHAR NOT NULL, scope VARCHAR, record_key VARCHAR,
        payload JSON, reason VARCHAR NOT NULL, batch_path VARCHAR NOT NULL)""",
)


def _tables(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """(schema, table) of every table in the database."""
    return {(schema, name) for schema, name in con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables").fetchall()}


def _table_name(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a safe table name")
    return name


class WarehouseLoader:
    def __init__(self, db_path: Path, memory_limit: str | None = None) -> None:
        self.db_path = Path(db_path)
        # Bounded memory whatever the batch volume: DuckDB spills to disk beyond it. The
        # process peaks ~120 MB above the cap (the interpreter, JSON parsing outside DuckDB's
        # buffer pool): 192 MB keeps a load near 300 MB (benchmarks/load_volume.py).
        self.memory_limit = memory_limit or os.environ.get("KPI_LOADER_MEMORY_LIMIT", "192MB")

    def _duckdb_config(self) -> dict[str, str]:
        return {"memory_limit": self.memory_limit, "preserve_insertion_order": "false"}

    def read_watermarks(self) -> dict[tuple[str, str], str]:
        """(stream, scope) -> cursor; {} when the database or state table does not exist."""
        if not self.db_path.exists():
            return {}
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            if ("raw", "_stream_state") not in _tables(con):
                return {}
            rows = con.execute(
                "SELECT stream, scope, cursor_value FROM raw._stream_state "
                "WHERE cursor_value IS NOT NULL"
            ).fetchall()
        return {(stream, scope): cursor for stream, scope, cursor in rows}

    def read_last_loaded(self, stream: str) -> dict[str, datetime]:
        """scope -> when `stream` last loaded for it (e.g. a key listing, to pace reconciliations)."""
        if not self.db_path.exists():
            return {}
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            if ("raw", "_load_log") not in _tables(con):
                return {}
            rows = con.execute(
                "SELECT scope, max(loaded_at) FROM raw._load_log WHERE stream = ? GROUP BY scope", [stream]
            ).fetchall()
        return {scope: loaded_at for scope, loaded_at in rows}

    def read_validators(self) -> dict[tuple[str, str], dict[str, str]]:
        """(stream, scope) -> {"etag", "url"}; {} when nothing was stored yet."""
        if not self.db_path.exists():
            return {}
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            if ("ops", "http_validators") not in _tables(con):
                return {}
            rows = con.execute("SELECT stream, scope, etag, url FROM ops.http_validators").fetchall()
        return {(stream, scope): {"etag": etag, "url": url} for stream, scope, etag, url in rows}

    def read_loaded_parents(
        self, streams: Sequence[Stream], overlap: timedelta
    ) -> dict[str, dict[str, dict[str, str | None]]]:
        """scope -> child stream -> parent key -> the parent's change value, for the parents a
        night re-lists (cursor within `overlap` of the parent's watermark, plus two days for
        day-granular filters such as `created>=DATE`), and only where the child stream already
        holds rows for the scope (a newly added child is read in full)."""
        if not self.db_path.exists():
            return {}
        found: dict[str, dict[str, dict[str, str | None]]] = {}
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            tables = {name for schema, name in _tables(con) if schema == "raw"}
            by_name = {stream.name: stream for stream in streams}
            for child in streams:
                parent = child.parent
                change_field = by_name[parent].change_field if parent in by_name else None
                if (change_field is None or child.name not in tables or parent not in tables
                        or "_stream_state" not in tables):
                    continue
                rows = con.execute(
                    f"""
                    SELECT p.scope, p.record_key, json_extract_string(p.payload, '$.' || ?)
                    FROM raw.{_table_name(parent)} p
                    JOIN raw._stream_state s ON s.stream = ? AND s.scope = p.scope
                    WHERE p.updated_at >= CAST(s.cursor_value AS TIMESTAMPTZ) - to_seconds(?) - INTERVAL 2 DAY
                      AND p.scope IN (SELECT DISTINCT scope FROM raw.{_table_name(child.name)})
                    """,
                    [change_field, parent, overlap.total_seconds()],
                ).fetchall()
                for scope, key, change in rows:
                    found.setdefault(scope, {}).setdefault(child.name, {})[key] = change
        return found

    def load(self, manifests: Sequence[BatchManifest]) -> LoadReport:
        """Merge `manifests`, one transaction per scope (in the order scopes first appear),
        then mark deletions from the key listings in a final transaction."""
        report = LoadReport()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        listed_streams = {m.key_listing_of for m in manifests if m.key_listing_of}
        groups = _by_scope(manifests)
        ordered = [manifest for _, batch in groups for manifest in batch]  # report.batches' order
        tracked: set[str] | None = None
        with duckdb.connect(str(self.db_path), config=self._duckdb_config()) as con:
            for scope, batch in groups or [("", [])]:
                loads = []
                with self._transaction(con, report) as current:
                    if tracked is None:  # in the first scope's transaction: a load that fails there leaves no trace
                        tracked = self._prepare(con, listed_streams)
                    for manifest in batch:
                        current.path = manifest.path
                        if manifest.key_listing_of:
                            loads.append(self._stage_listing(con, manifest))
                        else:
                            loads.append(self._merge_batch(
                                con, manifest, deletion_tracked=manifest.stream in tracked,
                                remember_keys=manifest.stream in listed_streams))
                if batch:
                    report.batches.extend(loads)
                    report.committed_scopes.append(scope)
            if listed_streams:
                with self._transaction(con, report):
                    report.batches = self._apply_listings(con, report.batches, ordered)
        return report

    @contextmanager
    def _transaction(self, con: duckdb.DuckDBPyConnection, report: LoadReport) -> Iterator["_Current"]:
        """One transaction; on failure it is rolled back and LoadError names the batch being
        merged (or the warehouse) and how many scopes of this load stay committed."""
        current = _Current()
        con.execute("BEGIN TRANSACTION")
        try:
            yield current
            con.execute("COMMIT")
        except Exception as exc:
            con.execute("ROLLBACK")
            kept = len(report.committed_scopes)
            note = (f"; the {kept} scope(s) loaded before it stay committed, and rerunning the load is idempotent"
                    if kept else "")
            raise LoadError(current.path or str(self.db_path), f"{type(exc).__name__}: {exc}{note}") from exc

    def _prepare(self, con: duckdb.DuckDBPyConnection, listed_streams: set[str]) -> set[str]:
        """State tables, and the deletion column of listed streams; returns the tracked tables."""
        for ddl in ("CREATE SCHEMA IF NOT EXISTS raw", _STATE_DDL, _LOAD_LOG_DDL,
                    "CREATE SCHEMA IF NOT EXISTS ops", _VALIDATORS_DDL):
            con.execute(ddl)
        return self._track_deletions(con, listed_streams)

    @staticmethod
    def _track_deletions(con: duckdb.DuckDBPyConnection, listed_streams: set[str]) -> set[str]:
        """Give the raw tables of listed streams their `_deleted_at` and `_undeleted_at` columns
        (added to an existing warehouse on the first listing, `_undeleted_at` also to a table
        tracked before it existed); returns every raw table that has `_deleted_at`."""
        if listed_streams:
            con.execute(_LISTING_TEMP_DDL)
        listed = {_table_name(stream) for stream in listed_streams}
        for table in sorted(listed):
            con.execute(_RAW_TABLE_DDL.format(table=table))
        tracked = listed | {name for (name,) in con.execute(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND column_name = '_deleted_at'").fetchall()}
        for table in sorted(tracked):
            _add_deletion_columns(con, table)
        return tracked

    def _stage_listing(self, con: duckdb.DuckDBPyConnection, manifest: BatchManifest) -> BatchLoad:
        """Stage a key listing's keys; the marking waits until every batch is merged."""
        if not manifest.complete:
            raise ValueError("manifest is not marked complete")
        if not Path(manifest.path).is_file():
            raise FileNotFoundError(f"batch file missing: {manifest.path}")
        listed = 0
        if os.path.getsize(manifest.path) > 0:
            con.execute(_LISTING_STAGE_SQL, [manifest.path])
            listed, missing = con.execute(
                "SELECT count(record_key), count(*) - count(record_key) FROM _listing_stage").fetchone()
            if missing:
                raise ValueError(f"{missing} listed lines without record_key")
            con.execute("INSERT INTO _listed SELECT ?, ?, record_key FROM _listing_stage",
                        [manifest.key_listing_of, manifest.scope])
            con.execute("DROP TABLE _listing_stage")
        if listed != manifest.records:
            raise ValueError(f"listing holds {listed} keys, manifest says {manifest.records}")
        return BatchLoad(stream=manifest.stream, scope=manifest.scope, path=manifest.path, inserted=0,
                         updated=0, unchanged=0, cursor_before=None, cursor_after=None, listed=listed)

    @staticmethod
    def _apply_listings(con: duckdb.DuckDBPyConnection, batches: list[BatchLoad],
                        manifests: Sequence[BatchManifest]) -> list[BatchLoad]:
        """Clear `_deleted_at` of listed rows, then mark the rows of each listed scope that no
        listing and no batch of this load holds. Returns `batches` with the counts filled in."""
        undeleted_by_stream: dict[str, int] = {}
        result = list(batches)
        for position, manifest in enumerate(manifests):
            target = manifest.key_listing_of
            if not target:
                continue
            table = _table_name(target)
            undeleted = 0
            if target not in undeleted_by_stream:
                undeleted = con.execute(_UNDELETE_LISTED_SQL.format(table=table), [target]).fetchone()[0]
                undeleted_by_stream[target] = undeleted
            deleted = con.execute(
                _MARK_DELETED_SQL.format(table=table),
                [manifest.extracted_at, manifest.scope, target, target],
            ).fetchone()[0]
            result[position] = replace(result[position], deleted=deleted, undeleted=undeleted)
            # Logged with its keys as "unchanged", in the marking's transaction: a listing
            # counts as taken (`read_last_loaded` paces reconciliations) only once it judged.
            con.execute(
                "INSERT INTO raw._load_log VALUES (?, ?, ?, 0, 0, ?, now())",
                [manifest.run_id, manifest.stream, manifest.scope, result[position].listed],
            )
        return result

    def _merge_batch(self, con: duckdb.DuckDBPyConnection, manifest: BatchManifest,
                     deletion_tracked: bool = False, remember_keys: bool = False) -> BatchLoad:
        if not manifest.complete:
            raise ValueError("manifest is not marked complete")
        if not Path(manifest.path).is_file():
            raise FileNotFoundError(f"batch file missing: {manifest.path}")
        table = _table_name(manifest.stream)
        con.execute(_RAW_TABLE_DDL.format(table=table))
        if os.path.getsize(manifest.path) == 0:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _stage (record_key VARCHAR, scope VARCHAR, "
                "updated_at TIMESTAMPTZ, payload JSON)"
            )
        else:
            con.execute(_STAGE_SQL, [manifest.path])
            if con.execute(_DUPLICATES_SQL).fetchone()[0]:
                con.execute(_DEDUPLICATE_SQL)
        con.execute(_MATCH_SQL.format(table=table))
        inserted, updated, unchanged, invalid = con.execute(_COUNT_SQL).fetchone()
        if invalid:
            raise ValueError(f"{invalid} lines without record_key or payload")
        staged = inserted + updated + unchanged
        if staged != manifest.records:
            raise ValueError(f"batch holds {staged} records, manifest says {manifest.records}")
        extracted = [manifest.extracted_at, manifest.run_id]
        if updated:
            con.execute(_UPDATE_SQL.format(table=table), extracted)
        con.execute(_INSERT_SQL.format(table=table), extracted)
        if deletion_tracked:  # a record delivered again exists again
            con.execute(_UNDELETE_LOADED_SQL.format(table=table))
        if remember_keys:  # a listing of this load must not judge records this load delivered
            con.execute("INSERT INTO _merged_keys SELECT ?, record_key FROM _stage", [manifest.stream])
        con.execute("DROP TABLE _stage")
        con.execute("DROP TABLE _matched")

        cursor_before = self._current_cursor(con, manifest.stream, manifest.scope)
        cursor_after = cursor_before
        if _is_newer(manifest.new_cursor, cursor_before):
            cursor_after = manifest.new_cursor
            con.execute(
                """
                INSERT INTO raw._stream_state (stream, scope, cursor_value, moved_at, run_id)
                VALUES (?, ?, ?, now(), ?)
                ON CONFLICT (stream, scope) DO UPDATE SET
                    cursor_value = excluded.cursor_value,
                    moved_at = excluded.moved_at,
                    run_id = excluded.run_id
                """,
                [manifest.stream, manifest.scope, cursor_after, manifest.run_id],
            )
        self._store_validator(con, manifest)
        con.execute(
            "INSERT INTO raw._load_log VALUES (?, ?, ?, ?, ?, ?, now())",
            [manifest.run_id, manifest.stream, manifest.scope, inserted, updated, unchanged],
        )
        return BatchLoad(
            stream=manifest.stream,
            scope=manifest.scope,
            path=manifest.path,
            inserted=inserted,
            updated=updated,
            unchanged=unchanged,
            cursor_before=cursor_before,
            cursor_after=cursor_after,
        )

    @staticmethod
    def _store_validator(con: duckdb.DuckDBPyConnection, manifest: BatchManifest) -> None:
        """Keep the first-page ETag the extractor trusted for this scope (or forget a stale one)."""
        row = con.execute(
            "SELECT etag, url FROM ops.http_validators WHERE stream = ? AND scope = ?",
            [manifest.stream, manifest.scope],
        ).fetchone()
        wanted = (manifest.etag, manifest.etag_url) if manifest.etag and manifest.etag_url else None
        if (tuple(row) if row else None) == wanted:
            return
        if wanted is None:
            con.execute("DELETE FROM ops.http_validators WHERE stream = ? AND scope = ?",
                        [manifest.stream, manifest.scope])
            return
        con.execute(
            """
            INSERT INTO ops.http_validators (stream, scope, url, etag, stored_at, run_id)
            VALUES (?, ?, ?, ?, now(), ?)
            ON CONFLICT (stream, scope) DO UPDATE SET
                url = excluded.url, etag = excluded.etag,
                stored_at = excluded.stored_at, run_id = excluded.run_id
            """,
            [manifest.stream, manifest.scope, wanted[1], wanted[0], manifest.run_id],
        )

    @staticmethod
    def _current_cursor(con: duckdb.DuckDBPyConnection, stream: str, scope: str) -> str | None:
        row = con.execute(
            "SELECT cursor_value FROM raw._stream_state WHERE stream = ? AND scope = ?",
            [stream, scope],
        ).fetchone()
        return row[0] if row else None

    def quarantine(self, batches: Sequence[QuarantinedBatch], keep_dir: Path) -> int:
        """Record held-back batches in `quarantine.batches` (with the reason) and their rows in
        `quarantine.records` (each with the expectations it failed), and keep a copy of each
        batch file under `keep_dir` (a line too broken to parse is still in that copy). One
        transaction; rerunning it for the same run replaces, never duplicates. Returns the
        number of quarantined records."""
        if not batches:
            return 0
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        total = 0
        with duckdb.connect(str(self.db_path), config=self._duckdb_config()) as con:
            with self._transaction(con, LoadReport()) as current:
                for ddl in _QUARANTINE_DDL:
                    con.execute(ddl)
                for held in batches:
                    manifest = held.manifest
                    current.path = manifest.path
                    kept = keep_dir / manifest.run_id / manifest.stream / Path(manifest.path).name
                    kept.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(manifest.path, kept)
                    for table in ("batches", "records"):
                        con.execute(f"DELETE FROM quarantine.{table} WHERE run_id = ? AND batch_path = ?",
                                    [manifest.run_id, manifest.path])
                    con.execute("INSERT INTO quarantine.batches VALUES (?, ?, ?, ?, ?, ?, ?, now())",
                                [manifest.run_id, manifest.stream, manifest.scope, manifest.path, str(kept),
                                 manifest.records, held.reason])
                    if os.path.getsize(manifest.path) == 0:
                        continue
                    con.execute("CREATE OR REPLACE TEMP TABLE _reasons (record_key VARCHAR, reason VARCHAR)")
                    if held.record_reasons:
                        con.executemany("INSERT INTO _reasons VALUES (?, ?)", list(held.record_reasons.items()))
                    total += con.execute(
                        """
                        INSERT INTO quarantine.records
                        SELECT ?, ?, b.scope, b.record_key, b.payload, coalesce(r.reason, 'held with its batch: ' || ?), ?
                        FROM read_json(?, format = 'newline_delimited', ignore_errors = true,
                             columns = {record_key: 'VARCHAR', scope: 'VARCHAR', updated_at: 'VARCHAR', payload: 'JSON'}) b
                        LEFT JOIN _reasons r ON r.record_key = b.record_key
                        """,
                        [manifest.run_id, manifest.stream, held.reason, manifest.path, manifest.path],
                    ).fetchone()[0]
                    con.execute("DROP TABLE _reasons")
        return total

    def ensure_raw_tables(self, streams: Sequence[Stream]) -> None:
        """Create the (empty) raw table of every stream that never loaded, so models over a
        source that is not configured, or has no data yet, still build (to no rows)."""
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(self.db_path)) as con:
            con.execute("CREATE SCHEMA IF NOT EXISTS raw")
            for stream in streams:
                if stream.key_listing_of is None:  # a key listing is no table of its own
                    con.execute(_RAW_TABLE_DDL.format(table=_table_name(stream.name)))
                    if any(other.key_listing_of == stream.name for other in streams):
                        _add_deletion_columns(con, _table_name(stream.name))

    def load_reference_table(
        self, table: str, rows: list[dict[str, Any]], columns: Mapping[str, str] | None = None
    ) -> int:
        """Replace `raw.<table>` with `rows` in one transaction; returns the row count.

        Column types are inferred from the rows unless `columns` (name -> DuckDB type) is
        given; `columns` is required to (re)create an empty table.
        """
        table = _table_name(table)
        if not rows and not columns:
            raise ValueError(f"raw.{table}: pass columns= to create it without rows")
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            rows_path = Path(tmp) / f"{table}.jsonl"
            rows_path.write_text("".join(json.dumps(row, sort_keys=True, default=_iso) + "\n" for row in rows),
                                 encoding="utf-8")
            with duckdb.connect(str(self.db_path)) as con:
                con.execute("BEGIN TRANSACTION")
                try:
                    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
                    if columns:
                        column_defs = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
                        con.execute(f"CREATE OR REPLACE TABLE raw.{table} ({column_defs})")
                        if rows:
                            spec = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items()) + "}"
                            con.execute(
                                f"INSERT INTO raw.{table} SELECT * FROM read_json(?, "
                                f"format = 'newline_delimited', columns = {spec})",
                                [str(rows_path)],
                            )
                    else:
                        con.execute(
                            f"CREATE OR REPLACE TABLE raw.{table} AS SELECT * FROM "
                            "read_json(?, format = 'newline_delimited')",
                            [str(rows_path)],
                        )
                    count = con.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0]
                    con.execute("COMMIT")
                except Exception as exc:
                    con.execute("ROLLBACK")
                    raise LoadError(f"raw.{table}", f"{type(exc).__name__}: {exc}") from exc
        return count


def _iso(value: Any) -> str:
    """Dates and times of reference rows as ISO 8601 (what read_json parses into DATE/TIMESTAMP)."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _is_newer(candidate: str | None, current: str | None) -> bool:
    if candidate is None:
        return False
    if current is None:
        return True
    return parse_cursor(candidate) > parse_cursor(current)
