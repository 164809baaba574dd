"""Merge landing batches into DuckDB raw tables and advance watermarks, atomically.

One `load()` call is one transaction: every batch is merged and every watermark and HTTP
validator moved, or nothing is.

HTTP validators (the first-page ETag per stream and scope, with the URL it belongs to) live
in `ops.http_validators`, not in `raw._stream_state`: they are a cache of the source's
responses, which legitimately changes when the request URL changes (the first incremental
read after a full sync) although no data changed, so keeping them out of `raw` keeps the
guarantee "re-running the same window leaves every raw table identical". Rows are only rewritten when their payload changed, so reloading the same
window leaves the raw tables byte-identical. DuckDB allows a single writer per file, so a
connection is opened per call and closed right after.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

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

_RAW_TABLE_DDL = """
CREATE TABLE IF NOT EXISTS raw.{table} (
    record_key VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    updated_at TIMESTAMPTZ,
    payload JSON NOT NULL,
    extracted_at TIMESTAMPTZ NOT NULL,
    run_id VARCHAR NOT NULL,
    PRIMARY KEY (record_key)
)"""

# Batch lines are read with an explicit schema so an empty or odd file cannot change the
# inferred types. Duplicate keys in a hand-made batch are collapsed to the newest.
_STAGE_SQL = """
CREATE OR REPLACE TEMP TABLE _stage AS
SELECT record_key, scope, CAST(updated_at AS TIMESTAMPTZ) AS updated_at, payload
FROM read_json(
    ?,
    format = 'newline_delimited',
    columns = {record_key: 'VARCHAR', scope: 'VARCHAR', updated_at: 'VARCHAR', payload: 'JSON'}
)
QUALIFY row_number() OVER (PARTITION BY record_key ORDER BY updated_at DESC NULLS LAST) = 1
"""

_COUNT_SQL = """
SELECT
    count(*) FILTER (WHERE t.record_key IS NULL) AS inserted,
    count(*) FILTER (WHERE t.record_key IS NOT NULL
                     AND CAST(t.payload AS VARCHAR) IS DISTINCT FROM CAST(s.payload AS VARCHAR)) AS updated,
    count(*) FILTER (WHERE t.record_key IS NOT NULL
                     AND CAST(t.payload AS VARCHAR) IS NOT DISTINCT FROM CAST(s.payload AS VARCHAR)) AS unchanged,
    count(*) FILTER (WHERE s.record_key IS NULL OR s.payload IS NULL) AS invalid
FROM _stage s LEFT JOIN raw.{table} t ON t.record_key = s.record_key
"""

_UPDATE_SQL = """
UPDATE raw.{table} AS t
SET scope = s.scope, updated_at = s.updated_at, payload = s.payload,
    extracted_at = CAST(? AS TIMESTAMPTZ), run_id = ?
FROM _stage s
WHERE t.record_key = s.record_key
  AND CAST(t.payload AS VARCHAR) IS DISTINCT FROM CAST(s.payload AS VARCHAR)
"""

_INSERT_SQL = """
INSERT INTO raw.{table} (record_key, scope, updated_at, payload, extracted_at, run_id)
SELECT s.record_key, s.scope, s.updated_at, s.payload, CAST(? AS TIMESTAMPTZ), ?
FROM _stage s ANTI JOIN raw.{table} t ON t.record_key = s.record_key
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

    @property
    def watermark_moved(self) -> bool:
        return self.cursor_before != self.cursor_after


@dataclass
class LoadReport:
    batches: list[BatchLoad] = field(default_factory=list)

    @property
    def inserted(self) -> int:
        return sum(b.inserted for b in self.batches)

    @property
    def updated(self) -> int:
        return sum(b.updated for b in self.batches)

    @property
    def unchanged(self) -> int:
        return sum(b.unchanged for b in self.batches)


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
        # Bounded memory whatever the batch volume: DuckDB spills to disk beyond it.
        self.memory_limit = memory_limit or os.environ.get("KPI_LOADER_MEMORY_LIMIT", "256MB")

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
        report = LoadReport()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(self.db_path), config=self._duckdb_config()) as con:
            con.execute("BEGIN TRANSACTION")
            current_path = ""
            try:
                con.execute("CREATE SCHEMA IF NOT EXISTS raw")
                con.execute(_STATE_DDL)
                con.execute(_LOAD_LOG_DDL)
                con.execute("CREATE SCHEMA IF NOT EXISTS ops")
                con.execute(_VALIDATORS_DDL)
                for manifest in manifests:
                    current_path = manifest.path
                    report.batches.append(self._merge_batch(con, manifest))
                con.execute("COMMIT")
            except Exception as exc:
                con.execute("ROLLBACK")
                raise LoadError(current_path or str(self.db_path), f"{type(exc).__name__}: {exc}") from exc
        return report

    def _merge_batch(self, con: duckdb.DuckDBPyConnection, manifest: BatchManifest) -> BatchLoad:
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
        inserted, updated, unchanged, invalid = con.execute(_COUNT_SQL.format(table=table)).fetchone()
        if invalid:
            raise ValueError(f"{invalid} lines without record_key or payload")
        staged = inserted + updated + unchanged
        if staged != manifest.records:
            raise ValueError(f"batch holds {staged} records, manifest says {manifest.records}")
        extracted = [manifest.extracted_at, manifest.run_id]
        con.execute(_UPDATE_SQL.format(table=table), extracted)
        con.execute(_INSERT_SQL.format(table=table), extracted)
        con.execute("DROP TABLE _stage")

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
            rows_path.write_text("".join(json.dumps(row, sort_keys=True) + "\n" for row in rows), encoding="utf-8")
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


def _is_newer(candidate: str | None, current: str | None) -> bool:
    if candidate is None:
        return False
    if current is None:
        return True
    return parse_cursor(candidate) > parse_cursor(current)
