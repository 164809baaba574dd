import json
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from expectations.runner import DataQualityError, audit_batch, audit_marts, raise_for_failures

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def write_batch(path: Path, payloads: list[dict]) -> Path:
    with path.open("w") as handle:
        for payload in payloads:
            handle.write(json.dumps({
                "record_key": str(payload["id"]), "scope": "acme/ledger",
                "updated_at": payload["updated_at"], "payload": payload,
            }) + "\n")
    return path


def pull_request(id_: int, **overrides) -> dict:
    payload = {
        "id": id_, "number": id_, "state": "closed",
        "created_at": "2026-11-02T09:00:00Z", "updated_at": "2026-11-02T11:00:00Z",
        "merged_at": "2026-11-02T10:00:00Z", "closed_at": "2026-11-02T10:00:00Z",
    }
    payload.update(overrides)
    return payload


def test_clean_pull_request_batch_passes(tmp_path):
    batch = write_batch(tmp_path / "prs.jsonl", [pull_request(1), pull_request(2, state="open", merged_at=None, closed_at=None)])
    result = audit_batch(batch, "github__pull_requests", now=NOW)
    assert result.success, result.describe()
    assert result.rows == 2


def test_an_empty_batch_passes_without_a_validation_and_a_bad_row_still_fails(tmp_path):
    # A stream with nothing new tonight lands an empty batch: nothing to check, so no GX run
    # (its fixed cost was the whole of a quiet night's audit); one bad row is still caught.
    empty = audit_batch(write_batch(tmp_path / "empty.jsonl", []), "github__pull_requests", now=NOW)
    assert (empty.success, empty.rows, empty.validation) == (True, 0, None)
    bad = write_batch(tmp_path / "bad.jsonl", [pull_request(1, merged_at="2020-01-01T00:00:00Z")])
    result = audit_batch(bad, "github__pull_requests", now=NOW)
    assert not result.success and result.validation is not None


def test_merged_before_created_fails_and_the_error_shows_the_row(tmp_path):
    batch = write_batch(tmp_path / "prs.jsonl", [pull_request(1), pull_request(7, merged_at="2026-11-01T00:00:00Z")])
    result = audit_batch(batch, "github__pull_requests", now=NOW)
    assert not result.success
    assert [f.expectation for f in result.failures] == ["expect_column_pair_values_a_to_be_greater_than_b"]
    with pytest.raises(DataQualityError) as error:
        raise_for_failures([result])
    message = str(error.value)
    assert "column_A='merged_at'" in message and "(1 rows)" in message
    assert '"record_key": "7"' in message


def test_unknown_state_duplicate_key_and_future_dates_are_each_named(tmp_path):
    batch = write_batch(tmp_path / "prs.jsonl", [
        pull_request(1, state="weird"),
        pull_request(2, updated_at="2027-01-01T00:00:00Z", created_at="2027-01-01T00:00:00Z", merged_at=None, closed_at=None),
        pull_request(2),
    ])
    result = audit_batch(batch, "github__pull_requests", now=NOW)
    failed = {(f.expectation, f.arguments.get("column")) for f in result.failures}
    assert ("expect_column_values_to_be_in_set", "state") in failed
    assert ("expect_column_values_to_be_unique", "record_key") in failed
    assert ("expect_column_values_to_be_between", "updated_at") in failed
    assert ("expect_column_values_to_be_between", "created_at") in failed


def test_mart_audit_fails_when_a_mart_is_missing_or_inconsistent(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema marts")
        connection.execute(
            "create table marts.kpi_deployment_frequency as select 'payments' as team, date '2026-11-02' as week_start, "
            "2 as deployments, 3 as successful_deployments, 0 as failed_deployments"
        )
    results = {r.suite: r for r in audit_marts(warehouse, now=NOW)}
    assert [f.expectation for f in results["mart__fct_deployments"].failures] == ["table_exists"]
    frequency = results["mart__kpi_deployment_frequency"]
    assert [f.arguments["column_B"] for f in frequency.failures] == ["successful_deployments"]


def test_every_stream_of_every_source_has_its_own_suite():
    """Beyond the envelope checks, each landed stream is audited on its own fields."""
    from expectations.suites import RAW_SUITES
    from kpi.sources import all_streams

    unaudited = {stream.name for stream in all_streams() if stream.key_listing_of is None} - set(RAW_SUITES)
    assert not unaudited, f"streams without a suite in expectations/suites.py: {sorted(unaudited)}"


def test_every_documented_mart_is_audited_with_the_rules_its_contract_declares():
    from expectations.suites import contract_expectations, documented_marts

    marts = documented_marts()
    assert {"fct_ci_runs", "fct_pull_requests", "kpi_period", "okr_key_results"} <= marts.keys()
    for name, model in marts.items():
        assert contract_expectations(model), f"{name}: its contract declares nothing to audit"
    kinds = {(type(e).__name__, getattr(e, "column", None)) for e in contract_expectations(marts["fct_ci_runs"])}
    assert {("ExpectColumnValuesToBeUnique", "ci_run_key"), ("ExpectColumnValuesToNotBeNull", "team"),
            ("ExpectColumnValuesToBeInSet", "result")} <= kinds


def test_a_duplicate_key_or_an_unknown_value_in_a_mart_fails_its_audit_naming_the_column(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema marts")
        connection.execute(
            "create table marts.fct_ci_runs as select * from (values "
            "('jenkins:a#1', 'jenkins', 'acme/a', 'payments', 'success'), "
            "('jenkins:a#1', 'jenkins', 'acme/a', 'payments', 'passed')) "
            "as t(ci_run_key, ci_system, repository, team, result)")
    results = {r.suite: r for r in audit_marts(warehouse, now=NOW)}
    failed = {(f.expectation, f.arguments.get("column")) for f in results["mart__fct_ci_runs"].failures}
    assert ("expect_column_values_to_be_unique", "ci_run_key") in failed
    assert ("expect_column_values_to_be_in_set", "result") in failed


def test_a_mart_row_pointing_at_no_row_of_the_related_model_fails_its_relationships_audit(tmp_path):
    """dbt's relationships tests are checked by the mart audit too (incremental nights leave
    them to it): a value missing from the related model fails, naming the row; null passes."""
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema marts")
        connection.execute("create table marts.fct_deployments as select * from (values ('d1'), (null)) as t(deployment_id)")
        connection.execute(
            "create table marts.fct_incidents as select * from (values ('i1', 'd1'), ('i2', null), ('i3', 'd9')) "
            "as t(incident_id, caused_by_deployment_id)")
    results = {r.suite: r for r in audit_marts(warehouse, now=NOW)}
    check = "caused_by_deployment_id in fct_deployments.deployment_id"
    failure, = [f for f in results["mart__fct_incidents"].failures if f.arguments.get("column") == check]
    assert failure.unexpected_count == 1
    assert [(row["incident_id"], row["caused_by_deployment_id"]) for row in failure.sample_rows] == [("i3", "d9")]

    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("drop table marts.fct_deployments")
    results = {r.suite: r for r in audit_marts(warehouse, now=NOW)}
    failure, = [f for f in results["mart__fct_incidents"].failures if f.arguments.get("column") == check]
    assert failure.unexpected_count == 2, "without the related model no non-null value can be checked"
