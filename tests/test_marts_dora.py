"""The DORA marts against the simulator's ground truth (simulator/truth_dora.py).

The whole pipeline (extract over HTTP, load, dbt build, publish) runs in-process on the
`small` org with every detail stream read for all history, then each mart is compared
row for row with the truth computed in plain Python from the generator's model.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from simulator.truth_dora import change_failure_rate, incident_attributions, lead_time_for_changes, \
    lead_time_pull_requests, recovery_events, recovery_time
from tests.support.small_warehouse import close, naive, query

ANCHOR = datetime(2026, 11, 23, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def warehouse(small_warehouse):
    return small_warehouse


def rows(config, sql: str) -> list[dict]:
    return query(config.published_warehouse, sql)








def test_every_merged_pull_request_is_attributed_to_the_deployment_the_truth_names(warehouse):
    org, config = warehouse["org"], warehouse["config"]
    truth = {(row["repo"], row["number"]): row for row in lead_time_pull_requests(org)}
    loaded = {(row["repository"], row["pull_request_number"]): row for row in rows(
        config, "select * from marts.fct_pull_requests where delivery_status <> 'predates_tracking'")}
    assert loaded.keys() == truth.keys()
    assert len(truth) > 500
    for key, expected in truth.items():
        got = loaded[key]
        assert got["deployment_id"] == expected["deployment_id"], key
        assert got["first_commit_at"] == naive(expected["first_commit_at"]), key
        assert close(got["lead_time_hours"], expected["lead_time_hours"]), key


def test_lead_time_for_changes_equals_the_truth(warehouse):
    org, config = warehouse["org"], warehouse["config"]
    truth = lead_time_for_changes(org)
    loaded = rows(config, "select * from marts.kpi_lead_time_for_changes order by team, week_start")
    assert [(r["team"], r["week_start"]) for r in loaded] == [(r["team"], r["week_start"]) for r in truth]
    for got, expected in zip(loaded, truth):
        assert got["deployed_pull_requests"] == expected["deployed_pull_requests"]
        assert got["not_deployed_pull_requests"] == expected["not_deployed_pull_requests"]
        assert close(got["median_lead_time_hours"], expected["median_lead_time_hours"]), got


def test_incidents_are_attributed_to_the_deployment_before_them_never_after(warehouse):
    org, config = warehouse["org"], warehouse["config"]
    truth = {(r["repo"], r["number"]): r for r in incident_attributions(org)}
    loaded = {(r["repository"], r["issue_number"]): r for r in rows(config, "select * from marts.fct_incidents")}
    assert loaded.keys() == truth.keys() and truth
    assert any(r["deployment_id"] for r in truth.values()) and any(not r["deployment_id"] for r in truth.values())
    for key, expected in truth.items():
        assert loaded[key]["caused_by_deployment_id"] == expected["deployment_id"], key
        assert close(loaded[key]["hours_after_deployment"], expected["hours_after_deployment"]), key


def test_change_failure_rate_equals_the_truth(warehouse):
    org, config = warehouse["org"], warehouse["config"]
    truth = change_failure_rate(org)
    loaded = rows(config, "select * from marts.kpi_change_failure_rate order by team, week_start")
    assert len(loaded) == len(truth)
    columns = ("team", "week_start", "successful_deployments", "deployments_with_incident",
               "rolled_back_deployments", "failed_changes", "attributed_incidents")
    assert [tuple(r[c] for c in columns) for r in loaded] == [tuple(r[c] for c in columns) for r in truth]
    assert all(close(g["change_failure_rate"], e["change_failure_rate"]) for g, e in zip(loaded, truth))
    assert sum(r["rolled_back_deployments"] for r in truth) > 0


def test_recovery_events_and_recovery_time_equal_the_truth(warehouse):
    """Failed deployments, GitHub incidents and Jira incidents (type Incident, deleted ones
    excluded, team of the current project, created to resolution date), event by event,
    then the weekly median per team."""
    simulation, config = warehouse["simulation"], warehouse["config"]
    truth = recovery_events(simulation)
    assert {r["kind"] for r in truth} == {"failed_deployment", "github_incident", "jira_incident"}
    loaded = {(r["kind"], r["reference"]): r for r in rows(config, "select * from marts.fct_recovery_events")}
    assert loaded.keys() == {(r["kind"], r["reference"]) for r in truth}
    for expected in truth:
        got = loaded[(expected["kind"], expected["reference"])]
        key = (expected["kind"], expected["reference"])
        assert (got["team"], got["repository"], got["started_at"], got["recovered_at"], got["week_start"]) == \
            (expected["team"], expected["repo"], naive(expected["started_at"]), naive(expected["recovered_at"]),
             expected["week_start"]), key
        assert close(got["recovery_hours"], expected["recovery_hours"]), key
    weekly = recovery_time(simulation)
    kpi = rows(config, "select * from marts.kpi_recovery_time order by team, week_start")
    columns = ("team", "week_start", "failures", "failed_deployments", "github_incidents", "jira_incidents",
               "recovered", "unrecovered")
    assert [tuple(r[c] for c in columns) for r in kpi] == [tuple(r[c] for c in columns) for r in weekly]
    assert all(close(g["median_recovery_hours"], e["median_recovery_hours"]) for g, e in zip(kpi, weekly))
    assert sum(r["jira_incidents"] for r in kpi) > 0 and sum(r["unrecovered"] for r in kpi) > 0
