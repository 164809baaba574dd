"""Publish the marts as a new read-only DuckDB file, swapped in atomically, plus a
Parquet export of every published table for BI tools that do not speak DuckDB.

The working warehouse stays private to the pipeline (DuckDB has one writer per file).
Readers open `data/published/warehouse.duckdb`; a reader with an open connection keeps
the old file (same inode) and a consistent view; new connections see the new data.

The Parquet export is published as a set: each publish writes a new folder
`data/published/parquet/<stamp>__<run>/` (`marts/<table>.parquet` and `manifest.json`),
then swaps the symlink `data/published/parquet/current` to it with one rename. A reader
that resolves `current` once (`Path(...).resolve()`) reads one run's files only; the
previous folder is kept so a reader in mid-read is not cut off, older ones are removed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from kpi.status import FRESHNESS_SQL

# marts: what analysts read; semantic: the MetricFlow time spine the semantic layer joins to.
PUBLISHED_SCHEMAS = ("marts", "semantic")
PARQUET_DIR_NAME = "parquet"
CURRENT_LINK = "current"
MANIFEST = "manifest.json"
# Published files are never changed in place: a reader can trust that what it opened stays
# as it was. Folders stay writable by the owner so the next publish can remove old exports.
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


def parquet_root(published: Path) -> Path:
    """Where the Parquet exports of `published` live (next to it)."""
    return published.parent / PARQUET_DIR_NAME


def publish(working: Path, published: Path, run_id: str, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS,
            parquet_dir: Path | None = None) -> dict[str, int]:
    """Copy the published schemas' tables and views (as tables: readers get rows, not a
    query over tables they do not have) to a fresh file, export them as Parquet, then
    rename the file over `published` and switch the Parquet export's `current` link."""
    published.parent.mkdir(parents=True, exist_ok=True)
    staging_file = published.with_name(f".{published.name}.{os.getpid()}.tmp")
    staging_file.unlink(missing_ok=True)
    published_at = datetime.now(timezone.utc)
    row_counts: dict[str, int] = {}
    export: Path | None = None
    try:
        with duckdb.connect() as connection:
            # Attached under its own name (the file's stem), as dbt built it: a view's SQL
            # names its tables with that catalog ("work"."marts"."fct_deployments").
            catalog = _source_catalog(working)
            source = '"' + catalog.replace('"', '""') + '"'
            connection.execute(f"attach ? as {source} (read_only)", [str(working)])
            connection.execute("attach ? as target", [str(staging_file)])
            tables = connection.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = ? and table_type in ('BASE TABLE', 'VIEW') and table_schema in ("
                + ", ".join("?" for _ in schemas) + ") order by 1, 2",
                [catalog, *schemas],
            ).fetchall()
            for schema in schemas:
                connection.execute(f'create schema if not exists target."{schema}"')
            for schema, table in tables:
                connection.execute(f'create table target."{schema}"."{table}" as select * from {source}."{schema}"."{table}"')
                row_counts[f"{schema}.{table}"] = connection.execute(
                    f'select count(*) from target."{schema}"."{table}"'
                ).fetchone()[0]
            connection.execute("create schema target.meta")
            connection.execute(
                "create table target.meta.publication as select ? as run_id, ? as published_at",
                [run_id, published_at],
            )
            # What `kpi status` shows while a load holds the working warehouse's lock.
            if connection.execute("select count(*) from information_schema.tables where table_catalog = ? "
                                  "and table_schema = 'raw' and table_name = '_load_log'",
                                  [catalog]).fetchone()[0]:
                connection.execute("create table target.meta.freshness as "
                                   + FRESHNESS_SQL.format(load_log=f"{source}.raw._load_log"))
            # Exported from the new file itself, so the Parquet files hold exactly its rows.
            export = _export_parquet(connection, "target", row_counts, run_id, published_at,
                                     parquet_dir or parquet_root(published))
            connection.execute("detach target")
        os.chmod(staging_file, READ_ONLY)
        os.replace(staging_file, published)  # atomic on one filesystem
        _switch_current(export)
        export = None
    finally:
        staging_file.unlink(missing_ok=True)
        if export is not None:  # failed before the switch: no reader can see this folder
            shutil.rmtree(export, ignore_errors=True)
    return row_counts


def _source_catalog(working: Path) -> str:
    """The working file's catalog name: DuckDB names a file's catalog after its stem."""
    if working.stem in {"target", "memory", "system", "temp"}:
        raise ValueError(f"{working}: a working warehouse named {working.name} would clash with a catalog the "
                         "publish or DuckDB itself names that way; rename the file")
    return working.stem


def _export_parquet(connection: duckdb.DuckDBPyConnection, catalog: str, row_counts: dict[str, int],
                    run_id: str, published_at: datetime, root: Path) -> Path:
    """Write every table to a new folder under `root` with its manifest; not yet visible."""
    stamp = published_at.strftime("%Y%m%dT%H%M%S%fZ")
    folder = root / f"{stamp}__{re.sub(r'[^A-Za-z0-9_.-]', '_', run_id)}"
    folder.mkdir(parents=True)
    tables = {}
    for name, rows in row_counts.items():
        schema, table = name.split(".", 1)
        relative = Path(schema) / f"{table}.parquet"
        (folder / schema).mkdir(exist_ok=True)
        target = str(folder / relative).replace("'", "''")
        connection.execute(f'copy {catalog}."{schema}"."{table}" to \'{target}\' (format parquet, compression zstd)')
        os.chmod(folder / relative, READ_ONLY)
        tables[name] = {"path": relative.as_posix(), "rows": rows}
    (folder / MANIFEST).write_text(json.dumps(
        {"run_id": run_id, "published_at": published_at.isoformat(), "tables": tables}, indent=2) + "\n")
    os.chmod(folder / MANIFEST, READ_ONLY)
    return folder


def _switch_current(folder: Path) -> None:
    """Point `current` at `folder` with one rename; keep the folder it pointed at before
    (a reader may be reading it), remove every older export."""
    root = folder.parent
    link = root / CURRENT_LINK
    previous = link.resolve() if link.is_symlink() else None
    temporary = root / f".{CURRENT_LINK}.{os.getpid()}.tmp"
    temporary.unlink(missing_ok=True)
    os.symlink(folder.name, temporary)  # relative: the data volume may be mounted elsewhere
    os.replace(temporary, link)
    keep = {folder.resolve(), previous}
    for entry in root.iterdir():
        if entry.is_dir() and not entry.is_symlink() and entry.resolve() not in keep:
            shutil.rmtree(entry, ignore_errors=True)


def current_parquet_export(published: Path) -> Path | None:
    """The folder of the latest Parquet export (resolved once: read only from it), or None."""
    link = parquet_root(published) / CURRENT_LINK
    return link.resolve() if link.is_symlink() else None
