"""kpi_period, kpi_daily, dim_kpis and kpi_release_on_time against the simulator's ground truth.

The shared pipeline run of the `small` org (tests/support/small_warehouse.py) is compared
value for value with simulator/truth_period.py, which computes every KPI of the catalogue
per day, week, month and quarter, per team and per repository, in plain Python from the
same facts as the weekly truths. Further tests pin what a period value is: computed from
the period's own facts (not from weekly values), null where there is no data, 0 only
where the catalogue zero-fills.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime, timezone

import pytest
from pydantic import ValidationError

from kpi.catalogue import PeriodAggregation, load_catalogue
from simulator.truth_delivery import release_on_time
from simulator.truth_period import PERIOD_AGGREGATION, ZERO_FILL, NO_REPOSITORY_ROWS, Fact, _reduce, \
    kpi_daily, kpi_period, period_end, period_start
from tests.support.small_warehouse import close, query
from tests.test_marts_quality import downloadable_artifact_facts

ANCHOR = datetime(2026, 11, 23, tzinfo=timezone.utc)
VALUES = ("value", "numerator", "denominator")


@pytest.fixture(scope="module")
def warehouse(small_warehouse):
    return small_warehouse


@pytest.fixture(scope="module")
def period_truth(warehouse):
    return kpi_period(warehouse["simulation"], artifact_facts=downloadable_artifact_facts)


@pytest.fixture(scope="module")
def period_mart(warehouse):
    return published(warehouse, "select * from marts.kpi_period "
                                "order by period_grain, period_start, team, coalesce(repository, ''), kpi_id")


def published(warehouse, sql: str) -> list[dict]:
    return query(warehouse["config"].published_warehouse, sql)


def assert_long_form_equal(loaded: list[dict], truth: list[dict], keys: tuple[str, ...]) -> None:
    assert [tuple(r[k] for k in keys) for r in loaded] == [tuple(r[k] for k in keys) for r in truth]
    for got, expected in zip(loaded, truth):
        key = tuple(got[k] for k in keys)
        assert (got["observations"], got["is_complete"]) == (expected["observations"], expected["is_complete"]), key
        for column in VALUES:
            assert close(got[column], expected[column]), (key, column, got[column], expected[column])


# -- equal to the truth --------------------------------------------------------------


def test_kpi_period_equals_the_truth_for_every_kpi_period_team_and_repository(period_mart, period_truth):
    assert_long_form_equal(period_mart, period_truth,
                           ("period_grain", "period_start", "period_end", "team", "repository", "kpi_id"))
    # Not vacuous: every KPI has values at every grain, for teams and (where it has them) repositories.
    with_value = {(r["kpi_id"], r["period_grain"], r["repository"] is None) for r in period_truth
                  if r["value"] is not None}
    for kpi_id in PERIOD_AGGREGATION:
        for grain in ("week", "month", "quarter"):
            assert (kpi_id, grain, True) in with_value, (kpi_id, grain)
            assert ((kpi_id, grain, False) in with_value) == (kpi_id not in NO_REPOSITORY_ROWS), (kpi_id, grain)
    assert {r["period_grain"] for r in period_truth} == {"week", "month", "quarter"}


def test_kpi_daily_equals_the_truth(warehouse):
    truth = kpi_daily(warehouse["simulation"], artifact_facts=downloadable_artifact_facts)
    loaded = published(warehouse, "select * from marts.kpi_daily order by date_day, team, coalesce(repository, ''), kpi_id")
    assert_long_form_equal(loaded, truth, ("date_day", "team", "repository", "kpi_id"))
    assert sum(r["value"] is not None for r in truth) > 5000


def test_releases_on_time_equal_the_truth(warehouse):
    truth = release_on_time(warehouse["simulation"], as_of=ANCHOR)
    loaded = published(warehouse, "select * from marts.kpi_release_on_time order by team, week_start")
    assert [(r["team"], r["week_start"], r["releases_due"], r["on_time_releases"]) for r in loaded] == \
        [(r["team"], r["week_start"], r["releases_due"], r["on_time_releases"]) for r in truth]
    assert all(close(g["on_time_share"], e["on_time_share"]) for g, e in zip(loaded, truth))
    assert {r["on_time_share"] for r in truth} > {0.0, 1.0}, "on time, late and mixed weeks"


def test_dim_kpis_is_the_catalogue(warehouse):
    catalogue = load_catalogue()
    loaded = {r["kpi_id"]: r for r in published(warehouse, "select * from marts.dim_kpis")}
    assert loaded.keys() == {kpi.id for kpi in catalogue.implemented}
    for kpi in catalogue.implemented:
        row = loaded[kpi.id]
        assert (row["mart"], row["value_column"], row["direction"], row["period_facts"], row["period_value"],
                row["zero_filled"], row["repository_rows"]) == \
            (kpi.mart, kpi.value_column, kpi.direction, kpi.period_aggregation.facts, kpi.period_aggregation.value,
             kpi.period_aggregation.zero_filled, kpi.period_aggregation.repository_rows), kpi.id


# -- what a period value is ----------------------------------------------------------


WEEKLY_TEAM_VALUES = {  # kpi_id -> SQL giving (team, week_start, value) from the weekly mart
    "deployment_frequency": "select team, week_start, successful_deployments as value from marts.kpi_deployment_frequency",
    "lead_time_for_changes": "select team, week_start, median_lead_time_hours as value from marts.kpi_lead_time_for_changes",
    "change_failure_rate": "select team, week_start, change_failure_rate as value from marts.kpi_change_failure_rate",
    "failed_deployment_recovery_time": "select team, week_start, median_recovery_hours as value from marts.kpi_recovery_time",
    "release_delay": "select team, week_start, mean_delay_days as value from marts.kpi_release_delay",
    "release_on_time": "select team, week_start, on_time_share as value from marts.kpi_release_on_time",
    "production_bugs": "select team, week_start, sum(bugs_opened) as value from marts.kpi_production_bugs group by 1, 2",
    "test_coverage": "select distinct team, week_start, team_line_coverage_percent as value from marts.kpi_test_coverage",
    "api_documentation_coverage": "select team, week_start, 100.0 * (sum(documented_operations) / sum(operations)) "
                                  "as value from marts.kpi_api_documentation group by 1, 2",
    "code_standard_findings": "select distinct team, week_start, team_findings as value from marts.kpi_code_standards",
    "performance_p95_latency": "select distinct team, week_start, team_max_p95_latency_ms as value from marts.kpi_performance",
    "security_alerts": "select team, week_start, sum(open_alerts) as value from marts.kpi_security group by 1, 2",
}


def test_a_week_of_kpi_period_is_the_weekly_marts_team_value(warehouse, period_mart):
    """Where a weekly mart has a team row, kpi_period's week says the same; where it has
    none, kpi_period says no data -- or 0 for a KPI the catalogue zero-fills."""
    assert WEEKLY_TEAM_VALUES.keys() == {kpi.id for kpi in load_catalogue().implemented}
    weeks = defaultdict(dict)
    for row in period_mart:
        if row["period_grain"] == "week" and row["repository"] is None:
            weeks[row["kpi_id"]][(row["team"], row["period_start"])] = row["value"]
    for kpi_id, sql in WEEKLY_TEAM_VALUES.items():
        weekly = {(r["team"], r["week_start"]): r["value"] for r in published(warehouse, sql)}
        assert weekly, kpi_id
        for key, value in weeks[kpi_id].items():
            if key in weekly:
                assert close(value, None if weekly[key] is None else float(weekly[key])), (kpi_id, key)
            else:
                assert value in ((None, 0.0) if kpi_id in ZERO_FILL else (None,)), (kpi_id, key, value)


def test_a_quarter_median_is_the_median_of_its_pull_requests_not_of_weekly_medians(warehouse, period_mart):
    lead_times = defaultdict(list)
    for row in published(warehouse, "select team, deployment_created_at, lead_time_hours from marts.fct_pull_requests "
                                    "where delivery_status = 'deployed'"):
        lead_times[(row["team"], period_start(row["deployment_created_at"], "quarter"))].append(row["lead_time_hours"])
    weekly = defaultdict(list)
    for row in published(warehouse, "select team, week_start, median_lead_time_hours from marts.kpi_lead_time_for_changes "
                                    "where median_lead_time_hours is not null"):
        weekly[(row["team"], period_start(row["week_start"], "quarter"))].append(row["median_lead_time_hours"])
    quarters = {(r["team"], r["period_start"]): r for r in period_mart
                if r["period_grain"] == "quarter" and r["repository"] is None and r["kpi_id"] == "lead_time_for_changes"}
    assert quarters.keys() == lead_times.keys() and len({quarter for _, quarter in quarters}) >= 2
    for key, row in quarters.items():
        assert close(row["value"], statistics.median(lead_times[key])), key
        assert row["observations"] == len(lead_times[key])
        assert not close(row["value"], statistics.mean(weekly[key])), key  # the wrong roll-up differs


def test_a_month_of_coverage_takes_each_repositorys_latest_run_started_in_the_month(warehouse, period_mart):
    """The week of a month's last Monday runs into the next month; its weekly value may be a
    run of the next month, the month's value never is."""
    months = {(r["repository"], r["period_start"]): r for r in period_mart
              if r["period_grain"] == "month" and r["kpi_id"] == "test_coverage" and r["repository"] is not None}
    weekly = published(warehouse, "select repository, week_start, run_started_at, lines_covered, lines_valid "
                                  "from marts.fct_test_coverage")
    straddling = differing = 0
    for row in weekly:
        month = period_start(row["week_start"], "month")
        if period_start(row["run_started_at"], "month") != month:  # the week's latest run is next month's
            straddling += 1
            got = months[(row["repository"], month)]
            assert got["observations"] == 1 and got["value"] is not None
            differing += not close(got["value"], 100.0 * (row["lines_covered"] / row["lines_valid"]))
    assert straddling > 5 and differing > 0


