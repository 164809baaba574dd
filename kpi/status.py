"""`kpi status`: the last run, freshness per source and scope, failures and quarantined
batches -- read without ever taking the pipeline's write lock.

The working warehouse is opened read-only. While a load holds its write lock (DuckDB: one
writer per file, and no reader beside it from another process) the status says so and
falls back to what the published file knows: its publication and the freshness copied
into it at publish time (`meta.freshness`).

What the pipeline records for it, in the working warehouse's `ops` schema (written by the
publish step, which every night reaches unless a mart audit fails):
- `ops.runs`: one row per run -- published or not, and why not;
- `ops.scope_results`: each scope's extraction status that night (ok, deferred, skipped,
  failed) and its error.
Freshness comes from the loader's own log (`raw._load_log`), quarantined batches from
`quarantine.batches` (extractors/loader.py).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from kpi.config import PipelineConfig

_OPS_DDL = (
    "CREATE SCHEMA IF NOT EXISTS ops",
    """CREATE TABLE IF NOT EXISTS ops.runs (
        run_id VARCHAR NOT NULL, recorded_at TIMESTAMPTZ NOT NULL, published BOOLEAN NOT NULL,
        blockers VARCHAR[] NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS ops.scope_results (
        run_id VARCHAR NOT NULL, source VARCHAR NOT NULL, scope VARCHAR NOT NULL, status VARCHAR NOT NULL,
        error VARCHAR, requests BIGINT, recorded_at TIMESTAMPTZ NOT NULL)""",
)

# Per source and scope: the latest load of any of its streams (the loader logs every merged
# batch, changed or not, so a quiet night still counts as fresh).
FRESHNESS_SQL = """
select split_part(stream, '__', 1) as source, scope, max(loaded_at) as last_loaded_at,
       arg_max(run_id, loaded_at) as last_loaded_run, count(distinct stream) as streams
from {load_log} group by 1, 2 order by 1, 2
"""


def record_run(working: Path, run_id: str, results: list[dict[str, Any]] | None, published: bool,
               blockers: list[str]) -> None:
    """Write tonight's outcome and each scope's status to the working warehouse (the
    caller holds the writer's slot: the publish step)."""
    now = datetime.now(timezone.utc)
    with duckdb.connect(str(working)) as connection:
        for statement in _OPS_DDL:
            connection.execute(statement)
        connection.execute("begin")
        connection.execute("delete from ops.runs where run_id = ?", [run_id])  # a rerun replaces its record
        connection.execute("delete from ops.scope_results where run_id = ?", [run_id])
        connection.execute("insert into ops.runs values (?, ?, ?, ?)", [run_id, now, published, blockers])
        rows = [[run_id, result.get("source", "github"), result["scope"], result["status"], result.get("error"),
                 result.get("requests"), now] for result in results or []]
        if rows:
            connection.executemany("insert into ops.scope_results values (?, ?, ?, ?, ?, ?, ?)", rows)
        connection.execute("commit")


@dataclass
class Status:
    now: datetime
    published_path: str
    publication: dict[str, Any] | None = None            # meta.publication of the published file
    parquet_run_id: str | None = None                    # the run of the current Parquet export
    working_available: bool = False
    working_note: str | None = None                      # why the working warehouse was not read
    last_run: dict[str, Any] | None = None               # ops.runs, latest
    freshness: list[dict[str, Any]] = field(default_factory=list)
    freshness_from: str = "none"                         # working | published | none
    failures: list[dict[str, Any]] = field(default_factory=list)     # the last run's failed scopes
    quarantined: list[dict[str, Any]] = field(default_factory=list)  # batches not loaded since

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=_json_value, indent=2)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _rows(connection: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict[str, Any]]:
    cursor = connection.execute(sql, params or [])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _tables(connection: duckdb.DuckDBPyConnection) -> set[str]:
    return {f"{schema}.{name}" for schema, name in connection.execute(
        "select table_schema, table_name from information_schema.tables").fetchall()}


def _utc(value: Any) -> Any:
    """TIMESTAMPTZ values come back in the session's zone; naive ones are UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value


def _with_age(rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    for row in rows:
        for key, value in list(row.items()):
            row[key] = _utc(value)
        if row.get("last_loaded_at") is not None:
            row["age_hours"] = round((now - row["last_loaded_at"]).total_seconds() / 3600, 2)
    return rows


def read_status(config: PipelineConfig, now: datetime | None = None) -> Status:
    now = now or datetime.now(timezone.utc)
    published = config.published_warehouse
    status = Status(now=now, published_path=str(published))
    if published.exists():
        with duckdb.connect(str(published), read_only=True) as connection:
            tables = _tables(connection)
            if "meta.publication" in tables:
                status.publication = {k: _utc(v) for k, v in _rows(connection, "select * from meta.publication")[0].items()}
                status.publication["age_hours"] = round(
                    (now - status.publication["published_at"]).total_seconds() / 3600, 2)
            if "meta.freshness" in tables:
                status.freshness = _with_age(_rows(connection, "select * from meta.freshness order by source, scope"), now)
                status.freshness_from = "published"
    from kpi.publish import current_parquet_export

    export = current_parquet_export(published)
    if export is not None and (export / "manifest.json").is_file():
        status.parquet_run_id = json.loads((export / "manifest.json").read_text())["run_id"]
    _read_working(config.working_warehouse, status, now)
    return status


def _read_working(working: Path, status: Status, now: datetime) -> None:
    if not working.exists():
        status.working_note = f"no working warehouse at {working} (the pipeline has not loaded anything yet)"
        return
    try:
        connection = duckdb.connect(str(working), read_only=True)
    except duckdb.IOException as error:
        if "lock" not in str(error).lower():
            raise
        # A load (or dbt) is writing right now: never wait for or take its lock.
        status.working_note = (f"the working warehouse {working} is locked by a running pipeline step; "
                               f"showing what the published file knows ({error})")
        return
    with connection:
        status.working_available = True
        tables = _tables(connection)
        if "raw._load_log" in tables:
            status.freshness = _with_age(_rows(connection, FRESHNESS_SQL.format(load_log="raw._load_log")), now)
            status.freshness_from = "working"
        if "ops.runs" in tables:
            runs = _rows(connection, "select * from ops.runs order by recorded_at desc limit 1")
            if runs:
                status.last_run = {k: _utc(v) for k, v in runs[0].items()}
                status.failures = _rows(connection, "select source, scope, status, error from ops.scope_results "
                                                    "where run_id = ? and status = 'failed' order by 1, 2",
                                        [status.last_run["run_id"]])
                last = {(row["source"], row["scope"]): row for row in _rows(
                    connection, "select source, scope, status, error from ops.scope_results where run_id = ?",
                    [status.last_run["run_id"]])}
                for row in status.freshness:
                    row["last_run_status"] = (last.get((row["source"], row["scope"])) or {}).get("status")
        if "quarantine.batches" in tables:
            # Still outstanding: no batch of that stream and scope has loaded since.
            load_log = "raw._load_log" in tables
            status.quarantined = [{k: _utc(v) for k, v in row.items()} for row in _rows(connection, f"""
                select q.run_id, q.stream, q.scope, q.records, q.reason, q.kept_path, q.quarantined_at
                from quarantine.batches q
                {'''where not exists (select 1 from raw._load_log l where l.stream = q.stream
                                        and l.scope = q.scope and l.loaded_at > q.quarantined_at)''' if load_log else ''}
                order by q.quarantined_at desc, q.stream, q.scope""")]


def _age(hours: float | None) -> str:
    if hours is None:
        return ""
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def print_status(status: Status, console) -> None:
    """The status as rich tables."""
    from rich.table import Table

    if status.publication:
        pub = status.publication
        console.print(f"[bold]Published[/bold] {status.published_path}: run {pub['run_id']}, "
                      f"{pub['published_at']:%Y-%m-%d %H:%M} UTC ({_age(pub['age_hours'])} ago); "
                      f"Parquet export: run {status.parquet_run_id or 'none'}", highlight=False)
    else:
        console.print(f"[bold]Published[/bold]: nothing at {status.published_path} yet "
                      "(run `make demo` or the kpi_nightly DAG)", highlight=False)
    if status.working_note:
        console.print(f"[yellow]{status.working_note}[/yellow]", highlight=False)
    if status.last_run:
        run = status.last_run
        outcome = "published" if run["published"] else "not published: " + "; ".join(run["blockers"])
        console.print(f"[bold]Last run[/bold] {run['run_id']} at {run['recorded_at']:%Y-%m-%d %H:%M} UTC: {outcome}",
                      highlight=False)
    table = Table(title=f"Freshness per source and scope (from the {status.freshness_from} warehouse)")
    for column in ("source", "scope", "last loaded (UTC)", "age", "streams", "last run"):
        table.add_column(column)
    for row in status.freshness:
        table.add_row(row["source"], row["scope"], f"{row['last_loaded_at']:%Y-%m-%d %H:%M}",
                      _age(row.get("age_hours")), str(row["streams"]), row.get("last_run_status") or "")
    console.print(table)
    if status.failures:
        failures = Table(title="Failed scopes (last run)")
        for column in ("source", "scope", "error"):
            failures.add_column(column)
        for row in status.failures:
            failures.add_row(row["source"], row["scope"], row["error"] or "")
        console.print(failures)
    elif status.last_run:
        console.print("No failed scope in the last run.")
    if status.quarantined:
        quarantined = Table(title="Quarantined batches not loaded since")
        for column in ("when (UTC)", "stream", "scope", "records", "reason", "kept copy"):
            quarantined.add_column(column)
        for row in status.quarantined:
            quarantined.add_row(f"{row['quarantined_at']:%Y-%m-%d %H:%M}", row["stream"], row["scope"],
                                str(row["records"]), row["reason"].splitlines()[0], row["kept_path"])
        console.print(quarantined)
    elif status.working_available:
        console.print("No quarantined batch outstanding.")
