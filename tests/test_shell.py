"""`kpi shell` and `kpi query` on the published warehouse: read-only, scriptable."""

from __future__ import annotations

import json
import subprocess

import duckdb
import pytest
from typer.testing import CliRunner

from kpi.cli import app
from kpi.executables import venv_executable

runner = CliRunner()


def table_rows(output: str) -> list[list[str]]:
    """The body rows of the rich tables in `output`, as lists of cell texts."""
    return [[cell.strip() for cell in line.strip().strip("│").split("│")]
            for line in output.splitlines() if line.startswith("│")]


@pytest.fixture
def published(data_dir):
    path = data_dir / "published" / "warehouse.duckdb"
    path.parent.mkdir(parents=True)
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema marts")
        connection.execute("create table marts.kpi_deployment_frequency as "
                           "select * from (values ('growth', 3), ('payments', 11)) t(team, deployments)")
    return path


def test_query_refuses_a_write_statement_saying_the_warehouse_is_read_only(published):
    result = runner.invoke(app, ["query", "delete from marts.kpi_deployment_frequency"])
    assert result.exit_code == 1
    assert "the published warehouse is read-only" in result.output
    with duckdb.connect(str(published), read_only=True) as connection:
        assert connection.execute("select count(*) from marts.kpi_deployment_frequency").fetchone()[0] == 2


def test_query_names_a_wrong_output_format(published):
    result = runner.invoke(app, ["query", "select 1", "--output", "xml"])
    assert result.exit_code == 2
    assert "--output 'xml': expected table, csv or json" in result.output


def test_query_csv_output_is_the_rows(published):
    result = runner.invoke(app, ["query", "select team, deployments from marts.kpi_deployment_frequency order by 1",
                                 "--output", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["team,deployments", "growth,3", "payments,11"]


def test_shell_runs_piped_statements_and_dot_commands(published):
    # A real process with a pipe on stdin: the way `kpi shell < file.sql` runs.
    script = (".tables\n"
              "select team, deployments * 2 as doubled\n"
              "  from marts.kpi_deployment_frequency\n"
              "  where team = 'payments';\n"
              ".schema kpi_deployment_frequency\n"
              "select count(*) as teams from marts.kpi_deployment_frequency\n")  # last one without ';'
    result = subprocess.run([venv_executable("kpi"), "shell"], input=script, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert table_rows(result.stdout) == [
        ["marts.kpi_deployment_frequency"],        # .tables
        ["payments", "22"],                        # the multi-line statement
        ["team", "VARCHAR"], ["deployments", "INTEGER"],  # .schema
        ["2"],                                     # the last statement, without its ';'
    ]


def test_shell_refuses_writes_and_exits_1_when_a_piped_statement_failed(published):
    script = "create table marts.mine as select 1;\nselect deployments from marts.kpi_deployment_frequency where team = 'growth';\n"
    result = subprocess.run([venv_executable("kpi"), "shell"], input=script, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert "error: the published warehouse is read-only" in result.stdout
    assert table_rows(result.stdout) == [["3"]]  # the statement after the failure still ran
    with duckdb.connect(str(published), read_only=True) as connection:
        assert connection.execute("select count(*) from information_schema.tables where table_name = 'mine'"
                                  ).fetchone()[0] == 0


def test_shell_without_a_published_warehouse_says_how_to_get_one(data_dir):
    result = runner.invoke(app, ["shell"], input="select 1;\n")
    assert result.exit_code == 1
    assert "run `make demo`" in result.output


def test_query_json_output_still_parses(published):
    result = runner.invoke(app, ["query", "select count(*) as n from marts.kpi_deployment_frequency", "--output", "json"])
    assert json.loads(result.output) == [{"n": 2}]
