"""The OKR marts against the simulator's ground truth, for the demo OKRs (config/okrs/).

The shared small-org pipeline run (tests/support/small_warehouse.py, KPI_AS_OF = the
simulator's anchor) loads config/okrs/2026-Q4.yaml; simulator/truth_okrs.py computes each
key result's value from the plain-Python kpi_period truth and scores it by
config/okr_scoring.yaml. Every score, status and rollup must be equal.
"""

from __future__ import annotations

import pytest

from kpi.catalogue import load_catalogue
from kpi.okr_scoring import load_scoring
from kpi.okrs import load_okrs
from simulator.truth_okrs import okr_alignment, okr_key_results, okr_objectives
from tests.support.small_warehouse import close, query
from tests.test_marts_quality import downloadable_artifact_facts


@pytest.fixture(scope="module")
def okrs(small_warehouse):
    config = small_warehouse["config"]
    loaded = load_okrs(config.okrs_dir, config=config)
    truth = okr_key_results(small_warehouse["simulation"], loaded.objective_rows(), loaded.key_result_rows(),
                            loaded.check_in_rows(), load_scoring(), load_catalogue(),
                            artifact_facts=downloadable_artifact_facts)
    return {"config": config, "okrs": loaded, "key_results_truth": truth,
            "published": config.published_warehouse}


def test_every_key_result_value_score_and_status_equals_the_truth(okrs):
    loaded = query(okrs["published"], "select * from marts.okr_key_results order by key_result_id")
    truth = okrs["key_results_truth"]
    assert [row["key_result_id"] for row in loaded] == [row["key_result_id"] for row in truth]
    for got, expected in zip(loaded, truth):
        key = got["key_result_id"]
        for column in ("current_value", "progress", "score", "expected_progress"):
            assert close(got[column], expected[column]), (key, column, got[column], expected[column])
        assert got["status"] == expected["status"], key
    # the demo covers the cases worth checking: KPI and manual key results with data,
    # a weekly rate, a repository scope, and at least two different statuses
    kinds = {(row["key_result_kind"], row["value_source"]) for row in loaded if row["current_value"] is not None}
    assert {("kpi", "kpi_period"), ("kpi", "kpi_period_weekly_rate"), ("manual", "check_in")} <= kinds
    assert any(row["kpi_scope"] == "repository" and row["current_value"] is not None for row in loaded)
    assert len({row["status"] for row in loaded}) >= 2


def test_every_objective_score_success_and_rollup_equals_the_truth(okrs):
    objectives = okrs["okrs"].objective_rows()
    truth = okr_objectives(objectives, okrs["key_results_truth"], load_scoring())
    loaded = query(okrs["published"], "select * from marts.okr_objectives order by objective_id")
    assert [row["objective_id"] for row in loaded] == [row["objective_id"] for row in truth]
    for got, expected in zip(loaded, truth):
        key = got["objective_id"]
        for column in ("score", "children_mean_score", "descendants_mean_score", "success_threshold"):
            assert close(got[column], expected[column]), (key, column, got[column], expected[column])
        for column in ("key_results", "key_results_with_data", "meets_success_threshold", "status",
                       "aligned_children", "aligned_descendants"):
            assert got[column] == expected[column], (key, column)
    thresholds = {row["objective_type"]: row["success_threshold"] for row in loaded}
    assert thresholds == {"committed": 1.0, "aspirational": 0.7}


def test_the_alignment_tree_runs_from_the_company_objective_down(okrs):
    truth = okr_alignment(okrs["okrs"].objective_rows())
    loaded = query(okrs["published"], "select objective_id, root_objective_id, depth, path "
                                      "from marts.okr_alignment order by objective_id")
    assert loaded == truth
    individual = next(row for row in loaded if row["objective_id"] == "alex-full-stack")
    assert individual["path"] == "payments-share-knowledge > alex-full-stack" and individual["depth"] == 1
    assert {row["root_objective_id"] for row in loaded if row["path"].startswith("acme-ship-reliably")} == \
        {"acme-ship-reliably"}


def test_a_key_result_without_data_says_no_data_not_zero(okrs):
    [row] = query(okrs["published"], "select * from marts.okr_key_results where key_result_id = 'alex-pairing'")
    assert row["current_value"] is None and row["score"] is None and row["status"] == "no_data"


def test_history_holds_one_snapshot_per_key_result_for_the_as_of_week(okrs):
    rows = query(okrs["published"], "select key_result_id, week_start, score, status from marts.okr_history")
    current = {row["key_result_id"]: row for row in
               query(okrs["published"], "select key_result_id, score, status from marts.okr_key_results")}
    assert sorted(row["key_result_id"] for row in rows) == sorted(current)
    assert {str(row["week_start"]) for row in rows} == {"2026-11-23"}  # the anchor's ISO week
    for row in rows:
        assert close(row["score"], current[row["key_result_id"]]["score"]) and \
            row["status"] == current[row["key_result_id"]]["status"]
