"""The real DAG, run by real Airflow (`airflow dags test`), against the simulator over HTTP."""

import os
import stat
from datetime import date, datetime, timezone

import duckdb
import pytest

from kpi.config import load_config
from kpi.demo import DEMO_GITHUB_RATE_LIMIT, airflow_env, kpi_rows, run_dag_with_airflow, simulator_connections
from simulator.simulation import Credentials, build_simulation
from simulator.truth import deployment_frequency

pytestmark = pytest.mark.e2e
ANCHOR = datetime(2026, 11, 23, tzinfo=timezone.utc)


def snapshot(warehouse) -> dict:
    """Every row of every raw table and every mart (tables and views), for comparing two runs exactly."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        tables = connection.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('raw', 'marts') and table_name <> '_load_log' order by 1, 2"
        ).fetchall()
        return {
            f"{schema}.{table}": connection.execute(f'select * from "{schema}"."{table}" order by all').fetchall()
            for schema, table in tables
        }


@pytest.fixture(scope="module")
def nightly_runs(tmp_path_factory):
    """Run kpi_nightly twice for the same date against one simulated organisation."""
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    os.environ["KPI_DATA_DIR"] = str(data_dir)
    try:
        config = load_config()
        simulation = build_simulation("small", seed=7, anchor=ANCHOR)
        org = simulation.org
        credentials = Credentials()
        snapshots = []
        with simulation.server(credentials, rate_limit=DEMO_GITHUB_RATE_LIMIT) as simulator:
            env = {**airflow_env(config), **simulator_connections(simulator, credentials)}
            for attempt in range(2):
                run_dag_with_airflow(env, date(2026, 11, 23), data_dir / "logs" / f"airflow-{attempt}.log")
                snapshots.append(snapshot(config.working_warehouse))
            requests = simulator.request_count
        yield {"config": config, "org": org, "snapshots": snapshots, "requests": requests}
    finally:
        os.environ.pop("KPI_DATA_DIR", None)


def test_published_deployment_frequency_equals_the_generator_truth(nightly_runs):
    config, org = nightly_runs["config"], nightly_runs["org"]
    truth = deployment_frequency(org, tuple(config.deployments.production_environments))
    assert len(truth) > 30
    assert kpi_rows(config.published_warehouse) == truth


def test_every_simulated_pull_request_and_deployment_is_loaded_once(nightly_runs):
    org = nightly_runs["org"]
    raw = nightly_runs["snapshots"][0]
    assert len(raw["raw.github__pull_requests"]) == len(org.all_pull_requests())
    assert len(raw["raw.github__deployments"]) == len(org.all_deployments())
    statuses = sum(len(d.statuses) for d in org.all_deployments())
    assert len(raw["raw.github__deployment_statuses"]) == statuses


def test_running_the_dag_twice_for_the_same_date_changes_nothing(nightly_runs):
    first, second = nightly_runs["snapshots"]
    assert first.keys() == second.keys()
    for table in first:
        assert first[table] == second[table], f"{table} changed on the second run"


def test_published_warehouse_is_read_only(nightly_runs):
    published = nightly_runs["config"].published_warehouse
    assert stat.S_IMODE(os.stat(published).st_mode) & 0o222 == 0
    with pytest.raises(duckdb.Error):
        with duckdb.connect(str(published), read_only=True) as connection:
            connection.execute("create table marts.x as select 1")
