"""Every mart is documented column by column under an enforced contract, the KPI marts
built on the catalogue are audited by Great Expectations, and no mart names a person."""

from __future__ import annotations

import yaml

from expectations.suites import MART_SUITES
from tests.conftest import PROJECT_ROOT
from tests.support.small_warehouse import query

MARTS_DIR = PROJECT_ROOT / "dbt_project" / "models" / "marts"
PERIOD_MARTS = {"kpi_period", "kpi_daily", "dim_kpis", "dora_metrics", "kpi_scorecard", "kpi_release_on_time"}
# Column names that would identify a person (people appear only as members of teams).
PERSON_WORDS = ("author", "login", "user", "assignee", "reporter", "email", "person", "committer", "reviewer",
                "creator", "developer", "engineer")


def mart_models() -> dict[str, dict]:
    models = {}
    for path in MARTS_DIR.rglob("*.yml"):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            models[model["name"]] = model
    return models


def test_every_mart_has_an_enforced_contract_and_every_column_a_type_and_description():
    models = mart_models()
    assert PERIOD_MARTS <= models.keys()
    for name, model in models.items():
        assert model.get("config", {}).get("contract", {}).get("enforced") is True, name
        assert model.get("description"), name
        for column in model["columns"]:
            assert column.get("data_type") and column.get("description"), (name, column["name"])


def test_the_published_marts_are_exactly_the_documented_ones_with_their_columns(small_warehouse):
    path = small_warehouse["config"].published_warehouse
    built = {}
    for row in query(path, "select table_name, column_name from information_schema.columns "
                           "where table_schema = 'marts' order by table_name, ordinal_position"):
        built.setdefault(row["table_name"], []).append(row["column_name"])
    models = mart_models()
    assert built.keys() == models.keys()
    for name, columns in built.items():
        assert columns == [column["name"] for column in models[name]["columns"]], name


def test_the_period_dora_and_scorecard_marts_have_a_great_expectations_suite():
    assert PERIOD_MARTS <= MART_SUITES.keys()


def test_no_mart_has_a_column_that_names_a_person():
    for name, model in mart_models().items():
        for column in model["columns"]:
            assert not any(word in column["name"] for word in PERSON_WORDS), (name, column["name"])