def test_no_data_is_null_and_only_zero_filled_kpis_read_zero_without_facts(warehouse, period_mart):
    without_facts = [r for r in period_mart if r["observations"] == 0]
    assert without_facts
    for row in without_facts:
        key = (row["kpi_id"], row["period_grain"], row["period_start"], row["team"], row["repository"])
        if row["kpi_id"] not in ZERO_FILL:
            assert (row["value"], row["numerator"], row["denominator"]) == (None, None, None), key
        else:
            assert row["value"] in (None, 0.0), key
    zeros = {r["kpi_id"] for r in without_facts if r["value"] == 0.0}
    assert {"production_bugs", "security_alerts"} <= zeros <= ZERO_FILL
    # Before the organisation's first deployment the zero-filled deployment frequency is no data too.
    first_week = min(r["period_start"] for r in period_mart if r["period_grain"] == "week")
    first_week_rows = [r for r in period_mart if r["period_grain"] == "week" and r["period_start"] == first_week
                       and r["kpi_id"] == "deployment_frequency"]
    assert first_week_rows and all(r["value"] is None for r in first_week_rows)
    assert {r["team"] for r in first_week_rows if r["repository"] is None} == {t.name for t in warehouse["org"].teams}


def test_the_current_period_is_marked_incomplete(period_mart):
    current = {(r["period_grain"], r["period_start"]) for r in period_mart if not r["is_complete"]}
    assert current == {("week", date(2026, 11, 23)), ("month", date(2026, 11, 1)), ("quarter", date(2026, 10, 1))}


