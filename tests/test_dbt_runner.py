"""What an incremental night leaves out of `dbt build` (kpi.dbt_runner.incremental_exclusions):
models whose inputs did not change, and the mart tests the mart audit repeats.

The end-to-end check that the marts still equal a full refresh is
tests/test_incremental_marts.py; these pin the decisions themselves.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
import yaml

from expectations.suites import MARTS_MODELS_DIR, _test_name, contract_expectations
from kpi.dbt_runner import (MANIFEST_FINGERPRINT, MART_TESTS_THE_AUDIT_REPEATS, dbt_target_dir,
                            incremental_exclusions, models_with_unchanged_inputs, record_build,
                            unchanged_raw_tables, views_defined_by_the_code_alone)

AUDITED_TEST_NAMES = {selector.split(",")[0].removeprefix("test_name:") for selector in MART_TESTS_THE_AUDIT_REPEATS}


def _manifest() -> dict:
    """A small project: raw source -> staging -> mart, a configuration source -> dim, a mart
    that reads the clock through a macro, a mart over config and raw together."""
    def model(name, parents, raw_code="select 1", macros=(), materialized="table"):
        return {"name": name, "resource_type": "model", "raw_code": raw_code,
                "config": {"materialized": materialized},
                "depends_on": {"nodes": list(parents), "macros": list(macros)}}

    def source(source_name, identifier):
        return {"source_name": source_name, "identifier": identifier}

    return {
        "sources": {
            "source.p.github.github__pulls": source("github", "github__pulls"),
            "source.p.github.github__runs": source("github", "github__runs"),
            "source.p.config.config__teams": source("config", "config__teams"),
        },
        "macros": {
            "macro.p.as_of_timestamp": {"macro_sql": "{% macro as_of_timestamp() %}{{ var('as_of') }}{% endmacro %}",
                                        "depends_on": {"macros": []}},
            "macro.p.age_in_days": {"macro_sql": "{% macro age_in_days(c) %}{{ as_of_timestamp() }} - {{ c }}{% endmacro %}",
                                    "depends_on": {"macros": ["macro.p.as_of_timestamp"]}},
            "macro.p.json_text": {"macro_sql": "{% macro json_text(c, f) %}{{ c }} ->> '{{ f }}'{% endmacro %}",
                                  "depends_on": {"macros": []}},
        },
        "nodes": {
            "model.p.stg_pulls": model("stg_pulls", ["source.p.github.github__pulls"],
                                       macros=["macro.p.json_text"], materialized="incremental"),
            "model.p.stg_runs": model("stg_runs", ["source.p.github.github__runs"],
                                      raw_code="select {{ json_text('payload', 'run_started_at') }} as run_started_at",
                                      macros=["macro.p.json_text"], materialized="incremental"),
            "model.p.stg_teams": model("stg_teams", ["source.p.config.config__teams"], materialized="view"),
            "model.p.dim_teams": model("dim_teams", ["model.p.stg_teams"]),
            "model.p.fct_pulls": model("fct_pulls", ["model.p.stg_pulls", "model.p.stg_teams"]),
            "model.p.fct_runs": model("fct_runs", ["model.p.stg_runs", "model.p.stg_teams"]),
            "model.p.fct_open_pulls": model("fct_open_pulls", ["model.p.stg_pulls"],
                                            raw_code="select {{ age_in_days('opened_at') }}",
                                            macros=["macro.p.age_in_days"]),
            "model.p.time_spine": model("time_spine", [], raw_code="select current_date"),
            "model.p.kpi_pulls_weekly": model("kpi_pulls_weekly", ["model.p.fct_pulls"], materialized="view"),
            "model.p.kpi_pull_age": model("kpi_pull_age", ["model.p.fct_pulls"], raw_code="select {{ age_in_days('opened_at') }}",
                                          macros=["macro.p.age_in_days"], materialized="view"),
            "test.p.unique_fct_pulls_id": {"name": "unique_fct_pulls_id", "resource_type": "test", "raw_code": "",
                                           "config": {}, "depends_on": {"nodes": ["model.p.fct_pulls"], "macros": []}},
        },
    }


def test_configuration_only_models_are_left_out_when_no_raw_table_is_known_unchanged():
    assert models_with_unchanged_inputs(_manifest(), set()) == ["dim_teams", "stg_teams"]


def test_a_model_over_unchanged_raw_tables_is_left_out_and_its_marts_with_it():
    left_out = models_with_unchanged_inputs(_manifest(), {"github__pulls"})
    # fct_open_pulls and kpi_pull_age read the as-of moment through a macro of a macro:
    # rebuilt every night.
    assert left_out == ["dim_teams", "fct_pulls", "kpi_pulls_weekly", "stg_pulls", "stg_teams"]


def test_a_column_named_like_dbts_clock_is_not_the_clock():
    # stg_runs has a column run_started_at (GitHub's name), not dbt's {{ run_started_at }}.
    assert "stg_runs" in models_with_unchanged_inputs(_manifest(), {"github__runs"})
    manifest = _manifest()
    manifest["nodes"]["model.p.stg_runs"]["raw_code"] = "select '{{ run_started_at }}' as built_at"
    assert "stg_runs" not in models_with_unchanged_inputs(manifest, {"github__runs"})


def test_a_model_reading_the_database_clock_is_always_rebuilt():
    assert "time_spine" not in models_with_unchanged_inputs(_manifest(), {"github__pulls", "github__runs"})


def test_the_clock_named_in_a_jinja_comment_is_not_read():
    manifest = _manifest()
    manifest["nodes"]["model.p.time_spine"]["raw_code"] = (
        "{#- days until {{ dbt.dateadd('week', 1, 'current_date') }}, as date_spine's docs say -#}\n"
        "select * from range(date '2020-01-01', date '2031-01-01', interval 1 day)")
    assert "time_spine" in models_with_unchanged_inputs(manifest, set())


def _warehouse(path: Path, last_build_started: datetime | None) -> Path:
    warehouse = path / "work.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema raw")
        for table in ("github__pulls", "github__runs", "jira__issues", "config__teams"):
            connection.execute(f"create table raw.{table} (record_key varchar)")
        connection.execute("alter table raw.jira__issues add column _deleted_at timestamptz")
        connection.execute("create table raw._load_log (run_id varchar, stream varchar, scope varchar, inserted bigint, "
                           "updated bigint, unchanged bigint, loaded_at timestamptz)")
    if last_build_started is not None:
        record_build(warehouse, "fingerprint", False, last_build_started)
    return warehouse


def _log(warehouse: Path, stream: str, inserted: int, updated: int, loaded_at: datetime) -> None:
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("insert into raw._load_log values ('night', ?, 'acme/app', ?, ?, 0, ?)",
                           [stream, inserted, updated, loaded_at])


def test_a_raw_table_is_unchanged_when_every_load_since_the_last_build_merged_nothing(tmp_path):
    build_started = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
    warehouse = _warehouse(tmp_path, build_started)
    _log(warehouse, "github__pulls", 5, 0, build_started - timedelta(hours=1))  # staged by that build
    _log(warehouse, "github__pulls", 0, 0, build_started + timedelta(days=1))   # tonight: all 304s
    _log(warehouse, "github__runs", 0, 1, build_started + timedelta(days=1))    # tonight: one run updated
    _log(warehouse, "jira__issues", 0, 0, build_started + timedelta(days=1))
    # jira__issues can change without a merge (a key listing marks deletions): never unchanged.
    assert unchanged_raw_tables(warehouse) == {"github__pulls", "config__teams"}


def test_nothing_is_known_unchanged_before_the_first_recorded_build(tmp_path):
    warehouse = _warehouse(tmp_path, None)
    _log(warehouse, "github__pulls", 0, 0, datetime(2026, 12, 1, tzinfo=timezone.utc))
    assert unchanged_raw_tables(warehouse) == set()


def test_without_a_manifest_an_incremental_night_leaves_out_no_model(tmp_path):
    config = type("Config", (), {"data_dir": tmp_path, "working_warehouse": _warehouse(tmp_path, None)})()
    arguments = incremental_exclusions(config)
    excluded = arguments[arguments.index("--exclude") + 1:]
    assert excluded == ["tag:staging_contract", *MART_TESTS_THE_AUDIT_REPEATS]
    assert arguments[arguments.index("--indirect-selection") + 1] == "cautious"


def test_only_a_manifest_stamped_with_tonights_fingerprint_decides_what_is_left_out(tmp_path):
    """Incremental nights keep the last full build's manifest.json (--no-write-json); a full
    build with other code that failed may have written another since. Models are left out
    only on the word of a manifest stamped with tonight's fingerprint."""
    config = type("Config", (), {"data_dir": tmp_path, "working_warehouse": _warehouse(tmp_path, None)})()
    target = dbt_target_dir(config)
    target.mkdir(parents=True)
    (target / "manifest.json").write_text(json.dumps(_manifest()))
    always = ["tag:staging_contract", *MART_TESTS_THE_AUDIT_REPEATS]

    def excluded(fingerprint):
        arguments = incremental_exclusions(config, fingerprint)
        return arguments[arguments.index("--exclude") + 1:]

    assert excluded("abc") == always  # no stamp
    (target / MANIFEST_FINGERPRINT).write_text("other code")
    assert excluded("abc") == always
    (target / MANIFEST_FINGERPRINT).write_text("abc")
    assert excluded("abc") == [*always, *sorted({*models_with_unchanged_inputs(_manifest(), set()),
                                                 *views_defined_by_the_code_alone(_manifest())})]
    assert "kpi_pulls_weekly" in excluded("abc")


