"""`make demo`: the whole stack on a simulated organisation, with real Airflow.

Starts the local GitHub simulator, points the `github_default` connection at it, runs
the `kpi_nightly` DAG with `airflow dags test` (in-process, SQLite metadata DB), stops
the simulator and prints what landed in the published warehouse, checked against the
simulator's ground truth.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from kpi.config import CONFIG_ENV_VAR, DATA_DIR_ENV_VAR, PROJECT_ROOT, PipelineConfig
from kpi.executables import venv_executable


def airflow_env(config: PipelineConfig, config_path: Path | None = None) -> dict[str, str]:
    """Environment for a self-contained Airflow under the data directory."""
    airflow_home = config.data_dir / "airflow"
    airflow_home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
        DATA_DIR_ENV_VAR: str(config.data_dir),
    }
    if config_path is not None:
        env[CONFIG_ENV_VAR] = str(config_path)
    return env


# The simulator's GitHub budget for the demo: a GitHub App installation on Enterprise Cloud
# gets 15,000 requests an hour; a first sync of the small org's last 14 days fits in it.
DEMO_GITHUB_RATE_LIMIT = 15_000


def simulator_connections(server: Any, credentials: Any) -> dict[str, str]:
    """AIRFLOW_CONN_* variables pointing every source's connection at a running simulator."""
    from simulator.simulation import JENKINS_USER, JIRA_EMAIL

    def conn(host: str, password: str, login: str | None = None) -> str:
        return json.dumps({"conn_type": "http", "host": host, "password": password,
                           **({"login": login} if login else {})})

    return {
        "AIRFLOW_CONN_GITHUB_DEFAULT": conn(server.github_url, credentials.github_token),
        "AIRFLOW_CONN_JIRA_DEFAULT": conn(f"{server.base_url}/jira", credentials.jira_token, JIRA_EMAIL),
        "AIRFLOW_CONN_JENKINS_DEFAULT": conn(f"{server.base_url}/jenkins", credentials.jenkins_token, JENKINS_USER),
        "AIRFLOW_CONN_GITLAB_DEFAULT": conn(f"{server.base_url}/gitlab/api/v4", credentials.gitlab_token),
    }


def _airflow() -> str:
    return venv_executable("airflow")


def run_dag_with_airflow(env: dict[str, str], logical_date: date, log_file: Path) -> None:
    """`airflow db migrate` and `kpi airflow-pools --apply` (both idempotent), then
    `airflow dags test kpi_nightly <date>`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a", encoding="utf-8") as log:
        for command in ([_airflow(), "db", "migrate"], [venv_executable("kpi"), "airflow-pools", "--apply"],
                        [_airflow(), "dags", "test", "kpi_nightly", logical_date.isoformat()]):
            log.write(f"\n$ {' '.join(command)}\n")
            log.flush()
            completed = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            # `dags test` exits non-zero when the run fails.
            if completed.returncode != 0:
                raise RuntimeError(f"`{' '.join(command[1:])}` failed (exit {completed.returncode}); see {log_file}")


def published_summary(published: Path) -> dict[str, Any]:
    with duckdb.connect(str(published), read_only=True) as connection:
        tables = connection.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema <> 'meta' order by 1"
        ).fetchall()
        counts = {name: connection.execute(f"select count(*) from {name}").fetchone()[0] for (name,) in tables}
        per_team = connection.execute(
            """
            select team,
                   count(*) as weeks,
                   sum(deployments) as deployments,
                   sum(successful_deployments) as successful,
                   sum(failed_deployments) as failed,
                   round(avg(successful_deployments), 2) as successful_per_week
            from marts.kpi_deployment_frequency
            group by team order by team
            """
        ).fetchall()
    return {"counts": counts, "per_team": per_team}


def kpi_rows(published: Path) -> list[dict[str, Any]]:
    with duckdb.connect(str(published), read_only=True) as connection:
        cursor = connection.execute(
            "select team, week_start, deployments, successful_deployments, failed_deployments "
            "from marts.kpi_deployment_frequency order by team, week_start"
        )
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def run_demo(config: PipelineConfig, scale: str = "small", seed: int = 7, logical_date: date | None = None) -> int:
    from rich.console import Console
    from rich.table import Table

    from kpi.dashboard import dashboard_path
    from kpi.progress import AirflowRunProgress
    from simulator.simulation import Credentials, build_simulation
    from simulator.truth import deployment_frequency

    console = Console()
    logical_date = logical_date or datetime.now(timezone.utc).date()
    simulation = build_simulation(scale, seed)
    org = simulation.org
    credentials = Credentials()
    log_file = config.data_dir / "logs" / "demo-airflow.log"
    with simulation.server(credentials, rate_limit=DEMO_GITHUB_RATE_LIMIT) as simulator:
        console.print(f"simulator: GitHub, Jira, Jenkins and GitLab ({scale}, seed {seed}) at {simulator.base_url}")
        env = {**airflow_env(config), **simulator_connections(simulator, credentials)}
        console.print(f"airflow: running kpi_nightly for {logical_date} (log: {log_file})")
        with AirflowRunProgress(Path(env["AIRFLOW_HOME"]) / "airflow.db", "kpi_nightly"):  # bars on a terminal only
            run_dag_with_airflow(env, logical_date, log_file)
        requests_served = simulator.request_count

    summary = published_summary(config.published_warehouse)
    table = Table(title="published warehouse: rows per table")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in summary["counts"].items():
        table.add_row(name, str(count))
    console.print(table)

    kpi = Table(title="deployment frequency per team (production, all weeks)")
    for column in ("team", "weeks", "deployments", "successful", "failed", "successful / week"):
        kpi.add_column(column, justify="left" if column == "team" else "right")
    for row in summary["per_team"]:
        kpi.add_row(*(str(value) for value in row))
    console.print(kpi)

    truth = deployment_frequency(org, tuple(config.deployments.production_environments))
    matches = kpi_rows(config.published_warehouse) == truth
    console.print(
        f"ground truth check: kpi_deployment_frequency {'EQUALS' if matches else 'DIFFERS FROM'} "
        f"the simulator's truth ({len(truth)} team-weeks); {requests_served} API requests served"
    )
    published = config.published_warehouse
    console.print(f"published warehouse (read-only): {published}")
    console.print("query it:  .venv/bin/kpi query \"select * from marts.kpi_deployment_frequency order by week_start desc limit 10\"")
    dashboard = dashboard_path(config.data_dir)
    console.print(f"dashboard (open it in a browser, or `.venv/bin/kpi dashboard --open`): {dashboard}"
                  if dashboard.is_file() else f"dashboard: not written ({dashboard} is missing; see {log_file})")
    return 0 if matches else 1
