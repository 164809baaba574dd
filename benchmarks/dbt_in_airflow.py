"""Benchmark: dbt inside Airflow -- one `dbt build` task against astronomer-cosmos.

    python -m benchmarks.dbt_in_airflow [--repeat 3] [--variants single_airflow,cosmos_watcher] [--keep DIR]

astronomer-cosmos is not a project dependency: run this from a scratch virtualenv holding
the lock file plus `astronomer-cosmos==1.15.1` (the script exits with that message when
cosmos is missing), never from the project's .venv.

The simulator's small org is extracted, loaded and built once (tests/support/
small_warehouse.py, the mart tests' warehouse); every schema dbt builds is then dropped,
so each variant starts from a copy of the same raw data and builds the same dbt project:

- `single_bare`: `kpi.pipeline.build_marts`, what the DAG's `dbt_build` task calls, outside
  Airflow; its marts are the reference;
- `single_airflow`: a DAG with that one task, run with `airflow dags test`;
- `cosmos_local`: a Cosmos `DbtTaskGroup`, `ExecutionMode.LOCAL` with
  `InvocationMode.DBT_RUNNER` (one dbt invocation per model and per model's tests);
- `cosmos_local_build`: the same with `TestBehavior.BUILD` (one `dbt build --select model`
  per model: fewer invocations);
- `cosmos_watcher`: `ExecutionMode.WATCHER` (one producer task runs `dbt build`, one sensor
  task per model and per model's tests reports that node's result), dbt invoked in the
  producer's process (`InvocationMode.DBT_RUNNER`);
- `cosmos_watcher_subprocess`: the same with the producer's dbt in a subprocess.

Every Cosmos variant sets `should_detach_multiple_parents_tests` (a relationships test runs
after both its parents; without it the per-model build fails). In watcher mode the root
sensors are made to wait for the producer, as `airflow dags test` runs one task at a time.

Each Airflow variant gets its own scratch AIRFLOW_HOME (SQLite metadata, LocalExecutor
configured as kpi.demo.airflow_env does; `airflow dags test` runs the tasks in-process, one
at a time) with its generated DAG file in that home's dags folder, never in the project's
dags/. Measured per variant: the dbt step (first task start to last task end, from the
metadata DB), the whole `airflow dags test` command and its CPU time (user + system of it
and its children: the machine may be shared), the DAG file's parse time once Airflow is
imported (cold: Cosmos runs `dbt ls`; warm: its cache hit, what the dag-processor pays on
every parse and what every task process pays again before it runs -- `dags test` runs
the tasks in its own process, so the step times above do not include it), the number of
Airflow tasks and dbt invocations, the models, data tests and unit tests dbt started (from
its logs), and whether every mart table equals the reference row for row (EXCEPT ALL both
ways, same columns and types).

Writes benchmarks/results/<date>-dbt-in-airflow.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DBT_SCHEMAS = ("staging", "intermediate", "marts")  # what `dbt build` creates; raw and ops stay
LOGICAL_DATE = "2026-11-23"
VARIANTS = ("single_bare", "single_airflow", "cosmos_local", "cosmos_local_build", "cosmos_watcher",
            "cosmos_watcher_subprocess")
COSMOS_MISSING = ("install astronomer-cosmos==1.15.1 to run this benchmark "
                  "(in a scratch virtualenv with the lock file, not in the project's .venv)")


def require_cosmos() -> str:
    try:
        import cosmos
    except ImportError:
        raise SystemExit(COSMOS_MISSING) from None
    return getattr(cosmos, "__version__", "unknown")


# -- the warehouse ------------------------------------------------------------------------


def build_raw_warehouse(root: Path) -> tuple[Path, Path]:
    """(raw-only warehouse, the pipeline's own fully built warehouse) from the small org."""
    import duckdb

    from tests.support.small_warehouse import build_small_warehouse

    (root / "build").mkdir(parents=True, exist_ok=True)
    built = build_small_warehouse(root / "build")["config"].working_warehouse
    pipeline_copy = root / "pipeline-build.duckdb"
    shutil.copy2(built, pipeline_copy)
    raw_only = root / "raw-only.duckdb"
    shutil.copy2(built, raw_only)
    with duckdb.connect(str(raw_only)) as con:
        for schema in DBT_SCHEMAS:
            con.execute(f"drop schema if exists {schema} cascade")
        con.execute("checkpoint")
        left = con.execute("select distinct table_schema from information_schema.tables order by 1").fetchall()
    assert "raw" in {s for (s,) in left}, left
    return raw_only, pipeline_copy


def variant_config(root: Path, raw_only: Path):
    """A pipeline config whose data dir is `root`, its working warehouse a copy of `raw_only`."""
    import yaml

    from kpi.config import PROJECT_ROOT, load_config

    shutil.rmtree(root, ignore_errors=True)  # a kept folder's earlier attempt leaves nothing behind
    settings = yaml.safe_load((PROJECT_ROOT / "config" / "pipeline.yaml").read_text())
    settings["warehouse"]["data_dir"] = str(root / "data")
    config_path = root / "pipeline.yaml"
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(yaml.safe_dump(settings))
    config = load_config(config_path)
    config.working_warehouse.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(raw_only, config.working_warehouse)
    return config, config_path


def compare_marts(reference: Path, candidate: Path) -> dict[str, Any]:
    """Every table of schema marts: same tables, same columns and types, same rows (as multisets)."""
    import duckdb

    def columns(con, catalog: str) -> dict[str, list[tuple[str, str]]]:
        rows = con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_catalog = ? and table_schema = 'marts' order by table_name, ordinal_position",
            [catalog]).fetchall()
        tables: dict[str, list[tuple[str, str]]] = {}
        for table, column, kind in rows:
            tables.setdefault(table, []).append((column, kind))
        return tables

    with duckdb.connect(str(candidate), read_only=True) as con:
        con.execute(f"attach '{reference}' as ref (read_only)")
        mine = columns(con, con.execute("select current_database()").fetchone()[0])
        theirs = columns(con, "ref")
        differences: list[str] = []
        if set(mine) != set(theirs):
            differences.append(f"tables differ: missing {sorted(set(theirs) - set(mine))}, "
                               f"extra {sorted(set(mine) - set(theirs))}")
        rows = 0
        for table in sorted(set(mine) & set(theirs)):
            if mine[table] != theirs[table]:
                differences.append(f"{table}: columns differ")
                continue
            a, b = f"marts.{table}", f"ref.marts.{table}"
            count = con.execute(f"select count(*) from {a}").fetchone()[0]
            rows += count
            only_here = con.execute(f"select count(*) from (select * from {a} except all select * from {b})").fetchone()[0]
            only_there = con.execute(f"select count(*) from (select * from {b} except all select * from {a})").fetchone()[0]
            if only_here or only_there:
                differences.append(f"{table}: {only_here} rows not in the reference, {only_there} reference rows missing")
    return {"identical": not differences, "tables": len(theirs), "rows": rows, "differences": differences}