def test_a_view_is_left_out_with_its_tables_changing_but_not_when_it_reads_the_clock():
    """A view's definition is its SQL (the fingerprint's code), so tonight's raw changes do
    not touch it; one that renders `as_of` into its SQL is recreated every night."""
    assert "kpi_pulls_weekly" not in models_with_unchanged_inputs(_manifest(), set())  # fct_pulls changes
    assert views_defined_by_the_code_alone(_manifest()) == ["kpi_pulls_weekly", "stg_teams"]


def _generic_tests(model: dict):
    """(column or None, test name, arguments, config) of every generic test of a mart model,
    read as the mart audit reads them (expectations.suites._test_name)."""
    def parsed(test):
        name, arguments = _test_name(test)
        config = {} if isinstance(test, str) else (test[name] or {}).get("config", {})
        return name, arguments, config

    for test in model.get("data_tests", []):
        yield (None, *parsed(test))
    for column in model.get("columns", []):
        for test in column.get("data_tests", []):
            yield (column["name"], *parsed(test))


def _ref_name(to: str) -> str:
    """ref('model') -> model"""
    return to.strip().removeprefix("ref(").removesuffix(")").strip().strip("'\"")


def _mart_models():
    for path in sorted(MARTS_MODELS_DIR.rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            yield path.name, model


@pytest.mark.parametrize("yml, model", list(_mart_models()), ids=lambda value: value if isinstance(value, str) else value["name"])
def test_every_mart_test_an_incremental_night_leaves_out_is_an_audit_expectation(yml, model):
    """The nightly build leaves these tests to the mart audit; each must be there, exactly."""
    expectations = {(type(e).__name__, getattr(e, "column", None),
                     tuple(getattr(e, "column_list", None) or ()), tuple(getattr(e, "value_set", None) or ()))
                    for e in contract_expectations(model)}
    for column, name, arguments, config in _generic_tests(model):
        if name not in AUDITED_TEST_NAMES:
            continue
        where = f"{yml}: {model['name']}.{column or '(model)'} {name}"
        assert not config, f"{where}: a test config ({config}) the audit would not apply"
        wanted = {
            "not_null": ("ExpectColumnValuesToNotBeNull", column, (), ()),
            "unique": ("ExpectColumnValuesToBeUnique", column, (), ()),
            "accepted_values": ("ExpectColumnValuesToBeInSet", column, (), tuple(arguments.get("values", ()))),
            "unique_combination_of_columns": ("ExpectCompoundColumnsToBeUnique", None,
                                              tuple(arguments.get("columns", ())), ()),
            "relationships": ("ExpectColumnValuesToBeInSet",
                              f"{column} in {_ref_name(arguments.get('to', ''))}.{arguments.get('field')}", (), (True,)),
        }[name]
        assert column is not None or name == "unique_combination_of_columns", f"{where}: a model-level {name}"
        assert wanted in expectations, f"{where}: no matching mart audit expectation"
