"""Progress bars of `kpi run`: per source over its scopes, a line per step; silent when
the output is not a terminal (Airflow task logs, pipes)."""

from __future__ import annotations

import io

from rich.console import Console

from kpi.progress import PipelineProgress, RichProgress

SCOPES = [{"source": "github", "scope": "acme/ledger"}, {"source": "github", "scope": "acme/web-app"},
          {"source": "jira", "scope": "PAY"}]


def test_rich_progress_counts_each_source_s_scopes_and_each_step_on_a_terminal():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with RichProgress(console) as progress:
        assert [scope["scope"] for scope in progress.scopes(SCOPES)] == ["acme/ledger", "acme/web-app", "PAY"]
        with progress.step("dbt build"):
            pass
        tasks = {task.description: (task.completed, task.total) for task in progress.progress.tasks}
    assert tasks == {"extract github": (2, 2), "extract jira": (1, 1), "dbt build": (1, 1)}
    assert "extract github" in out.getvalue() and "2/2" in out.getvalue()


def test_rich_progress_draws_nothing_when_not_a_terminal():
    out = io.StringIO()
    with RichProgress(Console(file=out, force_terminal=False)) as progress:
        list(progress.scopes(SCOPES))
        with progress.step("dbt build"):
            pass
    assert out.getvalue() == ""


def test_the_default_progress_passes_every_scope_through():
    assert list(PipelineProgress().scopes(SCOPES)) == SCOPES


def test_the_airflow_run_progress_counts_the_latest_run_s_finished_task_instances(tmp_path):
    import sqlite3

    from kpi.progress import AirflowRunProgress

    db = tmp_path / "airflow.db"
    progress = AirflowRunProgress(db, "kpi_nightly", Console(file=io.StringIO()))
    assert progress.counts() == (0, 0, None)  # before `airflow db migrate`
    with sqlite3.connect(db) as connection:
        connection.execute("create table dag_run (id integer, dag_id text, run_id text)")
        connection.execute("create table task_instance (dag_id text, run_id text, task_id text, state text)")
        connection.executemany("insert into dag_run values (?, ?, ?)", [(1, "kpi_nightly", "old"), (2, "kpi_nightly", "new")])
        connection.executemany("insert into task_instance values ('kpi_nightly', ?, ?, ?)", [
            ("old", "publish", "success"), ("new", "extract_listings", "success"), ("new", "plan_scopes", "success"),
            ("new", "extract_github", "running"), ("new", "extract_jira", "skipped"), ("new", "publish", None)])
    assert progress.counts() == (3, 5, "extract_github")
