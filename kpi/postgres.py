"""Run the dbt project on PostgreSQL: copy the raw layer there, then `dbt build --target postgres`.

The extractors load DuckDB; PostgreSQL is the portability target (the models use only
cross-database SQL and dispatch macros), and a deployment that prefers PostgreSQL as its
warehouse can run this after each load. Tables are copied with COPY through CSV, in one
transaction per table, JSON payloads as jsonb.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

# DuckDB column type -> PostgreSQL column type for the raw layer.
_PG_TYPES = {"VARCHAR": "text", "JSON": "jsonb", "TIMESTAMP WITH TIME ZONE": "timestamptz", "TIMESTAMP": "timestamp",
             "BIGINT": "bigint", "INTEGER": "integer", "BOOLEAN": "boolean", "DOUBLE": "double precision", "DATE": "date"}


def copy_raw_layer(duckdb_path: Path, pg_connection) -> dict[str, int]:
    """Replace every `raw.*` table in PostgreSQL with DuckDB's; returns rows per table."""
    copied: dict[str, int] = {}
    with duckdb.connect(str(duckdb_path), read_only=True) as source, tempfile.TemporaryDirectory() as tmp:
        tables = [name for (name,) in source.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' order by 1").fetchall()]
        with pg_connection.cursor() as cursor:
            cursor.execute("create schema if not exists raw")
        for table in tables:
            columns = source.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'raw' and table_name = ? order by ordinal_position", [table]).fetchall()
            unknown = [kind for _, kind in columns if kind not in _PG_TYPES]
            if unknown:
                raise ValueError(f"raw.{table}: no PostgreSQL type for DuckDB {unknown}")
            path = Path(tmp) / f"{table}.csv"
            source.execute(f'copy raw."{table}" to \'{path}\' (format csv, header false, null \'\\N\')')
            definition = ", ".join(f'"{name}" {_PG_TYPES[kind]}' for name, kind in columns)
            with pg_connection.cursor() as cursor, path.open(encoding="utf-8", newline="") as handle:
                cursor.execute(f'drop table if exists raw."{table}"')
                cursor.execute(f'create table raw."{table}" ({definition})')
                cursor.copy_expert(f'copy raw."{table}" from stdin with (format csv, null \'\\N\')', handle)
                cursor.execute(f'select count(*) from raw."{table}"')
                copied[table] = cursor.fetchone()[0]
            pg_connection.commit()
    return copied