# -- the catalogue's period_aggregation and the truth's arithmetic -------------------


def test_the_truth_aggregates_every_kpi_as_the_catalogue_says():
    catalogue = load_catalogue()
    assert {kpi.id: (kpi.period_aggregation.facts, kpi.period_aggregation.value) for kpi in catalogue.kpis} == \
        PERIOD_AGGREGATION
    assert {kpi.id for kpi in catalogue.kpis if kpi.period_aggregation.zero_filled} == ZERO_FILL
    assert {kpi.id for kpi in catalogue.kpis if not kpi.period_aggregation.repository_rows} == NO_REPOSITORY_ROWS


@pytest.mark.parametrize("aggregation, message", [
    ({"facts": "in_period", "value": "median", "zero_filled": True}, "cannot be zero-filled"),
    ({"facts": "in_period", "value": "percent", "zero_filled": True}, "cannot be zero-filled"),
    ({"facts": "latest_per_repository", "value": "median"}, "latest_per_repository combines"),
    ({"facts": "latest_per_repository", "value": "percent", "repository_rows": False}, "repository_rows must be true"),
    ({"facts": "open_at_period_end", "value": "sum"}, "value must be count"),
    ({"facts": "in_period", "value": "average"}, "Input should be"),
])
def test_the_catalogue_refuses_a_period_aggregation_that_cannot_be_right(aggregation, message):
    fields = {"zero_filled": False, "repository_rows": True, "rule": "x" * 40, **aggregation}
    with pytest.raises(ValidationError, match=message):
        PeriodAggregation.model_validate(fields)


