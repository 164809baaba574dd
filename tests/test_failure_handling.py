"""Forced failures through the real DAG (`airflow dags test`): the published warehouse is
left untouched and an alert names the cause.

GitHub only (two repositories of the small org), so the Jira, Jenkins and GitLab
extractions map over nothing: they are skipped and the night still runs to the end.
Night 1 is clean and publishes; before night 2 a pull request turns bad upstream (merged
before it was created): its repository is quarantined, nothing is published, the run
fails and the `kpi_alerts` webhook receives an alert naming the stream, the repository and
the failed expectation. Then an API outage (every GitHub request answers 502): the run
fails naming the connection, the published file is still night 1's. Last, a failing mart:
the data is good again, but the night builds a copy of the dbt project with a bug (a
deployment's finished_at an hour before its created_at) that dbt's own tests do not catch:
Great Expectations' mart audit fails, nothing is published, and the alert names the mart,
the columns and the expectation.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest

from kpi.config import load_config
from kpi.dbt_runner import DBT_PROJECT_DIR, DBT_PROJECT_ENV
from kpi.demo import airflow_env, run_dag_with_airflow
from simulator.generator import generate_org
from simulator.server import SimulatorServer
from tests.support.alert_receiver import AlertReceiver
from tests.support.small_warehouse import published_state

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]  # four Airflow nights
ANCHOR = datetime(2026, 11, 23, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("failures")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("KPI_DATA_DIR", str(root / "data"))
    receiver = AlertReceiver()
    org = generate_org("small", seed=11, anchor=ANCHOR)
    repositories = [repo.full_name for repo in org.repositories
                    if any(pr.merged for pr in org.pull_requests[repo.full_name])][:2]
    outcome: dict = {"org": org, "repository": repositories[0]}
    try:
        with SimulatorServer(org, rate_limit=1_000_000) as simulator:
            config_path = root / "pipeline.yaml"
            config_path.write_text(textwrap.dedent(f"""
                sources:
                  github:
                    base_url: {simulator.github_url}
                    repositories: [{", ".join(repositories)}]
                    detail_backfill_days: null
                    max_rate_limit_wait_seconds: 5
                deployments:
                  production_environments: [production]
                teams:
                  - name: everyone
                    repositories: ["acme/*"]
                """))
            config = load_config(config_path)
            env = {**airflow_env(config, config_path),
                   "AIRFLOW_CONN_GITHUB_DEFAULT": json.dumps(
                       {"conn_type": "http", "host": simulator.github_url, "password": simulator.token}),
                   "AIRFLOW_CONN_KPI_ALERTS": json.dumps(
                       {"conn_type": "http", "host": receiver.url})}
            logs = config.data_dir / "logs"
            run_dag_with_airflow(env, date(2026, 11, 21), logs / "night-1.log")
            outcome["after_clean"] = published_state(config.published_warehouse)
            outcome["alerts_after_clean"] = list(receiver.alerts)

            pull = max((pr for pr in org.pull_requests[repositories[0]] if pr.merged), key=lambda pr: pr.updated_at)
            good_merged_at = pull.merged_at
            pull.merged_at, pull.updated_at = pull.created_at - timedelta(days=1), org.anchor - timedelta(minutes=5)
            org.revision += 1
            with pytest.raises(RuntimeError) as bad_night:
                run_dag_with_airflow(env, date(2026, 11, 22), logs / "night-2.log")
            outcome["bad_night_error"] = str(bad_night.value)
            outcome["after_bad"] = published_state(config.published_warehouse)
            outcome["alerts_after_bad"] = list(receiver.alerts)
            with duckdb.connect(str(config.working_warehouse), read_only=True) as connection:
                outcome["quarantined"] = connection.execute(
                    "select distinct stream, scope from quarantine.batches").fetchall()
                outcome["quarantined_batches"] = connection.execute("select count(*) from quarantine.batches").fetchone()

            simulator.faults.add("/github/*", "status", status=502)
            with pytest.raises(RuntimeError):
                run_dag_with_airflow(env, date(2026, 11, 23), logs / "night-3.log")
            outcome["after_outage"] = published_state(config.published_warehouse)
            outcome["alerts_after_outage"] = list(receiver.alerts)

            # Night 4: the source is healthy and the pull request mended, but the marts are
            # built by a dbt project with a bug.
            simulator.faults.clear()
            pull.merged_at, pull.updated_at = good_merged_at, org.anchor - timedelta(minutes=4)
            org.revision += 1
            broken = root / "dbt_project_with_a_bug"
            shutil.copytree(DBT_PROJECT_DIR, broken, ignore=shutil.ignore_patterns("target", "logs"))
            model = broken / "models" / "marts" / "delivery" / "fct_deployments.sql"
            correct = "deployments.latest_status_at                                as finished_at"
            assert correct in model.read_text()
            model.write_text(model.read_text().replace(
                correct, "deployments.created_at - interval '1 hour'                 as finished_at"))
            with pytest.raises(RuntimeError):
                run_dag_with_airflow({**env, DBT_PROJECT_ENV: str(broken)}, date(2026, 11, 24), logs / "night-4.log")
            outcome["after_broken_mart"] = published_state(config.published_warehouse)
            outcome["alerts_after_broken_mart"] = list(receiver.alerts)
            with duckdb.connect(str(config.working_warehouse), read_only=True) as connection:
                outcome["broken_deployments"] = connection.execute(
                    "select count(*) filter (where finished_at < created_at), count(*) from marts.fct_deployments"
                ).fetchone()
                outcome["quarantined_batches_after_broken_mart"] = connection.execute(
                    "select count(*) from quarantine.batches").fetchone()
    finally:
        receiver.shutdown()
        monkeypatch.undo()
    yield outcome


def test_the_clean_night_publishes_and_sends_no_alert(nights):
    assert nights["after_clean"][2]  # night 1 published (its run id is in meta.publication)
    assert nights["alerts_after_clean"] == []


def test_a_bad_batch_leaves_the_published_warehouse_untouched_and_alerts_naming_it(nights):
    assert nights["after_bad"] == nights["after_clean"]
    assert ("github__pull_requests", nights["repository"]) in nights["quarantined"]
    new_alerts = nights["alerts_after_bad"][len(nights["alerts_after_clean"]):]
    assert len(new_alerts) == 1, new_alerts  # one alert: the check that fails the run
    [alert] = new_alerts
    assert "task check_scopes failed" in alert
    assert f"github__pull_requests {nights['repository']}" in alert and "merged_at" in alert


def test_an_api_outage_leaves_the_published_warehouse_untouched_and_alerts_naming_the_connection(nights):
    assert nights["after_outage"] == nights["after_clean"]
    new_alerts = nights["alerts_after_outage"][len(nights["alerts_after_bad"]):]
    assert new_alerts and all("task check_scopes failed" in alert for alert in new_alerts)
    assert "connection 'github_default'" in new_alerts[-1] and nights["repository"] in new_alerts[-1]


def test_a_failing_mart_leaves_the_published_warehouse_untouched_and_alerts_naming_it(nights):
    failing, deployments = nights["broken_deployments"]
    assert deployments and failing == deployments  # the buggy marts were built, every row wrong ...
    # ... from good data: night 4 quarantined nothing
    assert nights["quarantined_batches_after_broken_mart"] == nights["quarantined_batches"]
    assert nights["after_broken_mart"] == nights["after_clean"]  # and never published
    new_alerts = nights["alerts_after_broken_mart"][len(nights["alerts_after_outage"]):]
    assert len(new_alerts) == 1, new_alerts  # the audit fails; publish and check_scopes never run
    [alert] = new_alerts
    assert "task audit_marts failed" in alert
    assert "mart__fct_deployments" in alert and "finished_at" in alert and "created_at" in alert
