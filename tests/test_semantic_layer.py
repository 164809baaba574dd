"""The MetricFlow semantic layer (dbt_project/models/semantic/) on the published warehouse:
its configuration validates, and a metric equals the mart's own number."""

from __future__ import annotations

import csv

from kpi.semantic import run_mf
from tests.support.small_warehouse import close, query

# Every catalogue KPI with a metric (see _semantic__models.yml for the ones without).
METRICS = ("deployment_frequency", "change_failure_rate", "lead_time_for_changes", "failed_deployment_recovery_time",
           "release_delay", "release_on_time", "production_bugs")


def test_the_semantic_layer_validates_against_the_published_warehouse(small_warehouse):
    result = run_mf(small_warehouse["config"], ["validate-configs"], capture=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Successfully validated metrics against data warehouse (ERRORS: 0" in result.stdout


def test_a_monthly_metric_query_equals_kpi_period_for_every_team(small_warehouse, tmp_path):
    config = small_warehouse["config"]
    output = tmp_path / "october.csv"
    result = run_mf(config, ["query", "--metrics", ",".join(METRICS), "--group-by", "metric_time__month,team",
                             "--where", "{{ TimeDimension('metric_time', 'month') }} = '2026-10-01'",
                             "--csv", str(output)], capture=True)
    assert result.returncode == 0, result.stdout + result.stderr
    from_metricflow = {row["team"]: row for row in csv.DictReader(output.open())}
    expected = query(config.published_warehouse,
                     "select team, kpi_id, value from marts.kpi_period where period_grain = 'month' "
                     "and period_start = date '2026-10-01' and repository is null and kpi_id in ("
                     + ", ".join(f"'{metric}'" for metric in METRICS) + ")")
    assert {row["team"] for row in expected} == from_metricflow.keys() == {"growth", "payments", "platform"}
    for row in expected:
        got = from_metricflow[row["team"]][row["kpi_id"]]
        assert close(float(got) if got else None, row["value"]), (row, got)


def test_the_semantic_layer_runs_from_a_read_only_dbt_project(small_warehouse, tmp_path, monkeypatch):
    # An installed project (a wheel, a read-only image layer) cannot take dbt's target/:
    # `kpi metrics` parses and runs mf in a copy under the data folder instead.
    import shutil
    import stat

    from kpi.dbt_runner import DBT_PROJECT_DIR, DBT_PROJECT_ENV

    project = tmp_path / "read_only_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    for path in [project, *project.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    monkeypatch.setenv(DBT_PROJECT_ENV, str(project))
    try:
        result = run_mf(small_warehouse["config"], ["validate-configs"], capture=True)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Successfully validated metrics against data warehouse (ERRORS: 0" in result.stdout
        assert not (project / "target").exists()
    finally:
        for path in [project, *project.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
