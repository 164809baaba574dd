"""Publish the marts as a new read-only DuckDB file, swapped in atomically.

The working warehouse stays private to the pipeline (DuckDB has one writer per file).
Readers open `data/published/warehouse.duckdb`; a reader with an open connection keeps
the old file (same inode) and a consistent view; new connections see the new data.
"""

from __future__ import annotations

import os
import stat
from datetime import datetime, timezone
from pathlib import Path

import duckdb

PUBLISHED_SCHEMAS = ("marts",)


def publish(working: Path, published: Path, run_id: str, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS) -> dict[str, int]:
    """Copy the published schemas' tables to a fresh file, then rename it over `published`."""
    published.parent.mkdir(parents=True, exist_ok=True)
    staging_file = published.with_name(f".{published.name}.{os.getpid()}.tmp")
    staging_file.unlink(missing_ok=True)
    row_counts: dict[str, int] = {}
    try:
        with duckdb.connect() as connection:
            connection.execute("attach ? as source (read_only)", [str(working)])
            connection.execute("attach ? as target", [str(staging_file)])
            tables = connection.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = 'source' and table_type = 'BASE TABLE' and table_schema in ("
                + ", ".join("?" for _ in schemas) + ") order by 1, 2",
                list(schemas),
            ).fetchall()
            for schema in schemas:
                connection.execute(f'create schema if not exists target."{schema}"')
            for schema, table in tables:
                connection.execute(f'create table target."{schema}"."{table}" as select * from source."{schema}"."{table}"')
                row_counts[f"{schema}.{table}"] = connection.execute(
                    f'select count(*) from target."{schema}"."{table}"'
                ).fetchone()[0]
            connection.execute("create schema target.meta")
            connection.execute(
                "create table target.meta.publication as select ? as run_id, ? as published_at",
                [run_id, datetime.now(timezone.utc)],
            )
            connection.execute("detach target")
        os.chmod(staging_file, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.replace(staging_file, published)  # atomic on one filesystem
    finally:
        staging_file.unlink(missing_ok=True)
    return row_counts
