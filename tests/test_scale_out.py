"""kpi_nightly scaled out: Airflow 3 with the CeleryExecutor, as separate processes on this machine.

The compose stack's topology without Docker (tests/support/airflow_cluster.py): metadata in
a fresh PostgreSQL database, Redis as the Celery broker, results on PostgreSQL, an API
server, a scheduler, a DAG processor and two Celery workers. The DAG is triggered against
the simulator of all four sources; the run must succeed with its tasks spread over both
workers, and publish exactly the marts an in-process run (`kpi.pipeline.run_all`) of the
same organisation and configuration publishes. Then `airflow backfill create` runs the
DAG for two later dates on the same cluster: the marts it publishes must equal those of
in-process nightly runs of those dates (each as of its run's data interval end).
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from kpi.config import load_config
from kpi.demo import kpi_rows, simulator_connections
from kpi.pipeline import run_all
from simulator.simulation import Credentials, build_simulation
from simulator.truth import deployment_frequency
from tests.support.airflow_cluster import AirflowCluster, executable

pytestmark = [pytest.mark.e2e, pytest.mark.scale_out, pytest.mark.timeout(1500)]

ANCHOR = datetime(2026, 11, 23, tzinfo=timezone.utc)
RUN_ID = "scale_out_test"
RUN_TIMEOUT_SECONDS = 15 * 60
BACKFILL_DATES = ("2026-11-24", "2026-11-25")  # logical dates after the triggered run's


# When this warehouse extracted a row's records: it differs between two independent runs of
# the same night by construction (the incremental models' bookmark), so it is not compared.
EXTRACTION_LINEAGE_COLUMNS = ("source_loaded_at",)


def mart_tables(published: Path) -> dict[str, list[tuple]]:
    """Every row of every table of the published warehouse's marts schema, in a fixed order,
    without the extraction-lineage columns."""
    with duckdb.connect(str(published), read_only=True) as connection:
        columns: dict[str, list[str]] = {}
        for table, column in connection.execute(
                "select table_name, column_name from information_schema.columns where table_schema = 'marts' "
                "order by table_name, ordinal_position").fetchall():
            columns.setdefault(table, []).append(column)
        return {table: connection.execute(
                    "select " + ", ".join(f'"{c}"' for c in names if c not in EXTRACTION_LINEAGE_COLUMNS)
                    + f' from marts."{table}" order by all').fetchall()
                for table, names in columns.items()}


@contextmanager
def environment(variables: dict[str, str]):
    """os.environ with `variables` set, restored afterwards (the pipeline reads its data
    directory and connections from the environment when it runs)."""
    saved = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def apply_pools(cluster: AirflowCluster, config_path: Path) -> None:
    """The pools kpi_nightly's tasks run in (a task in a missing pool is never scheduled)."""
    from kpi.airflow_pools import apply_pools as apply

    apply(load_config(config_path), airflow=executable("airflow"), env=cluster.env_for("cli"))


