"""Forced failures through the real DAG (`airflow dags test`): the published warehouse is
left untouched and an alert names the cause.

GitHub only (two repositories of the small org), so the Jira, Jenkins and GitLab
extractions map over nothing: they are skipped and the night still runs to the end.
Night 1 is clean and publishes; before night 2 a pull request turns bad upstream (merged
before it was created): its repository is quarantined, nothing is published, the run
fails and the `kpi_alerts` webhook receives an alert naming the stream, the repository and
the failed expectation. Then an API outage (every GitHub request answers 502): the run
fails naming the connection, the published file is still night 1's.
"""

from __future__ import annotations

import json
import textwrap
from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest

from kpi.config import load_config
from kpi.demo import airflow_env, run_dag_with_airflow
from simulator.generator import generate_org
from simulator.server import SimulatorServer
from tests.support.alert_receiver import AlertReceiver
from tests.support.small_warehouse import published_state

pytestmark = pytest.mark.e2e
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

            simulator.faults.add("/github/*", "status", status=502)
            with pytest.raises(RuntimeError):
                run_dag_with_airflow(env, date(2026, 11, 23), logs / "night-3.log")
            outcome["after_outage"] = published_state(config.published_warehouse)
            outcome["alerts_after_outage"] = list(receiver.alerts)
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