def dbt_nodes_run(logs: list[Path]) -> dict[str, int]:
    """Distinct models, data tests and unit tests that dbt started, read from its logs."""
    patterns = {"models": re.compile(r"START sql \w+ model (\S+)"), "data_tests": re.compile(r"START test (\S+)"),
                "unit_tests": re.compile(r"START unit_test (\S+)")}
    seen: dict[str, set[str]] = {kind: set() for kind in patterns}
    for log in logs:
        if log.exists():
            text = log.read_text(errors="replace")
            for kind, pattern in patterns.items():
                seen[kind].update(pattern.findall(text))
    return {kind: len(names) for kind, names in seen.items()}


def git_commit() -> str | None:
    """The checkout's commit (+ "-dirty" with uncommitted changes), None outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def tree_digest(folder: Path) -> str:
    """sha256 over the dbt project's sources, to show nobody changed it during the run."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not {"target", "logs"} & set(path.relative_to(folder).parts):
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


# -- the DAG files ------------------------------------------------------------------------

DAG_HEADER = '''\
"""Generated by benchmarks/dbt_in_airflow.py for one measured variant; not a project DAG."""
import pendulum
from airflow.sdk import dag, task

'''

SINGLE_DAG = DAG_HEADER + '''\

@dag(dag_id="bench_dbt", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def bench_dbt():
    @task(retries=0)
    def dbt_build() -> None:  # the body of kpi_nightly's dbt_build task
        from kpi.config import load_config
        from kpi.pipeline import build_marts

        build_marts(load_config())

    dbt_build()


bench_dbt()
'''

