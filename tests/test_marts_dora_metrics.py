"""dora_metrics against the ground truth, and the DORA 2023 levels by hand.

The shared pipeline run of the `small` org is compared with simulator/truth_scores.py
(the four keys from the kpi_period truth, levels from the catalogue's dora_levels); the
levels themselves are pinned at their boundaries with hand-computed values, and the
catalogue refuses thresholds that cannot make a scale.
"""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from kpi.catalogue import CATALOGUE_PATH, KpiCatalogue, load_catalogue
from simulator.truth_period import kpi_period
from simulator.truth_scores import DORA_KEYS, dora_metrics
from tests.support.small_warehouse import close, query
from tests.test_marts_quality import downloadable_artifact_facts

LEVEL_COLUMNS = ("deployment_frequency_level", "lead_time_level", "change_failure_rate_level", "recovery_time_level")
EXACT = ("team", "period_grain", "period_start", "period_end", "days_in_period", "is_complete",
         "successful_deployments", "deployed_pull_requests", "failed_changes", "recovered_failures", *LEVEL_COLUMNS)
FLOATS = ("deployments_per_day", "median_lead_time_hours", "change_failure_rate", "median_recovery_hours")


@pytest.fixture(scope="module")
def truth(small_warehouse):
    return dora_metrics(kpi_period(small_warehouse["simulation"], artifact_facts=downloadable_artifact_facts))


def test_dora_metrics_equal_the_truth_for_every_team_and_period(small_warehouse, truth):
    loaded = query(small_warehouse["config"].published_warehouse,
                   "select * from marts.dora_metrics order by team, period_grain, period_start")
    assert [tuple(r[c] for c in EXACT) for r in loaded] == [tuple(r[c] for c in EXACT) for r in truth]
    for got, expected in zip(loaded, truth):
        for column in FLOATS:
            assert close(got[column], expected[column]), (got["team"], got["period_start"], column)
    # Not vacuous: three grains, several levels per key, and periods without data have no level.
    assert {r["period_grain"] for r in truth} == {"week", "month", "quarter"}
    assert len({r["deployment_frequency_level"] for r in truth} - {None}) >= 2
    assert len({r["change_failure_rate_level"] for r in truth} - {None}) == 4
    assert len({r["recovery_time_level"] for r in truth} - {None}) >= 2
    assert all(r[level] is None for r in truth if r["successful_deployments"] is None for level in LEVEL_COLUMNS[:1])


