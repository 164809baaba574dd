"""marts.fct_ci_runs against the simulator's ground truth (simulator.truth_ci.ci_runs).

Every CI run of the three systems — GitHub Actions, Jenkins, GitLab CI — extracted over
HTTP by the shared small-org pipeline run, compared row for row with the model.
"""

from __future__ import annotations

from collections import Counter

from simulator.truth import ci_runs
from tests.support.small_warehouse import close, naive, query

COMPARED = ("ci_system", "repository", "team", "pipeline_name", "run_number", "branch", "is_default_branch",
            "result", "is_success", "is_verdict", "week_start")


def test_every_ci_run_of_the_three_systems_equals_the_truth(small_warehouse):
    truth = {row["ci_run_key"]: row for row in ci_runs(small_warehouse["simulation"])}
    loaded = {row["ci_run_key"]: row for row in query(
        small_warehouse["config"].published_warehouse, "select * from marts.fct_ci_runs")}
    assert loaded.keys() == truth.keys()
    assert {row["ci_system"] for row in truth.values()} == {"github_actions", "jenkins", "gitlab_ci"}
    for key, expected in truth.items():
        got = loaded[key]
        assert {c: got[c] for c in COMPARED} == {c: expected[c] for c in COMPARED}, key
        for moment in ("created_at", "started_at", "finished_at"):
            assert got[moment] == naive(expected[moment]), (key, moment)
        assert close(got["duration_seconds"], expected["duration_seconds"]), key


def test_the_result_mapping_covers_every_outcome_and_only_verdicts_count_towards_success(small_warehouse):
    rows = query(small_warehouse["config"].published_warehouse,
                 "select ci_system, result, is_verdict, duration_seconds is null as open from marts.fct_ci_runs")
    seen = Counter((row["ci_system"], row["result"]) for row in rows)
    # The small org has cancelled runs in every system and unfinished Jenkins/GitLab runs:
    # exactly the rows a naive success rate gets wrong.
    assert all(seen[(system, "cancelled")] > 0 for system in ("github_actions", "jenkins", "gitlab_ci"))
    assert all(not row["is_verdict"] for row in rows if row["result"] in ("cancelled", "running", "skipped"))
    assert all(row["open"] for row in rows if row["result"] == "running")
