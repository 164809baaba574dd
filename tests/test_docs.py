"""Documentation: the dbt docs (every mart and column described, the exposures) and the
Great Expectations Data Docs of the batch and mart audits, both under data/docs/."""

from __future__ import annotations

import json

import great_expectations as gx
import pandas as pd
import yaml

from expectations.data_docs import data_docs_dir, write_data_docs
from expectations.runner import validate_frame
from kpi.docs import generate_dbt_docs
from tests.conftest import PROJECT_ROOT
from tests.support.warehouse_copy import copy_small_warehouse


def test_each_audit_leaves_data_docs_naming_its_batch_and_mart_suites(small_warehouse):
    docs = data_docs_dir(small_warehouse["config"].data_dir)
    index = (docs / "index.html").read_text()
    for suite in ("raw__github__pull_requests", "raw__jira__issues", "raw__jenkins__builds",
                  "mart__kpi_period", "mart__dora_metrics", "mart__okr_key_results"):
        assert suite in index, suite
        assert list((docs / "validations" / suite).rglob("*.html")), f"no validation page for {suite}"
    assert (docs / "expectations" / "mart__kpi_period.html").is_file()


def test_data_docs_show_a_failed_validation_and_each_kind_replaces_only_its_own(tmp_path):
    expectations = [gx.expectations.ExpectColumnValuesToBeBetween(column="coverage_percent", min_value=0, max_value=100)]
    bad = validate_frame(pd.DataFrame({"coverage_percent": [50.0, 140.0]}), "mart__kpi_x", "test:marts.kpi_x",
                         expectations)
    good = validate_frame(pd.DataFrame({"coverage_percent": [10.0]}), "raw__x__batches", "test:x.jsonl", expectations)
    assert not bad.success and good.success
    write_data_docs(tmp_path, "marts", [bad])
    write_data_docs(tmp_path, "batches", [good])
    docs = data_docs_dir(tmp_path)
    index = (docs / "index.html").read_text()
    assert "mart__kpi_x" in index and "raw__x__batches" in index  # the batch audit kept the mart docs
    page = next((docs / "validations" / "mart__kpi_x").rglob("*.html")).read_text()
    assert "Failed" in page and "140" in page  # the failing value is shown
    write_data_docs(tmp_path, "batches", [])  # the next batch audit replaces the previous one
    assert "raw__x__batches" not in (docs / "index.html").read_text()
    assert not (docs / "validations" / "raw__x__batches").exists()


def test_data_docs_refuse_a_suite_of_the_other_kind(tmp_path):
    result = validate_frame(pd.DataFrame({"a": [1]}), "raw__x", "test", [gx.expectations.ExpectColumnToExist(column="a")])
    try:
        write_data_docs(tmp_path, "marts", [result])
    except ValueError as error:
        assert "suite 'raw__x' is not a marts suite" in str(error)
    else:
        raise AssertionError("a raw suite was accepted as a mart audit")


def mart_names() -> set[str]:
    return {path.stem for path in (PROJECT_ROOT / "dbt_project" / "models" / "marts").rglob("*.sql")}


def test_dbt_docs_describe_every_mart_and_column_and_show_the_exposures(small_warehouse, tmp_path):
    config, _ = copy_small_warehouse(small_warehouse, tmp_path)
    outcome = generate_dbt_docs(config)
    assert outcome["generated"] and outcome["page"].endswith("data/docs/dbt/static_index.html")
    target = config.data_dir / "docs" / "dbt"
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    marts = {node["name"]: (key, node) for key, node in manifest["nodes"].items()
             if node["resource_type"] == "model" and node["original_file_path"].startswith("models/marts/")}
    assert marts.keys() == mart_names()
    for name, (key, node) in marts.items():
        assert node["description"].strip(), f"{name} has no description"
        built = catalog["nodes"][key]["columns"]  # the columns the warehouse really has
        described = {column.lower(): entry["description"] for column, entry in node["columns"].items()}
        for column in built:
            assert (described.get(column.lower()) or "").strip(), f"{name}.{column} has no description"
    exposures = {node["name"]: node for node in manifest["exposures"].values()}
    assert exposures.keys() == {"kpi_dashboard", "superset"}
    # Superset can read every published mart: its exposure must follow when a mart is added.
    assert {dep.rsplit(".", 1)[1] for dep in exposures["superset"]["depends_on"]["nodes"]} == mart_names()
    assert "model.kpi_warehouse.kpi_period" in exposures["kpi_dashboard"]["depends_on"]["nodes"]
    assert "kpi_dashboard" in (target / "static_index.html").read_text()
    # Nothing in the dbt project changed: the next night keeps these docs.
    assert generate_dbt_docs(config) == {"page": outcome["page"], "generated": False}


def test_the_dashboard_exposure_names_exactly_the_marts_the_dashboard_reads():
    from kpi.dashboard import MARTS_READ

    exposures = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "models" / "exposures.yml").read_text())["exposures"]
    dashboard = next(exposure for exposure in exposures if exposure["name"] == "kpi_dashboard")
    assert {dep.removeprefix("ref('").removesuffix("')") for dep in dashboard["depends_on"]} == set(MARTS_READ)


def test_the_exposures_file_names_only_existing_marts():
    exposures = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "models" / "exposures.yml").read_text())["exposures"]
    for exposure in exposures:
        refs = {dep.removeprefix("ref('").removesuffix("')") for dep in exposure["depends_on"]}
        assert refs <= mart_names(), (exposure["name"], refs - mart_names())
        assert exposure["description"].strip() and exposure["owner"]["name"]


def test_kpi_docs_without_a_working_warehouse_says_what_to_run_first(data_dir):
    from typer.testing import CliRunner

    from kpi.cli import app

    result = CliRunner().invoke(app, ["docs"])
    assert result.exit_code == 1
    assert "no working warehouse" in result.output and "kpi run" in result.output


def test_a_data_docs_failure_is_logged_and_does_not_stop_the_pipeline(tmp_path, caplog):
    from expectations.data_docs import write_data_docs_or_log

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the data directory should be")
    result = validate_frame(pd.DataFrame({"a": [1]}), "mart__x", "test", [gx.expectations.ExpectColumnToExist(column="a")])
    assert write_data_docs_or_log(blocked, "marts", [result]) is None
    assert "data docs of the marts audit were not written" in caplog.text
