"""Run the suites of `expectations.suites` with Great Expectations 1.x on DataFrames.

GX's SQL datasource on DuckDB (duckdb-engine) fails in `resolve_metric_bundle`, so
batches are validated as pandas DataFrames: raw batches read from the landing JSONL,
marts read from DuckDB through a read-only connection.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import great_expectations as gx
import pandas as pd

from expectations.suites import (RAW_SUITES, RawSuite, Relationship, documented_marts, envelope_expectations,
                                 mart_expectations, relationships)

SAMPLE_ROWS = 5
log = logging.getLogger(__name__)


class DataQualityError(Exception):
    """A suite failed: the message names each failed expectation and shows sample rows."""

    def __init__(self, results: list["AuditResult"]):
        self.results = results
        super().__init__("\n\n".join(result.describe() for result in results if not result.success))


@dataclass
class Failure:
    expectation: str
    arguments: dict[str, Any]
    unexpected_count: int | None
    sample_rows: list[dict[str, Any]]
    record_keys: list[str] = field(default_factory=list)  # every failing row's key, when the frame has keys

    def describe(self) -> str:
        args = ", ".join(
            f"{k}={v.isoformat() if isinstance(v, datetime) else repr(v)}" for k, v in self.arguments.items()
        )
        count = "" if self.unexpected_count is None else f" ({self.unexpected_count} rows)"
        lines = [f"  FAILED {self.expectation}({args}){count}"]
        lines += [f"    e.g. {json.dumps(row, default=str)}" for row in self.sample_rows]
        return "\n".join(lines)


@dataclass
class AuditResult:
    suite: str
    subject: str
    rows: int
    success: bool
    failures: list[Failure] = field(default_factory=list)
    # GX's own result, for the Data Docs (expectations.data_docs); None when nothing was validated.
    validation: Any = field(default=None, repr=False, compare=False)

    def describe(self) -> str:
        head = f"suite {self.suite} on {self.subject}: {len(self.failures)} expectation(s) failed of {self.rows} rows"
        return "\n".join([head] + [failure.describe() for failure in self.failures])


@lru_cache(maxsize=1)
def _context() -> Any:
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    return context


def validate_frame(frame: pd.DataFrame, suite_name: str, subject: str, expectations: list) -> AuditResult:
    """Validate a DataFrame against expectations; never raises for a failed expectation."""
    context = _context()
    source = context.data_sources.add_or_update_pandas(name="kpi_frames")
    asset = next((a for a in source.assets if a.name == suite_name), None) or source.add_dataframe_asset(suite_name)
    batch_definition = next(
        (b for b in asset.batch_definitions if b.name == "whole"), None
    ) or asset.add_batch_definition_whole_dataframe("whole")
    suite = gx.ExpectationSuite(name=suite_name, expectations=expectations)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    outcome = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    failures = []
    for result in outcome.results:
        if result.success:
            continue
        config = result.expectation_config
        details = result.result or {}
        index = details.get("unexpected_index_list") or []
        sample_index = [i for i in index[:SAMPLE_ROWS] if not isinstance(i, dict)]
        samples = frame.loc[sample_index].to_dict(orient="records") if sample_index else []
        if not samples and result.exception_info and result.exception_info.get("raised_exception"):
            samples = [{"exception": result.exception_info.get("exception_message")}]
        arguments = {k: v for k, v in config.kwargs.items() if k not in {"result_format", "batch_id"}}
        keys = ([str(key) for key in frame.loc[[i for i in index if not isinstance(i, dict)], "record_key"]]
                if "record_key" in frame.columns else [])
        failures.append(Failure(config.type, arguments, details.get("unexpected_count"), samples, keys))
    return AuditResult(suite_name, subject, len(frame), not failures, failures, validation=outcome)


def _dig(payload: dict, dotted: str) -> Any:
    value: Any = payload
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def batch_frame(path: Path, suite: RawSuite) -> pd.DataFrame:
    """The landing batch as a frame: envelope columns plus the suite's payload fields."""
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataQualityError(
                    [AuditResult("parse", f"{path}:{line_number}", 0, False, [Failure("valid_json", {"error": str(exc)}, 1, [])])]
                ) from None
            payload = record.get("payload") or {}
            row = {"record_key": record.get("record_key"), "scope": record.get("scope"), "updated_at": record.get("updated_at")}
            row.update({column: _dig(payload, dotted) for column, dotted in suite.fields.items()})
            rows.append(row)
    columns = ["record_key", "scope", "updated_at", *suite.fields]
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("updated_at", *suite.timestamp_fields):
        frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce")
    for column in suite.numeric_fields:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def audit_batch(path: Path, stream: str, now: datetime | None = None) -> AuditResult:
    """Audit one landing batch (JSONL written by extractors.extract) before it is merged.
    A line that is not JSON fails the batch (suite `parse`) instead of raising."""
    now = now or datetime.now(timezone.utc)
    suite = RAW_SUITES.get(stream, RawSuite())
    try:
        frame = batch_frame(Path(path), suite)
    except DataQualityError as unparsable:
        return unparsable.results[0]
    if frame.empty:
        # Nothing landed (a stream with no change tonight): no row to check, and GX's fixed
        # cost per validation (~0.2 s) made up a quiet night's whole audit (5.6 min, large).
        return AuditResult(f"raw__{stream}", str(path), 0, True)
    expectations = envelope_expectations(now) + suite.build(now)
    return validate_frame(frame, f"raw__{stream}", str(path), expectations)


