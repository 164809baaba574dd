"""Run dbt as a subprocess against the working warehouse.

A subprocess keeps dbt's logging and global state out of the Airflow task process, and
its exit code is the contract. Target and log folders live under the data directory,
so the source tree stays clean and parallel environments do not collide.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from kpi.config import PROJECT_ROOT, PipelineConfig

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DBT_PROJECT_ENV = "KPI_DBT_PROJECT_DIR"
log = logging.getLogger(__name__)


def dbt_project_dir() -> Path:
    """The dbt project the pipeline builds: this repository's, or a copy named by
    $KPI_DBT_PROJECT_DIR (a fork under review; the tests' night with a broken model)."""
    override = os.environ.get(DBT_PROJECT_ENV)
    if not override:
        return DBT_PROJECT_DIR
    project = Path(override)
    if not (project / "dbt_project.yml").is_file():
        raise DbtError(f"${DBT_PROJECT_ENV}={override}: no dbt_project.yml there")
    return project


class DbtError(RuntimeError):
    pass


def dbt_target_dir(config: PipelineConfig) -> Path:
    """dbt's target folder (manifest, run results, partial-parse state) for this data directory."""
    return config.data_dir / "dbt" / "target"


def dbt_vars(config: PipelineConfig) -> dict:
    return {
        "production_environments": list(config.deployments.production_environments),
        "first_deployment_lookback_days": config.deployments.first_deployment_lookback_days,
        "incident_attribution_hours": config.deployments.incident_attribution_hours,
        "unassigned_team": config.unassigned_team,
    }


def run_dbt(config: PipelineConfig, command: str = "build", extra_args: list[str] | None = None,
            extra_env: dict[str, str] | None = None) -> str:
    """Run `dbt <command>` on the working warehouse; raise DbtError with dbt's output on failure."""
    env = {
        **os.environ,
        **(extra_env or {}),
        "KPI_WAREHOUSE_PATH": str(config.working_warehouse),
        "DBT_TARGET_PATH": str(dbt_target_dir(config)),
        "DBT_LOG_PATH": str(config.data_dir / "dbt" / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }
    project = dbt_project_dir()
    args = [
        sys.executable, "-m", "kpi.dbt_cli", *command.split(),  # "build", or a subcommand: "docs generate"
        "--project-dir", str(project),
        "--profiles-dir", str(project),
        "--vars", json.dumps(dbt_vars(config)),
        *(extra_args or []),
    ]
    log.info("running %s", " ".join(args[:2]))
    completed = subprocess.run(args, env=env, cwd=project, capture_output=True, text=True)
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        lines = output.splitlines()
        # The summary lines plus the database's own message (the lines after "... Error in").
        failing = [line for index, line in enumerate(lines)
                   if "ERROR" in line or "FAIL" in line
                   or any(" Error in " in previous for previous in lines[max(index - 3, 0):index])]
        raise DbtError(f"dbt {command} failed (exit {completed.returncode}):\n" + "\n".join(failing[-40:] or output.splitlines()[-40:]))
    return output


# What the incremental marts are built from besides the raw records: the dbt code, the dbt
# vars (configuration), and the configuration reference tables (repository -> team, Jira
# project -> team, Jenkins job -> repository, ...). When any of them changes, rows built on
# earlier nights may be stale, so the next build is a full refresh.
DBT_CODE = ("dbt_project.yml", "models", "macros", "tests")
BUILDS_TABLE = "ops.dbt_builds"
FULL_BUILD_TESTS_TAG = "staging_contract"  # dbt_project.yml: the staging views' tests

# The generic tests on marts that the mart audit re-checks before every publish (expectations/
# suites.py contract_expectations: not_null, unique, accepted_values, unique_combination_of_
# columns, relationships; tests/test_dbt_runner.py checks that each one has its expectation).
# An incremental night runs each check once, there, instead of also as about 100 dbt test
# nodes, each paying dbt's fixed cost per node; a full build runs them all.
MART_TESTS_THE_AUDIT_REPEATS = tuple(
    f"test_name:{name},path:models/marts"
    for name in ("not_null", "unique", "accepted_values", "unique_combination_of_columns", "relationships"))

# SQL that makes a model's rows depend on when it is built: the as_of moment, the database's
# clock, or dbt's (`run_started_at` in Jinja; GitHub's workflow runs have a column of that name).
_CLOCK = re.compile(r"\b(as_of|current_date|current_timestamp|localtimestamp|now\s*\()"
                    r"|\{[{%][^}]*(?<![\w.'\"])run_started_at\b(?!['\"])", re.IGNORECASE)
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)  # dbt's date_spine documents itself with current_date

# Sources whose tables are the configuration reference tables, covered by the fingerprint.
CONFIGURATION_SOURCES = ("config", "okrs")


def _reads_clock(sql: str) -> bool:
    return bool(_CLOCK.search(_JINJA_COMMENT.sub("", sql)))


def build_fingerprint(config: PipelineConfig, warehouse: Path | None = None) -> str:
    """sha256 over the dbt code, the dbt vars and the `raw.config__*` reference tables."""
    import duckdb

    digest = hashlib.sha256(json.dumps(dbt_vars(config), sort_keys=True).encode())
    project = dbt_project_dir()
    for entry in DBT_CODE:
        root = project / entry
        for path in sorted([root] if root.is_file() else root.rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(project)).encode() + b"\0" + path.read_bytes())
    with duckdb.connect(str(warehouse or config.working_warehouse), read_only=True) as connection:
        tables = [row[0] for row in connection.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'raw' and table_name like 'config\\_\\_%' escape '\\' order by 1").fetchall()]
        for table in tables:
            content = connection.execute(
                f'select string_agg(cast(t as varchar), chr(10) order by cast(t as varchar)) from raw."{table}" as t'
            ).fetchone()[0]
            digest.update(table.encode() + b"\0" + (content or "").encode())
    return digest.hexdigest()


def _last_build(connection) -> tuple[str, datetime] | None:
    """(fingerprint, started_at) of the last successful build recorded in this warehouse."""
    exists = connection.execute(
        "select count(*) from information_schema.tables where table_schema = 'ops' and table_name = 'dbt_builds'"
    ).fetchone()[0]
    if not exists:
        return None
    return connection.execute(f"select fingerprint, started_at from {BUILDS_TABLE} order by finished_at desc limit 1").fetchone()


def last_build_fingerprint(warehouse: Path) -> str | None:
    """The fingerprint of the last successful build of this warehouse (None: never built here)."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        row = _last_build(connection)
    return row[0] if row else None


def record_build(warehouse: Path, fingerprint: str, full_refresh: bool, started_at: datetime) -> None:
    import duckdb

    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema if not exists ops")
        connection.execute(
            f"create table if not exists {BUILDS_TABLE} (fingerprint varchar not null, full_refresh boolean not null, "
            "started_at timestamptz not null, finished_at timestamptz not null)")
        connection.execute(f"insert into {BUILDS_TABLE} values (?, ?, ?, ?)",
                           [fingerprint, full_refresh, started_at, datetime.now(timezone.utc)])


def unchanged_raw_tables(warehouse: Path) -> set[str]:
    """Raw tables no load changed since the last successful build started: every batch merged
    since then (raw._load_log, one row per stream, scope and run) inserted and updated nothing.
    A table whose rows a key listing can mark deleted (`_deleted_at`) never counts as
    unchanged: a marking changes rows without a merge. Empty when there is no build or load
    log to judge by."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        tables = {table for (table,) in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()}
        last_build = _last_build(connection)
        if "_load_log" not in tables or last_build is None:
            return set()
        changed = {stream for (stream,) in connection.execute(
            "select distinct stream from raw._load_log where loaded_at >= ? and inserted + updated > 0", [last_build[1]]
        ).fetchall()}
        deletion_tracked = {table for (table,) in connection.execute(
            "select table_name from information_schema.columns where table_schema = 'raw' and column_name = '_deleted_at'"
        ).fetchall()}
    return {table for table in tables if not table.startswith("_") and table not in changed | deletion_tracked}


def _clock_reader(manifest: dict) -> Callable[[dict], bool]:
    """node -> whether its own SQL, or a macro it calls (at any depth), reads the clock or `as_of`."""
    macros = manifest["macros"]
    macro_reads_clock: dict[str, bool] = {}

    def macro_reads(macro_id: str) -> bool:
        if macro_id not in macro_reads_clock:
            macro_reads_clock[macro_id] = False  # a recursive macro: decided by its other calls
            macro = macros.get(macro_id)
            macro_reads_clock[macro_id] = macro is not None and (
                _reads_clock(macro["macro_sql"])
                or any(macro_reads(called) for called in macro["depends_on"]["macros"]))
        return macro_reads_clock[macro_id]

    def node_reads(node: dict) -> bool:
        return _reads_clock(node.get("raw_code") or "") or any(macro_reads(m) for m in node["depends_on"]["macros"])

    return node_reads


def models_with_unchanged_inputs(manifest: dict, unchanged_tables: set[str]) -> list[str]:
    """Models tonight's build would leave as they are: every source upstream is unchanged (a
    configuration reference table, which the fingerprint covers, or a raw table in
    `unchanged_tables`), and no SQL on the way (model or macro) reads the clock or `as_of`.
    A table model would be rebuilt with the same rows and an incremental one would find
    nothing new (okr_history, which snapshots the as-of week, reads `as_of`)."""
    nodes, sources = manifest["nodes"], manifest["sources"]
    reads_clock = _clock_reader(manifest)
    changes_tonight: dict[str, bool] = {}

    def changes(node_id: str) -> bool:
        if node_id not in changes_tonight:
            if node_id in sources:
                source = sources[node_id]
                changes_tonight[node_id] = not (source["source_name"] in CONFIGURATION_SOURCES
                                                or source["identifier"] in unchanged_tables)
            else:
                node = nodes[node_id]
                changes_tonight[node_id] = reads_clock(node) or any(changes(parent) for parent in node["depends_on"]["nodes"])
        return changes_tonight[node_id]

    return sorted(node["name"] for node_id, node in nodes.items()
                  if node["resource_type"] == "model" and not changes(node_id))


def views_defined_by_the_code_alone(manifest: dict) -> list[str]:
    """Views tonight's build would recreate exactly as they are: a view's definition is its
    SQL, which the fingerprint says is the last full build's, unless that SQL reads the
    clock or `as_of` (rendered into the definition as a constant). DuckDB binds a view's
    tables by name when it is queried, so the tables rebuilt under it need nothing.
    (PostgreSQL binds a view to the tables it reads and dbt drops it with a replaced table;
    that target is only ever built in full, by kpi.postgres.)"""
    reads_clock = _clock_reader(manifest)
    return sorted(node["name"] for node in manifest["nodes"].values()
                  if node["resource_type"] == "model" and node["config"].get("materialized") == "view"
                  and not reads_clock(node))


# Beside manifest.json: the fingerprint of the full build that wrote it. Incremental nights
# do not rewrite the manifest (--no-write-json), and a failed build with other code may
# have written one since; only a manifest stamped with tonight's fingerprint is trusted.
MANIFEST_FINGERPRINT = "manifest.fingerprint"


def manifest_stamp(config: PipelineConfig) -> Path:
    return dbt_target_dir(config) / MANIFEST_FINGERPRINT


def incremental_exclusions(config: PipelineConfig, fingerprint: str | None = None) -> list[str]:
    """Selection arguments of an incremental night: leave out unit tests and the staging
    contract tests (see build), the mart tests the audit repeats, and, from the manifest of
    the last full build when it is stamped with `fingerprint` (i.e. written by this code;
    no model left out otherwise), the models whose inputs did not change and the views
    that do not read the clock."""
    exclusions = [f"tag:{FULL_BUILD_TESTS_TAG}", *MART_TESTS_THE_AUDIT_REPEATS]
    manifest_path, stamp = dbt_target_dir(config) / "manifest.json", manifest_stamp(config)
    if manifest_path.is_file() and stamp.is_file() and stamp.read_text().strip() == fingerprint:
        manifest = json.loads(manifest_path.read_text())
        unchanged = set(models_with_unchanged_inputs(manifest, unchanged_raw_tables(config.working_warehouse)))
        exclusions += sorted(unchanged | set(views_defined_by_the_code_alone(manifest)))
    # cautious: leaving a model out leaves out only the tests all of whose models are left out,
    # so a test that also reads a rebuilt model still runs.
    return ["--exclude-resource-type", "unit_test", "--indirect-selection", "cautious", "--exclude", *exclusions]


def build(config: PipelineConfig, full_refresh: bool = False, extra_env: dict[str, str] | None = None) -> dict:
    """`dbt build` of the marts, incremental unless something they were built from changed.

    A night whose code, configuration and reference tables are those of the last successful
    build runs the incremental models on what changed and every model whose rows can have
    changed, with the data tests the mart audit does not repeat (incremental_exclusions).
    dbt's unit tests (which test the SQL, not the data), the staging tests (which re-check
    what each batch's audit checked before the merge) and the audited mart tests run with
    the full refresh that a code change triggers, and in CI. Anything else (first build,
    changed fingerprint, `full_refresh`) rebuilds every model from the raw layer, all tests
    included."""
    started_at = datetime.now(timezone.utc)
    fingerprint = build_fingerprint(config)
    previous = last_build_fingerprint(config.working_warehouse)
    full = full_refresh or previous != fingerprint
    reason = ("requested" if full_refresh else "first build" if previous is None
              else "code, configuration or reference tables changed" if full else "unchanged")
    # An incremental night keeps the last full build's manifest.json (same code, by the
    # fingerprint) instead of writing it twice (kpi.dbt_cli keeps run_results.json).
    args = ["--full-refresh"] if full else ["--no-write-json", *incremental_exclusions(config, fingerprint)]
    log.info("dbt build (%s: %s)", "full refresh" if full else "incremental", reason)
    stamp = manifest_stamp(config)
    if full:
        stamp.unlink(missing_ok=True)  # the manifest this build writes is stamped only if it succeeds
    output = run_dbt(config, "build", extra_args=args, extra_env=extra_env)
    if full:
        stamp.write_text(fingerprint)
    record_build(config.working_warehouse, fingerprint, full, started_at)
    return {"full_refresh": full, "reason": reason, "output": output}
