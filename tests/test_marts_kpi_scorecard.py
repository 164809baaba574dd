"""kpi_scorecard: each team's agreed KPI rules (config/scorecards.yaml) judged per period.

The mart of the shared `small` run is compared row for row with simulator/truth_scores.py
(rules judged in plain Python on the kpi_period truth); points are also worked out by
hand, and the scorecards file is refused, naming the file and key path, when a rule
cannot be right.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from kpi.config import PROJECT_ROOT, ConfigError, load_config
from kpi.scorecards import Scorecards, load_scorecards
from simulator.truth_period import kpi_period
from simulator.truth_scores import kpi_scorecard
from tests.support.small_warehouse import close, query
from tests.test_marts_quality import downloadable_artifact_facts

SCORECARDS = PROJECT_ROOT / "config" / "scorecards.yaml"
TEAMS = {"payments", "platform", "growth"}
EXACT = ("team", "period_grain", "period_start", "period_end", "is_complete", "kpi_id", "rule", "description",
         "status", "is_met", "points", "total_points", "rules_met", "rules_missed", "rules_without_data")


def test_kpi_scorecard_equals_the_truth_for_every_rule_and_period(small_warehouse):
    scorecards = load_scorecards(small_warehouse["config"].scorecards_path, TEAMS)
    truth = kpi_scorecard(kpi_period(small_warehouse["simulation"], artifact_facts=downloadable_artifact_facts),
                          scorecards)
    loaded = query(small_warehouse["config"].published_warehouse,
                   "select * from marts.kpi_scorecard order by team, period_grain, period_start, kpi_id")
    assert [tuple(r[c] for c in EXACT) for r in loaded] == [tuple(r[c] for c in EXACT) for r in truth]
    assert all(close(g["value"], e["value"]) for g, e in zip(loaded, truth))
    # Not vacuous: every status, points added and taken, a negative total, and every rule of every team.
    assert {r["status"] for r in truth} == {"met", "missed", "not_met", "no_data"}
    assert min(r["total_points"] for r in truth) < 0 < max(r["total_points"] for r in truth)
    assert {(r["team"], r["kpi_id"]) for r in loaded} == \
        {(card.team, rule.kpi_id) for card in scorecards.scorecards for rule in card.rules}


def test_a_kpi_without_data_scores_no_points_and_says_so(small_warehouse):
    loaded = query(small_warehouse["config"].published_warehouse, "select * from marts.kpi_scorecard")
    without = [r for r in loaded if r["value"] is None]
    assert without, "growth's weekly scorecard has weeks without a release due"
    assert all((r["status"], r["points"], r["is_met"]) == ("no_data", 0, None) for r in without)
    assert all(r["value"] is not None for r in loaded if r["status"] != "no_data")


def test_the_scorecard_rules_reach_the_warehouse_as_a_reference_table(small_warehouse):
    config = small_warehouse["config"]
    loaded = query(config.working_warehouse, "select * from raw.config__scorecard_rules order by team, period_grain, kpi_id")
    expected = sorted(load_scorecards(config.scorecards_path, TEAMS).rule_rows(),
                      key=lambda r: (r["team"], r["period_grain"], r["kpi_id"]))
    assert loaded == expected and len(loaded) == 27


def test_the_demo_teams_score_the_kpis_the_organisation_agreed():
    scorecards = load_scorecards(SCORECARDS, TEAMS)
    agreed = {"release_on_time", "production_bugs", "test_coverage", "api_documentation_coverage",
              "code_standard_findings", "performance_p95_latency", "security_alerts"}
    assert {card.team for card in scorecards.scorecards} == TEAMS
    for card in scorecards.scorecards:
        kpis = {rule.kpi_id for rule in card.rules}
        assert agreed <= kpis, card.team
        assert kpis & {"change_failure_rate", "failed_deployment_recovery_time"}, f"{card.team}: stability"
    assert load_config().scorecards_path == SCORECARDS


# -- points by hand ------------------------------------------------------------------


def period_row(kpi_id: str, start: date, value: float | None, team: str = "payments") -> dict:
    return {"period_grain": "month", "period_start": start, "period_end": start.replace(month=start.month + 1),
            "is_complete": True, "team": team, "repository": None, "kpi_id": kpi_id, "value": value}


def cards(text: str) -> Scorecards:
    return Scorecards.model_validate(yaml.safe_load(text))


RELEASE_ON_TIME = """
scorecards:
  - team: payments
    period_grain: month
    rules:
      - kpi_id: release_on_time
        met: {at_least: 0.9, points: 2}
        missed: {below: 0.7, points: -2}
      - kpi_id: production_bugs
        met: {at_most: 10, points: 1}
        missed: {above: 15, points: -1}
