"""The CI-report marts against the simulator's ground truth (simulator/truth_ci.py).

Test coverage, API documentation coverage, code-standard findings and performance. The
whole pipeline (extract over HTTP, download and parse report artifacts, load, dbt build,
publish) runs in-process on the `small` org with every detail stream read for all history;
each KPI mart is then compared row for row with the truth computed in plain Python from the
facts the simulator's report generators encoded in the artifacts.

The warehouse only sees artifacts GitHub still serves: expired ones (90-day retention) are
not downloaded. The truth is therefore computed over `downloadable_artifact_facts`, the one
place that restriction lives; on `small` it changes nothing (only pull-request runs'
artifacts have expired), which a test below holds.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

import pytest

from simulator.github_api import ARTIFACT_RETENTION_DAYS
from simulator.model import Org, WorkflowRun
from simulator.truth_ci import BENCHMARK_ARTIFACTS, api_documentation_coverage, code_standard_findings, \
    github_artifact_facts, performance, test_coverage
from tests.support.small_warehouse import close, naive, query

ANCHOR = datetime(2026, 11, 23, tzinfo=timezone.utc)
REGRESSION_PERCENT = 10  # fct_performance's default var performance_regression_percent


def downloadable_artifact_facts(org: Org, run: WorkflowRun, name: str) -> Mapping[str, Any] | None:
    """The truth's artifact facts, restricted to what the warehouse can have: GitHub serves an
    artifact for ARTIFACT_RETENTION_DAYS after the run; an expired one is never downloaded."""
    if run.updated_at + timedelta(days=ARTIFACT_RETENTION_DAYS) < org.anchor:
        return None
    return github_artifact_facts(org, run, name)


@pytest.fixture(scope="module")
def warehouse(small_warehouse):
    return small_warehouse


def rows(config, sql: str, warehouse: str = "published") -> list[dict]:
    return query(config.published_warehouse if warehouse == "published" else config.working_warehouse, sql)








def assert_equal_to_truth(loaded: list[dict], truth: list[dict], exact: tuple[str, ...], floats: tuple[str, ...]):
    """Same (team, repository, week) rows in the same order, same run, same values."""
    assert [(r["team"], r["repository"], r["week_start"]) for r in loaded] == \
        [(r["team"], r["repo"], r["week_start"]) for r in truth]
    for got, expected in zip(loaded, truth):
        key = (got["repository"], got["week_start"])
        assert (got["source"], got["run_id"], got["run_started_at"]) == \
            (expected["source"], expected["run_id"], naive(expected["run_started_at"])), key
        for column in exact:
            assert got[column] == expected[column], (key, column)
        for column in floats:
            assert close(got[column], expected[column]), (key, column, got[column], expected[column])


def test_test_coverage_equals_the_truth(warehouse):
    config = warehouse["config"]
    truth = test_coverage(warehouse["simulation"], artifact_facts=downloadable_artifact_facts)
    loaded = rows(config, "select * from marts.kpi_test_coverage order by team, repository, week_start")
    assert len(truth) > 50 and {r["source"] for r in truth} == {"github_actions", "jenkins"}
    assert_equal_to_truth(loaded, truth, exact=("lines_covered", "lines_valid", "team_lines_covered", "team_lines_valid"),
                          floats=("line_coverage_percent", "team_line_coverage_percent"))
    fact_rows = rows(config, "select repository, week_start, run_id from marts.fct_test_coverage order by 1, 2")
    assert fact_rows == sorted(({"repository": r["repo"], "week_start": r["week_start"], "run_id": r["run_id"]}
                                for r in truth), key=lambda r: (r["repository"], r["week_start"]))


def test_api_documentation_coverage_equals_the_truth(warehouse):
    org, config = warehouse["org"], warehouse["config"]
    truth = api_documentation_coverage(org, artifact_facts=downloadable_artifact_facts)
    loaded = rows(config, "select * from marts.kpi_api_documentation order by team, repository, week_start")
    assert len(truth) > 50
    assert_equal_to_truth(loaded, truth, exact=("operations", "documented_operations"),
                          floats=("documented_operations_percent",))


def test_code_standard_findings_equal_the_truth(warehouse):
    org, config = warehouse["org"], warehouse["config"]
    truth = code_standard_findings(org, artifact_facts=downloadable_artifact_facts)
    loaded = rows(config, "select * from marts.kpi_code_standards order by team, repository, week_start")
    assert len(truth) > 50 and any(r["findings"] for r in truth) and any(not r["findings"] for r in truth)
    assert_equal_to_truth(loaded, truth, exact=("error_findings", "warning_findings", "findings", "team_error_findings",
                                                "team_warning_findings", "team_findings"), floats=())


def test_performance_equals_the_truth(warehouse):
    org, config = warehouse["org"], warehouse["config"]
    truth = performance(org, artifact_facts=downloadable_artifact_facts)
    loaded = rows(config, "select * from marts.kpi_performance order by team, repository, week_start")
    assert len(truth) > 50
    assert_equal_to_truth(loaded, truth, exact=(), floats=("p95_latency_ms", "team_max_p95_latency_ms"))


def test_performance_regressions_compare_with_the_previous_run_of_the_scenario(warehouse):
    """Each weekly result is compared with the previous default-branch run (any conclusion)
    that reported a p95, whatever its week; a regression is more than 10% slower."""
    org, config = warehouse["org"], warehouse["config"]
    previous: dict[tuple[str, int], tuple[int, float] | None] = {}
    for repo in org.repositories:
        last = None
        runs = sorted((run for run in org.workflow_runs.get(repo.full_name, [])
                       if run.status == "completed" and run.event != "pull_request"
                       and run.head_branch == repo.default_branch), key=lambda run: (run.created_at, run.id))
        for run in runs:
            facts = next((f for name in BENCHMARK_ARTIFACTS
                          if (f := downloadable_artifact_facts(org, run, name)) is not None), None)
            if facts is None:
                continue
            previous[(repo.full_name, run.id)] = last
            last = (run.id, facts["p95_ms"])
    p95 = {(r["repo"], r["run_id"]): r["p95_latency_ms"] for r in performance(org, downloadable_artifact_facts)}
    loaded = rows(config, "select * from marts.fct_performance")
    assert len(loaded) == len(p95)
    regressions = 0
    for got in loaded:
        key = (got["repository"], got["run_id"])
        before = previous[key]
        assert got["previous_run_id"] == (before and before[0]), key
        assert close(got["previous_p95_ms"], before and before[1]), key
        expected = before is not None and p95[key] > before[1] * (1 + REGRESSION_PERCENT / 100)
        assert got["is_regression"] == expected, key
        regressions += expected
    assert 0 < regressions < len(loaded)
    counted = rows(config, "select sum(regressed_scenarios) as n from marts.kpi_performance")[0]["n"]
    assert counted == regressions


def test_expired_artifacts_change_no_truth_row_on_small(warehouse):
    """The restriction to downloadable artifacts does not weaken the comparisons above.
    On `small` no truth row changes; on larger orgs (KPI_TEST_SCALE) expired artifacts do
    change rows, which is why the comparisons above use the downloadable artifacts' truth."""
    from tests.support.small_warehouse import configured_scale

    if configured_scale() != "small":
        pytest.skip(f"expired artifacts change truth rows on {configured_scale()}; the claim is made for small")
    org, simulation = warehouse["org"], warehouse["simulation"]
    assert any(run.updated_at + timedelta(days=ARTIFACT_RETENTION_DAYS) < org.anchor
               for runs in org.workflow_runs.values() for run in runs), "small has expired artifacts"
    assert test_coverage(simulation) == test_coverage(simulation, downloadable_artifact_facts)
    for kpi in (api_documentation_coverage, code_standard_findings, performance):
        assert kpi(org) == kpi(org, downloadable_artifact_facts), kpi.__name__


def test_every_report_of_small_parses_into_its_kind(warehouse):
    """Every report of the small org parsed (dbt unit test a_rejected_report_never_counts
    covers rejected files); the staging view keeps a rejected file's kind apart."""
    config = warehouse["config"]
    kinds = defaultdict(int, {r["report_kind"]: r["n"] for r in rows(
        config, "select report_kind, count(*) as n from staging.stg_github__artifact_reports group by 1",
        warehouse="working")})
    assert kinds["rejected"] == 0
    assert {kind for kind, n in kinds.items() if n} == {"coverage", "sarif", "openapi", "performance"}