def test_a_quarters_level_judges_the_quarters_own_rate(small_warehouse):
    """A quarter's change failure rate is failed changes / successful deployments over the
    quarter's deployments (fct_deployments), not a mean of weekly rates, and its level is
    that rate's."""
    config = small_warehouse["config"].published_warehouse
    totals = {(r["team"], r["quarter"]): r for r in query(config, """
        select team, cast(date_trunc('quarter', created_at) as date) as quarter, count(*) as deployments,
               count(*) filter (where is_failed_change) as failed
        from marts.fct_deployments where is_successful group by 1, 2""")}
    weekly = {}
    for r in query(config, "select team, week_start, change_failure_rate from marts.kpi_change_failure_rate "
                           "where change_failure_rate is not null"):
        weekly.setdefault((r["team"], r["week_start"].replace(day=1, month=(r["week_start"].month - 1) // 3 * 3 + 1)),
                          []).append(r["change_failure_rate"])
    loaded = query(config, "select * from marts.dora_metrics where period_grain = 'quarter'")
    assert {(r["team"], r["period_start"]) for r in loaded} == totals.keys()
    key = load_catalogue().dora_levels.key("change_failure_rate")
    differs = 0
    for row in loaded:
        total = totals[(row["team"], row["period_start"])]
        assert (row["successful_deployments"], row["failed_changes"]) == (total["deployments"], total["failed"])
        assert close(row["change_failure_rate"], total["failed"] / total["deployments"])
        assert row["change_failure_rate_level"] == key.level_of(total["failed"] / total["deployments"], 92)
        mean_of_weeks = sum(weekly[(row["team"], row["period_start"])]) / len(weekly[(row["team"], row["period_start"])])
        differs += not close(row["change_failure_rate"], mean_of_weeks)
    assert differs > 0


# -- the levels by hand --------------------------------------------------------------


def level(kpi_id: str, value: float | None, days: int = 7) -> str | None:
    return load_catalogue().dora_levels.key(kpi_id).level_of(value, days)


@pytest.mark.parametrize("deployments, days, expected", [
    (8, 7, "elite"),      # more than one a day
    (7, 7, "high"),       # exactly one a day is not "multiple per day"
    (1, 7, "high"),       # once a week
    (0, 7, "low"),
    (4, 31, "medium"),    # 4 in a 31-day month: 4/31 a day is less than once a week (1/7)
    (1, 31, "medium"),    # once in a calendar month
    (1, 28, "medium"),
    (3, 92, "medium"),    # a quarter with a deployment a month
    (2, 92, "low"),
    (13, 91, "high"),     # once a week over a 13-week quarter
    (None, 7, None),
])
def test_deployment_frequency_level_is_deployments_per_day_of_the_period(deployments, days, expected):
    assert level("deployment_frequency", deployments, days) == expected


@pytest.mark.parametrize("kpi_id, value, expected", [
    ("lead_time_for_changes", 23.9, "elite"), ("lead_time_for_changes", 24, "high"),
    ("lead_time_for_changes", 168, "high"), ("lead_time_for_changes", 168.5, "medium"),
    ("lead_time_for_changes", 720, "medium"), ("lead_time_for_changes", 720.5, "low"),
    ("change_failure_rate", 0.0, "elite"), ("change_failure_rate", 0.05, "elite"), ("change_failure_rate", 1 / 19, "high"),
    ("change_failure_rate", 0.1, "high"), ("change_failure_rate", 0.15, "medium"), ("change_failure_rate", 3 / 19, "low"),
    ("change_failure_rate", 0.64, "low"), ("change_failure_rate", None, None),
    ("failed_deployment_recovery_time", 0.5, "elite"), ("failed_deployment_recovery_time", 1, "high"),
    ("failed_deployment_recovery_time", 23.99, "high"), ("failed_deployment_recovery_time", 24, "medium"),
    ("failed_deployment_recovery_time", 168, "medium"), ("failed_deployment_recovery_time", 169, "low"),
    ("failed_deployment_recovery_time", 24 * 45, "low"),
])
def test_duration_and_rate_levels_at_their_boundaries(kpi_id, value, expected):
    assert level(kpi_id, value) == expected


def test_the_thresholds_are_the_2023_reports_in_one_place():
    levels = load_catalogue().dora_levels
    assert [key.kpi_id for key in levels.keys] == list(DORA_KEYS)
    bounds = {key.kpi_id: [(lv.level, None if lv.level == "low" else (lv.operator, lv.threshold)) for lv in key.levels]
              for key in levels.keys}
    assert bounds == {
        "deployment_frequency": [("elite", ("above", 1.0)), ("high", ("at_least", 1 / 7)),
                                 ("medium", ("at_least", 1 / 31)), ("low", None)],
        "lead_time_for_changes": [("elite", ("below", 24.0)), ("high", ("at_most", 168.0)),
                                  ("medium", ("at_most", 720.0)), ("low", None)],
        "change_failure_rate": [("elite", ("at_most", 0.05)), ("high", ("at_most", 0.10)),
                                ("medium", ("at_most", 0.15)), ("low", None)],
        "failed_deployment_recovery_time": [("elite", ("below", 1.0)), ("high", ("below", 24.0)),
                                            ("medium", ("at_most", 168.0)), ("low", None)],
    }
    assert levels.key("deployment_frequency").measure == "per_day"


def _catalogue_with(change) -> dict:
    raw = yaml.safe_load(CATALOGUE_PATH.read_text())
    change(raw["dora_levels"]["keys"])
    return raw


@pytest.mark.parametrize("change, message", [
    (lambda keys: keys[1]["levels"].reverse(), "levels must be elite, high, medium, low"),
    (lambda keys: keys[1]["levels"][1].update({"at_most": 12}), "thresholds must rise"),
    (lambda keys: keys[0]["levels"][1].update({"at_least": None, "at_most": 1}), "mix 'higher'"),
    (lambda keys: keys[0]["levels"][3].update({"below": 1}), "low is every value"),
    (lambda keys: keys[2].update(levels=[{"level": "elite", "at_least": 0.15}, {"level": "high", "at_least": 0.10},
                                         {"level": "medium", "at_least": 0.05}, {"level": "low"}]),
     "elite must be the better end"),
    (lambda keys: keys.pop(), "must name each DORA KPI once"),
    (lambda keys: keys[0]["levels"][1].update({"at_least": "1/0"}), "fraction like 1/7"),
])
def test_the_catalogue_refuses_dora_levels_that_make_no_scale(change, message):
    with pytest.raises(ValidationError, match=message):
        KpiCatalogue.model_validate(_catalogue_with(change))