"""


@pytest.mark.parametrize("on_time, bugs, expected", [
    (0.95, 3, [("met", 2), ("met", 1), 3]),
    (0.9, 10, [("met", 2), ("met", 1), 3]),          # the targets' boundaries are met
    (0.8, 12, [("not_met", 0), ("not_met", 0), 0]),  # between target and floor
    (0.7, 15, [("not_met", 0), ("not_met", 0), 0]),  # "below 70 %" / "above 15": the floors themselves are not missed
    (0.69, 16, [("missed", -2), ("missed", -1), -3]),
    (None, 16, [("no_data", 0), ("missed", -1), -1]),
    (None, None, [("no_data", 0), ("no_data", 0), 0]),
])
def test_release_on_time_and_bug_rules_score_by_hand(on_time, bugs, expected):
    september = date(2026, 9, 1)
    rows = kpi_scorecard([period_row("release_on_time", september, on_time), period_row("production_bugs", september, bugs),
                          period_row("release_on_time", september, 0.0, team="growth")], cards(RELEASE_ON_TIME))
    by_kpi = {r["kpi_id"]: r for r in rows}
    assert [(by_kpi[k]["status"], by_kpi[k]["points"]) for k in ("release_on_time", "production_bugs")] == expected[:2]
    assert {r["total_points"] for r in rows} == {expected[2]}
    assert {r["team"] for r in rows} == {"payments"}  # growth has no scorecard: never scored


# -- the scorecards file is refused when a rule cannot be right ----------------------


def write(tmp_path: Path, rules: str, team: str = "payments", grain: str = "month") -> Path:
    path = tmp_path / "scorecards.yaml"
    path.write_text(f"scorecards:\n  - team: {team}\n    period_grain: {grain}\n    rules:\n{rules}")
    return path


@pytest.mark.parametrize("rules, key_path, message", [
    ("      - {kpi_id: release_on_tme, met: {at_least: 0.9, points: 2}}\n",
     "scorecards[0].rules[0].kpi_id", "unknown KPI id 'release_on_tme'"),
    ("      - {kpi_id: release_on_time, met: {below: 0.9, points: 2}}\n",
     "scorecards[0].rules[0]", "higher is better: met takes at_least or above"),
    ("      - {kpi_id: production_bugs, missed: {below: 3, points: -1}}\n",
     "scorecards[0].rules[0]", "lower is better: missed takes at_least or above"),
    ("      - {kpi_id: test_coverage, met: {at_least: 70, points: 1}, missed: {below: 80, points: -1}}\n",
     "scorecards[0].rules[0]", "overlap"),
    ("      - {kpi_id: test_coverage, met: {at_least: 80, points: 1}, missed: {at_most: 80, points: -1}}\n",
     "scorecards[0].rules[0]", "overlap"),
    ("      - {kpi_id: test_coverage, missed: {below: 70, points: 1}}\n",
     "scorecards[0].rules[0]", "missed.points takes points"),
    ("      - {kpi_id: test_coverage, met: {at_least: 80, above: 90, points: 1}}\n",
     "scorecards[0].rules[0].met", "exactly one of"),
    ("      - {kpi_id: test_coverage}\n", "scorecards[0].rules[0]", "give met"),
    ("      - {kpi_id: test_coverage, met: {at_least: 80, points: 1}}\n"
     "      - {kpi_id: test_coverage, met: {at_least: 90, points: 2}}\n", "scorecards[0]", "one rule per KPI"),
    ("      - {kpi_id: test_coverage, met: {at_least: 80, points: 1}, bonus: 3}\n",
     "scorecards[0].rules[0].bonus", "unknown key"),
])
def test_a_rule_that_cannot_be_right_is_refused_naming_file_and_key_path(tmp_path, rules, key_path, message):
    path = write(tmp_path, rules)
    with pytest.raises(ConfigError) as error:
        load_scorecards(path, TEAMS)
    text = str(error.value)
    assert str(path) in text and f"  {key_path}:" in text and message in text, text


def test_a_scorecard_for_an_unknown_team_or_grain_is_refused(tmp_path):
    rule = "      - {kpi_id: test_coverage, met: {at_least: 80, points: 1}}\n"
    with pytest.raises(ConfigError, match=r"scorecards\[0\]\.team: .*unknown team 'payment'"):
        load_scorecards(write(tmp_path, rule, team="payment"), TEAMS)
    with pytest.raises(ConfigError, match=r"scorecards\[0\]\.period_grain"):
        load_scorecards(write(tmp_path, rule, grain="fortnight"), TEAMS)


def test_the_pipeline_configuration_checks_the_scorecards_it_names(tmp_path):
    settings = yaml.safe_load((PROJECT_ROOT / "config" / "pipeline.yaml").read_text())
    settings["scorecards"] = str(write(tmp_path, "      - {kpi_id: deploys, met: {at_least: 1, points: 1}}\n"))
    config_path = tmp_path / "pipeline.yaml"
    config_path.write_text(yaml.safe_dump(settings))
    with pytest.raises(ConfigError, match="unknown KPI id 'deploys'"):
        load_config(config_path)
    settings.pop("scorecards")
    config_path.write_text(yaml.safe_dump(settings))
    assert load_config(config_path).scorecards_path is None  # no scorecards: the mart is empty