def audit_marts(warehouse: Path, now: datetime | None = None, schema: str = "marts") -> list[AuditResult]:
    """Audit every documented mart (its contract's expectations plus its hand-written suite);
    a documented mart missing from the warehouse is a failure."""
    now = now or datetime.now(timezone.utc)
    results = []
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        existing = {
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = ?", [schema]
            ).fetchall()
        }
        for mart, model in documented_marts().items():
            subject = f"{warehouse}:{schema}.{mart}"
            if mart not in existing:
                results.append(AuditResult(f"mart__{mart}", subject, 0, False, [Failure("table_exists", {"table": f"{schema}.{mart}"}, None, [])]))
                continue
            frame = connection.execute(_mart_query(connection, schema, mart, relationships(model))).df()
            for column, dtype in frame.dtypes.items():
                if str(dtype).startswith("datetime64") and getattr(dtype, "tz", None) is None:
                    frame[column] = frame[column].dt.tz_localize("UTC")  # marts hold naive UTC
            results.append(validate_frame(frame, f"mart__{mart}", subject, mart_expectations(mart, model, now)))
    return results


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _mart_query(connection: duckdb.DuckDBPyConnection, schema: str, mart: str,
                checks: list[Relationship]) -> str:
    """The mart's rows plus one boolean column per relationship (Relationship.check_column):
    true when the value is null or found in the related model, wherever dbt built it (marts
    or staging). A related model missing from the warehouse makes every non-null value
    false, so the failure shows the rows it leaves unchecked. A mart without the column gets
    no check column, and GX reports the expectation's column as missing."""
    present = {name for (name,) in connection.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
        [schema, mart]).fetchall()}
    columns = ["mart.*"]
    for check in (check for check in checks if check.column in present):
        found = connection.execute(
            "select table_schema from information_schema.tables where table_name = ? order by table_schema = ? desc",
            [check.to, schema]).fetchone()
        field = _quoted(check.field)
        # Nulls left out of the related values: `in` a set holding null is null, not false.
        related = (f"(select {field} from {_quoted(found[0])}.{_quoted(check.to)} where {field} is not null)" if found
                   else "(select null where false)")
        column = f"mart.{_quoted(check.column)}"
        columns.append(f"({column} is null or {column} in {related}) as {_quoted(check.check_column)}")
    return f"select {', '.join(columns)} from {_quoted(schema)}.{_quoted(mart)} as mart"


def raise_for_failures(results: list[AuditResult]) -> None:
    if any(not result.success for result in results):
        raise DataQualityError(results)