@pytest.fixture(scope="module")
def scaled_out(tmp_path_factory):
    root = tmp_path_factory.mktemp("scale_out")
    config_path = Path(__file__).resolve().parent.parent / "config" / "pipeline.yaml"
    simulation = build_simulation("small", seed=7, anchor=ANCHOR)
    credentials = Credentials()
    # One budget for both runs: neither may be cut short by the simulated rate limit.
    with simulation.server(credentials, rate_limit=10**9) as simulator:
        # No KPI_AS_OF: every DAG run builds its marts as of its data interval end, which the
        # in-process runs below are then given explicitly.
        pipeline_env = {**simulator_connections(simulator, credentials), "KPI_CONFIG": str(config_path)}
        started = time.monotonic()
        with AirflowCluster(root / "airflow", {**pipeline_env, "KPI_DATA_DIR": str(root / "celery-data")}) as cluster:
            airflow = executable("airflow")
            cluster.run("db-migrate", airflow, "db", "migrate")
            apply_pools(cluster, config_path)
            cluster.start_all()
            cluster.wait_until(lambda: len(cluster.celery_workers()) == 2, "both Celery workers", timeout=180)
            cluster.wait_until(
                lambda: cluster.query("select 1 from serialized_dag where dag_id = 'kpi_nightly'"),
                "the DAG processor to serialize kpi_nightly", timeout=180)
            cluster.run("trigger", airflow, "dags", "trigger", "kpi_nightly", "--run-id", RUN_ID,
                        "--logical-date", ANCHOR.isoformat())
            triggered = time.monotonic()
            state = cluster.wait_until(
                lambda: next((s for (s,) in cluster.query(
                    "select state from dag_run where dag_id = 'kpi_nightly' and run_id = %s", (RUN_ID,))
                    if s in ("success", "failed")), None),
                "kpi_nightly to finish", timeout=RUN_TIMEOUT_SECONDS, interval=3)
            run_seconds = time.monotonic() - triggered
            task_instances = cluster.query(
                "select task_id, map_index, state, hostname from task_instance "
                "where dag_id = 'kpi_nightly' and run_id = %s order by task_id, map_index", (RUN_ID,))
            workers = cluster.celery_workers()
            diagnostics = cluster.diagnostics() if state != "success" else ""
            with environment({**pipeline_env, "KPI_DATA_DIR": str(root / "celery-data")}):
                celery_published = load_config(config_path).published_warehouse
            celery_marts = mart_tables(celery_published) if state == "success" else {}

            backfill_runs: list[tuple] = []
            if state == "success":
                cluster.run("backfill", airflow, "backfill", "create", "--dag-id", "kpi_nightly",
                            "--from-date", BACKFILL_DATES[0], "--to-date", BACKFILL_DATES[-1])
                backfill_runs = cluster.wait_until(lambda: (lambda runs: runs if len(runs) == len(BACKFILL_DATES) and all(
                    run_state in ("success", "failed") for _, run_state, _ in runs) else None)(cluster.query(
                        "select logical_date, state, data_interval_end from dag_run "
                        "where dag_id = 'kpi_nightly' and run_type = 'backfill' order by logical_date")),
                    "the backfill runs to finish", timeout=RUN_TIMEOUT_SECONDS, interval=3)
                if any(run_state != "success" for _, run_state, _ in backfill_runs):
                    diagnostics = cluster.diagnostics()
            backfill_marts = mart_tables(celery_published) if backfill_runs else {}
            triggered_as_of = cluster.query(
                "select data_interval_end from dag_run where dag_id = 'kpi_nightly' and run_id = %s", (RUN_ID,))[0][0]
            database, redis_db = cluster.database, cluster.redis_db
        cluster_seconds = time.monotonic() - started

        # The same nights in-process: the triggered one, then the backfilled dates in order.
        with environment({**pipeline_env, "KPI_DATA_DIR": str(root / "in-process-data"),
                          "KPI_AS_OF": triggered_as_of.isoformat()}):
            config = load_config(config_path)
            in_process_published = config.published_warehouse  # the data dir is read from the environment
            run_all(config, run_id="in_process")
            in_process_marts = mart_tables(in_process_published)
        for logical_date, _, interval_end in backfill_runs:
            with environment({**pipeline_env, "KPI_DATA_DIR": str(root / "in-process-data"),
                              "KPI_AS_OF": interval_end.isoformat()}):
                run_all(load_config(config_path), run_id=f"in_process_{logical_date:%Y%m%d}")
        in_process_nightly_marts = mart_tables(in_process_published)

    yield {
        "state": state, "task_instances": task_instances, "workers": workers, "diagnostics": diagnostics,
        "celery_marts": celery_marts, "in_process_marts": in_process_marts, "org": simulation.org,
        "config": config, "celery_published": celery_published,
        "database": database, "redis_db": redis_db, "cluster": cluster,
        "run_seconds": run_seconds, "cluster_seconds": cluster_seconds,
        "backfill_runs": backfill_runs, "backfill_marts": backfill_marts,
        "in_process_nightly_marts": in_process_nightly_marts,
    }


