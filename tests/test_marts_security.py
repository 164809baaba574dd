"""The security marts against the simulator's ground truth (simulator/truth_security.py).

The whole pipeline runs in-process on the `small` org (code-scanning and Dependabot alerts
read over HTTP, loaded, dbt build, publish); fct_security_alerts is compared alert by alert
with the generator's model and kpi_security row for row with the truth. The truth's weeks
end at the simulator's anchor (its "now"); the warehouse's end at its as-of moment, pinned
to the anchor here with KPI_AS_OF (in production: the build time).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from simulator.truth_common import week_start
from simulator.truth_security import security_alerts
from tests.support.small_warehouse import close, naive, query

ANCHOR = datetime(2026, 11, 23, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def warehouse(small_warehouse):
    return small_warehouse


def rows(config, sql: str) -> list[dict]:
    return query(config.published_warehouse, sql)








def test_every_alert_is_one_fact_row_with_its_severity_and_dates(warehouse):
    org, config = warehouse["org"], warehouse["config"]
    alerts = {(a.kind, a.repo, a.number): a for repo in org.repositories for a in org.security_alerts.get(repo.full_name, [])}
    loaded = {(r["kind"], r["repository"], r["alert_number"]): r for r in rows(config, "select * from marts.fct_security_alerts")}
    assert loaded.keys() == alerts.keys()
    assert {kind for kind, _, _ in alerts} == {"code_scanning", "dependabot"}
    for key, alert in alerts.items():
        got = loaded[key]
        assert (got["team"], got["severity"], got["state"]) == (org.team_of(alert.repo), alert.severity, alert.state), key
        assert (got["created_at"], got["fixed_at"], got["dismissed_at"]) == \
            (naive(alert.created_at), naive(alert.fixed_at), naive(alert.dismissed_at)), key
        expected_days = None if alert.fixed_at is None else (alert.fixed_at - alert.created_at).total_seconds() / 86400
        assert close(got["days_to_fix"], expected_days), key


def test_security_kpi_equals_the_truth(warehouse):
    org, config = warehouse["org"], warehouse["config"]
    truth = security_alerts(org)
    loaded = rows(config, "select * from marts.kpi_security order by team, repository, week_start, severity")
    key = ("team", "week_start", "severity", "open_alerts", "opened_alerts", "fixed_alerts", "dismissed_alerts")
    assert [(r["repository"], *(r[c] for c in key)) for r in loaded] == [(r["repo"], *(r[c] for c in key)) for r in truth]
    assert all(close(got["median_days_to_fix"], expected["median_days_to_fix"]) for got, expected in zip(loaded, truth))
    # Not vacuous: fixes, dismissals, alerts still open in the anchor's week, both vocabularies.
    assert sum(r["fixed_alerts"] for r in truth) and sum(r["dismissed_alerts"] for r in truth)
    assert any(r["week_start"] == week_start(ANCHOR) and r["open_alerts"] for r in truth)
    assert {r["severity"] for r in truth} & {"note", "warning", "error"}
    assert {r["severity"] for r in truth} & {"low", "medium", "high", "critical"}


def test_weeks_run_to_the_as_of_week_and_no_further(warehouse):
    config = warehouse["config"]
    last = rows(config, "select max(week_start) as last from marts.kpi_security")[0]["last"]
    assert last == week_start(ANCHOR)