COSMOS_DAG = DAG_HEADER + '''\
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

DBT_PROJECT_DIR = {project_dir!r}


@dag(dag_id="bench_dbt", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
     default_args={{"retries": 0}})
def bench_dbt():
    group = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(DBT_PROJECT_DIR, env_vars={env!r}, dbt_vars={dbt_vars!r}),
        profile_config=ProfileConfig(profile_name="kpi_warehouse", target_name="duckdb",
                                     profiles_yml_filepath=DBT_PROJECT_DIR + "/profiles.yml"),
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.{mode},
                                         invocation_mode=InvocationMode.{invocation}),
        # A relationships test has two parents: run it after both (without this, `dbt test
        # --select <model>` runs it before the other parent exists, and the model's task fails).
        render_config=RenderConfig(load_method=LoadMode.DBT_LS, test_behavior=TestBehavior.{test_behavior},
                                   should_detach_multiple_parents_tests=True),
    )
    if ExecutionMode.{mode} is ExecutionMode.WATCHER:
        # `airflow dags test` runs one task at a time, and a sensor started before the
        # producer polls for ever (its trigger runs inline). Inside a DbtTaskGroup Cosmos
        # leaves the root sensors unwired (a scheduler runs them beside the producer): make
        # them wait for it. They then find their node's result at once; the run time is the
        # producer's `dbt build` plus one short task per sensor.
        producer = group.dag.get_task("dbt.dbt_producer_watcher")
        for node in group.dag.tasks:
            if node is not producer and not node.upstream_task_ids:
                producer >> node


bench_dbt()
'''


def dag_source(variant: str, config, env: dict[str, str]) -> str:
    from kpi.dbt_runner import DBT_PROJECT_DIR, dbt_vars

    if variant == "single_airflow":
        return SINGLE_DAG
    mode, behaviour, invocation = {
        "cosmos_local": ("LOCAL", "AFTER_EACH", "DBT_RUNNER"),
        "cosmos_local_build": ("LOCAL", "BUILD", "DBT_RUNNER"),
        "cosmos_watcher": ("WATCHER", "AFTER_EACH", "DBT_RUNNER"),
        "cosmos_watcher_subprocess": ("WATCHER", "AFTER_EACH", "SUBPROCESS"),
    }[variant]
    dbt_env = {key: env[key] for key in ("KPI_WAREHOUSE_PATH", "KPI_AS_OF", "DBT_SEND_ANONYMOUS_USAGE_STATS")}
    return COSMOS_DAG.format(project_dir=str(DBT_PROJECT_DIR), env=dbt_env, dbt_vars=dbt_vars(config),
                             mode=mode, test_behavior=behaviour, invocation=invocation)


# -- running ------------------------------------------------------------------------------