def test_kpi_nightly_succeeds_on_the_celery_executor(scaled_out):
    assert scaled_out["state"] == "success", scaled_out["diagnostics"]
    states = {state for _, _, state, _ in scaled_out["task_instances"]}
    assert states <= {"success", "skipped"}, scaled_out["task_instances"]
    print(f"\nscale-out run: {scaled_out['run_seconds']:.0f} s from trigger to success; "
          f"{scaled_out['cluster_seconds']:.0f} s with setup and teardown")


def test_tasks_ran_on_both_celery_workers(scaled_out):
    assert scaled_out["workers"] == sorted(f"{w}@{os.uname().nodename}" for w in ("worker1", "worker2"))
    ran = [(task, index, host) for task, index, state, host in scaled_out["task_instances"] if state == "success"]
    hosts = {host for _, _, host in ran}
    assert hosts == {"worker1", "worker2"}, ran
    # The mapped extraction tasks (one per repository, project, job) are the parallel part
    # of the night: they too were shared by the two workers.
    extract_hosts = {host for task, index, host in ran if task.startswith("extract_") and index >= 0}
    assert extract_hosts == {"worker1", "worker2"}, ran


def test_published_marts_equal_the_in_process_run(scaled_out):
    celery, in_process = scaled_out["celery_marts"], scaled_out["in_process_marts"]
    assert celery, scaled_out["diagnostics"]
    assert celery.keys() == in_process.keys()
    assert sum(len(rows) for rows in celery.values()) > 1000
    for table in in_process:
        assert celery[table] == in_process[table], f"marts.{table} differs between the Celery and in-process runs"


def test_a_backfill_publishes_the_marts_of_the_nightly_runs_of_its_dates(scaled_out):
    runs = scaled_out["backfill_runs"]
    assert [(f"{logical_date:%Y-%m-%d}", state) for logical_date, state, _ in runs] == [
        (day, "success") for day in BACKFILL_DATES], scaled_out["diagnostics"]
    backfilled, nightly = scaled_out["backfill_marts"], scaled_out["in_process_nightly_marts"]
    assert backfilled.keys() == nightly.keys()
    for table in nightly:
        assert backfilled[table] == nightly[table], f"marts.{table} differs between the backfill and the nightly runs"
    # as of each run's own interval end: the backfilled marts are not the triggered run's
    assert backfilled != scaled_out["celery_marts"]


def test_published_deployment_frequency_equals_the_generator_truth(scaled_out):
    config, org = scaled_out["config"], scaled_out["org"]
    truth = deployment_frequency(org, tuple(config.deployments.production_environments))
    assert len(truth) > 30
    assert kpi_rows(scaled_out["celery_published"]) == truth


def test_the_cluster_left_nothing_behind(scaled_out):
    import psutil
    import psycopg2

    import redis

    from tests.support.airflow_cluster import PG, REDIS

    cluster = scaled_out["cluster"]
    assert {component.name for component in cluster.components} == {
        "api-server", "scheduler", "dag-processor", "worker1", "worker2"}
    for component in cluster.components:
        assert component.process.poll() is not None, f"{component.name} still running"
    # every process of the cluster, Celery pool processes and log servers included, is gone
    assert len(cluster.stopped) > len(cluster.components)
    for pid, started in cluster.stopped:
        try:
            process = psutil.Process(pid)
        except psutil.NoSuchProcess:
            continue
        assert process.create_time() != started or process.status() == psutil.STATUS_ZOMBIE, process
    with psycopg2.connect(dbname="postgres", **PG) as connection, connection.cursor() as cursor:
        cursor.execute("select count(*) from pg_database where datname = %s", (scaled_out["database"],))
        assert cursor.fetchone()[0] == 0
    assert redis.Redis(db=scaled_out["redis_db"], **REDIS).dbsize() == 0
