import json

import duckdb
from typer.testing import CliRunner

from kpi.cli import app

runner = CliRunner()


def test_config_validate_accepts_the_committed_config():
    result = runner.invoke(app, ["config", "validate"])
    assert result.exit_code == 0, result.output
    assert "ok: 3 teams" in result.output


def test_config_validate_names_the_problem_and_exits_2(tmp_path):
    bad = tmp_path / "pipeline.yaml"
    bad.write_text("sources: {github: {base_url: ftp://x, orgs: [acme]}}\ndeployments: {production_environments: [production]}\nteams: []\n")
    result = runner.invoke(app, ["config", "validate", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}: invalid configuration" in result.output
    assert "sources.github.base_url" in result.output and "teams: List should have at least 1 item" in result.output


def test_query_reads_the_published_warehouse(data_dir):
    published = data_dir / "published" / "warehouse.duckdb"
    published.parent.mkdir(parents=True)
    with duckdb.connect(str(published)) as connection:
        connection.execute("create schema marts")
        connection.execute("create table marts.kpi_deployment_frequency as select 'growth' as team, 3 as deployments")
    result = runner.invoke(app, ["query", "select team, deployments from marts.kpi_deployment_frequency", "--output", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"team": "growth", "deployments": 3}]


def test_query_without_a_published_warehouse_says_how_to_get_one(data_dir):
    result = runner.invoke(app, ["query", "select 1"])
    assert result.exit_code == 1
    assert "run `make demo`" in result.output