def base_env(config, config_path: Path, as_of: str) -> dict[str, str]:
    """kpi.demo's Airflow environment with a scratch home whose dags folder holds our DAG."""
    from kpi.demo import airflow_env

    env = airflow_env(config, config_path)
    env = with_airflow_home(env, Path(env["AIRFLOW_HOME"]))
    env.update({
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",  # the task logs (dbt's output) in dags-test.log
        "KPI_AS_OF": as_of,
        "KPI_WAREHOUSE_PATH": str(config.working_warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        # the same kpi, dbt and airflow as this process, whatever the editable install points at
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    })
    return env


def with_airflow_home(env: dict[str, str], home: Path) -> dict[str, str]:
    """`env` pointed at the scratch Airflow home `home`: its SQLite DB, its dags folder."""
    return {**env, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos-cache")}  # no cache shared between variants


PARSE_SNIPPET = textwrap.dedent('''
    import json, sys, time
    from collections import Counter
    started = time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag
    imported = time.perf_counter()
    bag = DagBag(sys.argv[1])  # what each task process does again before it runs (Airflow imported)
    seconds = time.perf_counter() - imported
    dag = bag.dags.get("bench_dbt")
    print(json.dumps({"seconds": round(seconds, 2), "airflow_import_seconds": round(imported - started, 2),
                      "errors": {k: v[-400:] for k, v in bag.import_errors.items()},
                      "tasks": len(dag.tasks) if dag else None,
                      "operators": dict(Counter(type(t).__name__ for t in dag.tasks)) if dag else {}}))
''')


def parse_dag(env: dict[str, str]) -> dict[str, Any]:
    """Parse the dags folder in a fresh process (what a dag-processor or a worker does)."""
    completed = subprocess.run([sys.executable, "-c", PARSE_SNIPPET, env["AIRFLOW__CORE__DAGS_FOLDER"]],
                               env=env, capture_output=True, text=True, cwd=ROOT)
    if completed.returncode != 0:
        raise RuntimeError(f"parsing the DAG failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def task_instances(airflow_db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(airflow_db) as con:
        con.row_factory = sqlite3.Row
        return [dict(row) for row in con.execute(
            "select task_id, state, start_date, end_date, duration, try_number from task_instance "
            "where dag_id = 'bench_dbt'")]


def dbt_invocations(operators: dict[str, int]) -> int:
    """One per task that runs dbt: LOCAL operators, the watcher's producer (its sensors only read XCom)."""
    return sum(n for name, n in operators.items()
               if name == "DbtProducerWatcherOperator" or (name.startswith("Dbt") and name.endswith("LocalOperator")))


def children_cpu_seconds() -> float:
    """User + system CPU of the finished child processes (and theirs): less sensitive than
    wall time to other work on a shared 2-core machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_bare(config) -> dict[str, Any]:
    from kpi.pipeline import build_marts

    cpu, started = children_cpu_seconds(), time.perf_counter()
    build_marts(config)  # dbt runs in a child process
    seconds = time.perf_counter() - started
    return {"dbt_step_seconds": round(seconds, 2), "cpu_seconds": round(children_cpu_seconds() - cpu, 2),
            "airflow_tasks": 0, "dbt_invocations": 1,
            "dbt_nodes_run": dbt_nodes_run([config.data_dir / "dbt" / "logs" / "dbt.log"])}


def run_in_airflow(variant: str, config, config_path: Path, template_db: Path, as_of: str) -> dict[str, Any]:
    from kpi.executables import venv_executable

    env = base_env(config, config_path, as_of)
    home = Path(env["AIRFLOW_HOME"])
    dags = home / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    shutil.copy2(template_db, home / "airflow.db")
    (dags / "bench_dbt.py").write_text(dag_source(variant, config, env))
    cold = parse_dag(env)
    if cold["errors"] or not cold["tasks"]:
        raise RuntimeError(f"{variant}: the DAG does not load: {cold['errors']}")
    warm = parse_dag(env)
    log_file = home / "dags-test.log"
    cpu, started = children_cpu_seconds(), time.perf_counter()
    with log_file.open("w") as log:
        completed = subprocess.run([venv_executable("airflow"), "dags", "test", "bench_dbt", LOGICAL_DATE],
                                   env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    wall, cpu = time.perf_counter() - started, children_cpu_seconds() - cpu
    tis = task_instances(home / "airflow.db")
    starts = [datetime.fromisoformat(t["start_date"]) for t in tis if t["start_date"]]
    ends = [datetime.fromisoformat(t["end_date"]) for t in tis if t["end_date"]]
    states: dict[str, int] = {}
    for ti in tis:
        states[ti["state"]] = states.get(ti["state"], 0) + 1
    return {
        "dbt_step_seconds": round((max(ends) - min(starts)).total_seconds(), 2) if starts and ends else None,
        "dags_test_wall_seconds": round(wall, 2),
        "dags_test_exit_code": completed.returncode,
        "cpu_seconds": round(cpu, 2),  # the whole `airflow dags test`: CLI, parse, tasks, dbt
        "task_seconds_sum": round(sum(t["duration"] or 0 for t in tis), 2),
        "slowest_tasks": sorted(((t["task_id"], round(t["duration"] or 0, 2)) for t in tis),
                                key=lambda pair: -pair[1])[:3],
        "parse_cold_seconds": cold["seconds"], "parse_warm_seconds": warm["seconds"],
        "airflow_tasks": cold["tasks"], "operators": cold["operators"],
        "dbt_invocations": dbt_invocations(cold["operators"]) or 1,
        "task_states": states,
        # Cosmos' dbt output is in the task logs; the single task's dbt writes its own log
        "dbt_nodes_run": dbt_nodes_run([log_file, config.data_dir / "dbt" / "logs" / "dbt.log"]),
        "log": str(log_file),
    }


def migrated_template(home: Path, config, config_path: Path) -> Path:
    """One `airflow db migrate` in `home`; its SQLite file is copied into every variant's home."""
    from kpi.executables import venv_executable

    env = with_airflow_home(base_env(config, config_path, ""), home)
    (home / "dags").mkdir(parents=True, exist_ok=True)
    completed = subprocess.run([venv_executable("airflow"), "db", "migrate"], env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{completed.stdout[-2000:]}{completed.stderr[-2000:]}")
    return home / "airflow.db"


# -- the report ---------------------------------------------------------------------------

LABELS = {
    "single_bare": "one `dbt build`, no Airflow",
    "single_airflow": "one `dbt_build` task (today's DAG)",
    "cosmos_local": "Cosmos LOCAL, tests after each model",
    "cosmos_local_build": "Cosmos LOCAL, `dbt build` per model",
    "cosmos_watcher": "Cosmos WATCHER, dbtRunner in the producer",
    "cosmos_watcher_subprocess": "Cosmos WATCHER, dbt subprocess in the producer",
}


def markdown(result: dict[str, Any]) -> str:
    lines = ["| variant | Airflow tasks | dbt invocations | models / data tests / unit tests run | dbt step (s) "
             "| `airflow dags test` (s) | CPU (s) | DAG parse cold / warm (s) | marts identical |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name in [variant for variant in VARIANTS if variant in result["variants"]]:  # JSON keys come back sorted
        row = result["variants"][name]
        if "error" in row:
            lines.append(f"| {LABELS[name]} | | | | | | | | failed: {row['error'][:80]} |")
            continue
        parse = (f"{row['parse_cold_seconds']} / {row['parse_warm_seconds']}" if "parse_cold_seconds" in row else "–")
        marts = row["marts"]
        same = "reference" if name == "single_bare" else ("yes" if marts["identical"] else "NO")
        if row.get("dags_test_exit_code"):
            same += f", run failed (exit {row['dags_test_exit_code']})"
        nodes = row.get("dbt_nodes_run") or {}
        ran = " / ".join(str(nodes.get(kind, "?")) for kind in ("models", "data_tests", "unit_tests"))
        lines.append(f"| {LABELS[name]} | {row['airflow_tasks']} | {row['dbt_invocations']} | {ran} "
                     f"| {row['dbt_step_seconds']} "
                     f"| {row.get('dags_test_wall_seconds', '–')} | {row.get('cpu_seconds', '–')} | {parse} "
                     f"| {same} ({marts['tables']} tables, "
                     f"{marts['rows']} rows) |")
    lines.append(f"\nMedians of {result['repeat']} run(s) per variant on {result['machine']['cpus']} cores.")
    return "\n".join(lines)


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each timing over the runs that worked; every run kept under `runs`."""
    good = [run for run in runs if "error" not in run]
    if not good:
        return {"error": runs[-1]["error"], "runs": runs}
    summary: dict[str, Any] = {"runs": runs, "repeats": len(good)}
    for key in ("dbt_step_seconds", "dags_test_wall_seconds", "cpu_seconds", "parse_cold_seconds", "parse_warm_seconds"):
        values = [run[key] for run in good if run.get(key) is not None]
        if values:
            summary[key] = round(statistics.median(values), 1)
    for key in ("airflow_tasks", "dbt_invocations", "operators", "dbt_nodes_run"):
        summary[key] = good[0][key] if key in good[0] else None
    summary["dags_test_exit_code"] = max((run.get("dags_test_exit_code") or 0) for run in good)
    if summary.get("parse_warm_seconds") is not None and summary["operators"]:
        # Deployed, each task that reaches a worker (EmptyOperators do not) parses the DAG file
        # first; `dags test` does not. An estimate, not a measurement.
        worker_tasks = summary["airflow_tasks"] - summary["operators"].get("EmptyOperator", 0)
        summary["worker_tasks"] = worker_tasks
        summary["deployed_parse_overhead_estimate_seconds"] = round(worker_tasks * summary["parse_warm_seconds"], 1)
    summary["marts"] = {"identical": all(run["marts"]["identical"] for run in good),
                        "tables": good[0]["marts"]["tables"], "rows": good[0]["marts"]["rows"]}
    return summary


def run(variants: list[str], out: Path | None, keep: Path | None, repeat: int = 1) -> dict[str, Any]:
    from importlib.metadata import version

    from kpi.dbt_runner import DBT_PROJECT_DIR
    from tests.support.small_warehouse import ANCHOR

    cosmos_version = require_cosmos()
    target = out or RESULTS / f"{date.today().isoformat()}-dbt-in-airflow.json"
    root = keep or Path(tempfile.mkdtemp(prefix="bench-dbt-in-airflow-"))
    root.mkdir(parents=True, exist_ok=True)
    as_of = ANCHOR.isoformat()
    project_digest = tree_digest(DBT_PROJECT_DIR)
    result: dict[str, Any] = {
        "date": date.today().isoformat(),
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "versions": {name: version(name) for name in
                     ("apache-airflow", "astronomer-cosmos", "dbt-core", "dbt-duckdb", "duckdb")},
        "cosmos_module_version": cosmos_version,
        "org": "small (seed 7, every source, all history)", "kpi_as_of": as_of,
        "dbt_project_digest": project_digest, "repeat": repeat, "git_commit": git_commit(),
        "variants": {},
    }
    saved = dict(os.environ)
    try:
        raw_only, pipeline_build = root / "raw-only.duckdb", root / "pipeline-build.duckdb"
        if keep is not None and raw_only.exists() and pipeline_build.exists():  # a kept folder: built already
            result["warehouse_reused_from"] = str(root)
        else:
            started = time.perf_counter()
            raw_only, pipeline_build = build_raw_warehouse(root)
            result["warehouse_build_seconds"] = round(time.perf_counter() - started, 1)
        os.environ["KPI_AS_OF"] = as_of  # the marts' "now", the same for every variant
        template = None
        reference: Path | None = None
        order = ["single_bare", *[v for v in variants if v != "single_bare"]]
        runs: dict[str, list[dict[str, Any]]] = {variant: [] for variant in order}
        for attempt in range(1, repeat + 1):  # round robin, so a busy minute does not hit one variant only
            for variant in order:
                config, config_path = variant_config(root / f"{variant}-{attempt}", raw_only)
                print(f"[dbt-in-airflow] {variant} #{attempt} ...", file=sys.stderr, flush=True)
                load_before = os.getloadavg()[0]
                if variant == "single_bare":  # the reference: without it there is nothing to compare
                    row = run_bare(config)
                    reference = reference or config.working_warehouse
                else:
                    try:
                        template = template or migrated_template(root / "airflow-template", config, config_path)
                        row = run_in_airflow(variant, config, config_path, template, as_of)
                    except Exception as error:  # keep the other variants' figures
                        row = {"error": f"{type(error).__name__}: {error}"[-2000:]}
                row["load_average_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
                if "error" not in row:
                    row["marts"] = compare_marts(reference, config.working_warehouse)
                runs[variant].append(row)
                result["variants"][variant] = summarise(runs[variant])
                print(f"[dbt-in-airflow] {variant} #{attempt}: "
                      f"{json.dumps({k: v for k, v in row.items() if k != 'marts'})[:400]}", file=sys.stderr, flush=True)
                _write(target, result)
        if reference is not None:  # sanity: the reference is what the pipeline itself built
            result["reference_equals_pipeline_build"] = compare_marts(pipeline_build, reference)["identical"]
        result["dbt_project_unchanged_during_run"] = tree_digest(DBT_PROJECT_DIR) == project_digest
        result["table"] = markdown(result)
        _write(target, result)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
    result["result_file"] = str(target)
    return result


def _write(target: Path, result: dict) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated, from {', '.join(VARIANTS)} (single_bare always runs: the reference)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="scratch folder to keep (warehouses, Airflow homes, logs); "
                             "a folder kept before reuses its raw warehouse")
    parser.add_argument("--repeat", type=int, default=1, help="runs per variant, round robin; medians reported")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    require_cosmos()  # before the minutes-long warehouse build
    result = run(variants, args.out, args.keep, args.repeat)
    print(result["table"])
    print(f"\nwritten to {result['result_file']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