def test_a_kpi_read_per_repository_needs_repository_in_its_grain():
    kpi = load_catalogue().get("test_coverage").model_dump()
    kpi["grain"] = ["team", "week"]
    with pytest.raises(ValidationError, match="needs 'repository' in the grain"):
        type(load_catalogue().get("test_coverage")).model_validate(kpi)


@pytest.mark.parametrize("moment, grain, start, end", [
    (datetime(2026, 9, 30, 23, 59, tzinfo=timezone.utc), "day", date(2026, 9, 30), date(2026, 10, 1)),
    (datetime(2026, 10, 1, 1, 0, tzinfo=timezone.utc), "week", date(2026, 9, 28), date(2026, 10, 5)),
    (datetime(2026, 10, 1, 1, 0, tzinfo=timezone.utc), "month", date(2026, 10, 1), date(2026, 11, 1)),
    (datetime(2026, 9, 30, 23, 59, tzinfo=timezone.utc), "quarter", date(2026, 7, 1), date(2026, 10, 1)),
    (date(2026, 12, 31), "quarter", date(2026, 10, 1), date(2027, 1, 1)),
    (date(2026, 12, 31), "month", date(2026, 12, 1), date(2027, 1, 1)),
])
def test_periods_are_utc_days_iso_weeks_calendar_months_and_quarters(moment, grain, start, end):
    assert (period_start(moment, grain), period_end(period_start(moment, grain), grain)) == (start, end)


def test_the_truths_period_arithmetic_by_hand():
    at = datetime(2026, 9, 1, tzinfo=timezone.utc)
    ratio = [Fact("k", "t", None, at, numerator=n, denominator=1) for n in (1, 0, 0, 1)]
    assert _reduce("ratio", ratio) == {"value": 0.5, "numerator": 2.0, "denominator": 4.0}
    coverage = [Fact("k", "t", "a", at, numerator=80, denominator=100), Fact("k", "t", "b", at, numerator=30, denominator=60)]
    assert _reduce("percent", coverage)["value"] == 68.75  # weighted by lines, not the mean of 80 % and 50 %
    medians = [Fact("k", "t", None, at, value=v) for v in (10, 30, 40, 100)]
    assert _reduce("median", medians)["value"] == 35.0
    assert _reduce("max", medians)["value"] == 100.0
    assert _reduce("count", medians) == {"value": 4.0, "numerator": 4.0, "denominator": None}
    assert _reduce("mean", [Fact("k", "t", None, at, numerator=d, denominator=1) for d in (-2, 0, 5)])["value"] == 1.0
