"""Great Expectations suites as code: one per raw stream batch, one per mart.

A raw suite names the payload fields it needs (`fields`: frame column -> dotted path in
the payload) and the expectations on them. Every raw batch also gets the envelope checks
(record key present and unique within the batch, nothing updated in the future).
Adding a stream's audit = one entry in RAW_SUITES; a stream without an entry still
gets the envelope checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import great_expectations as gx

E = gx.expectations

# Clocks disagree a little between us and the source; beyond this a date is "in the future".
CLOCK_SKEW = timedelta(minutes=10)

SuiteBuilder = Callable[[datetime], list[gx.expectations.Expectation]]


@dataclass(frozen=True)
class RawSuite:
    fields: dict[str, str] = field(default_factory=dict)
    timestamp_fields: tuple[str, ...] = ()
    # Numbers some APIs send as text (GitLab's pipeline coverage is "85.30"); text that is
    # not a number becomes null, which the suite's not-null expectations catch when they matter.
    numeric_fields: tuple[str, ...] = ()
    build: SuiteBuilder = lambda now: []


def envelope_expectations(now: datetime) -> list[gx.expectations.Expectation]:
    return [
        E.ExpectColumnValuesToNotBeNull(column="record_key"),
        E.ExpectColumnValuesToBeUnique(column="record_key"),
        E.ExpectColumnValuesToNotBeNull(column="scope"),
        E.ExpectColumnValuesToBeBetween(column="updated_at", max_value=now + CLOCK_SKEW),
    ]


def _ordered(first: str, then: str) -> gx.expectations.Expectation:
    """`then` is not before `first` when both are present (merged_at >= created_at, ...)."""
    return E.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=then, column_B=first, or_equal=True, ignore_row_if="either_value_is_missing"
    )


def _not_in_future(column: str, now: datetime) -> gx.expectations.Expectation:
    return E.ExpectColumnValuesToBeBetween(column=column, max_value=now + CLOCK_SKEW)


RAW_SUITES: dict[str, RawSuite] = {
    "github__repositories": RawSuite(
        fields={"id": "id", "full_name": "full_name"},
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="id"),
            E.ExpectColumnValuesToMatchRegex(column="full_name", regex=r"^[^/\s]+/[^/\s]+$"),
        ],
    ),
    "github__pull_requests": RawSuite(
        fields={
            "id": "id",
            "number": "number",
            "state": "state",
            "created_at": "created_at",
            "merged_at": "merged_at",
            "closed_at": "closed_at",
        },
        timestamp_fields=("created_at", "merged_at", "closed_at"),
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="id"),
            E.ExpectColumnValuesToNotBeNull(column="number"),
            E.ExpectColumnValuesToNotBeNull(column="created_at"),
            E.ExpectColumnValuesToBeInSet(column="state", value_set=["open", "closed"]),
            # A batch is one repository: two pull requests never share a number there (#123),
            # even when their ids differ (the record key, which the extractor de-duplicates).
            E.ExpectColumnValuesToBeUnique(column="number"),
            _ordered("created_at", "merged_at"),
            _ordered("created_at", "closed_at"),
            _ordered("created_at", "updated_at"),
            _not_in_future("created_at", now),
        ],
    ),
    "github__deployments": RawSuite(
        fields={"id": "id", "environment": "environment", "sha": "sha", "created_at": "created_at"},
        timestamp_fields=("created_at",),
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="id"),
            E.ExpectColumnValuesToNotBeNull(column="environment"),
            E.ExpectColumnValuesToNotBeNull(column="created_at"),
            E.ExpectColumnValuesToMatchRegex(column="sha", regex=r"^[0-9a-f]{7,40}$"),
            _ordered("created_at", "updated_at"),
            _not_in_future("created_at", now),
        ],
    ),
    "github__deployment_statuses": RawSuite(
        fields={"id": "id", "deployment_id": "deployment_id", "state": "state", "created_at": "created_at"},
        timestamp_fields=("created_at",),
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="id"),
            E.ExpectColumnValuesToNotBeNull(column="deployment_id"),
            E.ExpectColumnValuesToBeInSet(
                column="state",
                value_set=["error", "failure", "inactive", "in_progress", "queued", "pending", "success"],
            ),
            _not_in_future("created_at", now),
        ],
    ),
    "github__pull_request_reviews": RawSuite(
        fields={"id": "id", "pull_request_id": "pull_request_id", "state": "state", "submitted_at": "submitted_at"},
        timestamp_fields=("submitted_at",),
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="id"),
            E.ExpectColumnValuesToNotBeNull(column="pull_request_id"),
            E.ExpectColumnValuesToBeInSet(
                column="state", value_set=["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"]
            ),
            _not_in_future("submitted_at", now),
        ],
    ),
    "github__pull_request_commits": RawSuite(
        fields={"sha": "sha", "pull_request_id": "pull_request_id"},
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="pull_request_id"),
            E.ExpectColumnValuesToMatchRegex(column="sha", regex=r"^[0-9a-f]{40}$"),
        ],
    ),
    "github__releases": RawSuite(
        fields={"id": "id", "tag_name": "tag_name", "created_at": "created_at", "published_at": "published_at"},
        timestamp_fields=("created_at", "published_at"),
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="id"),
            E.ExpectColumnValuesToNotBeNull(column="tag_name"),
            _not_in_future("created_at", now),
            _not_in_future("published_at", now),
        ],
    ),
    "github__milestones": RawSuite(
        fields={"id": "id", "number": "number", "state": "state", "created_at": "created_at",
                "closed_at": "closed_at"},
        timestamp_fields=("created_at", "closed_at"),
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="id"),
            E.ExpectColumnValuesToBeInSet(column="state", value_set=["open", "closed"]),
            _ordered("created_at", "updated_at"),
            _ordered("created_at", "closed_at"),
        ],
    ),
    "github__issues": RawSuite(
        fields={"id": "id", "number": "number", "state": "state", "created_at": "created_at",
                "closed_at": "closed_at", "pull_request": "pull_request"},
        timestamp_fields=("created_at", "closed_at"),
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="id"),
            E.ExpectColumnValuesToNotBeNull(column="number"),
            E.ExpectColumnValuesToBeInSet(column="state", value_set=["open", "closed"]),
            E.ExpectColumnValuesToBeNull(column="pull_request"),  # pull requests are dropped
            _ordered("created_at", "updated_at"),
            _ordered("created_at", "closed_at"),
            _not_in_future("created_at", now),
        ],
    ),
    "github__workflow_runs": RawSuite(
        fields={"id": "id", "status": "status", "conclusion": "conclusion", "run_updated_at": "updated_at"},
        timestamp_fields=("run_updated_at",),
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="id"),
            E.ExpectColumnValuesToBeInSet(
                column="status",
                value_set=["requested", "waiting", "pending", "queued", "in_progress", "completed"],
            ),
            E.ExpectColumnValuesToBeInSet(
                column="conclusion",
                value_set=["success", "failure", "neutral", "cancelled", "skipped", "timed_out",
                           "action_required", "stale", "startup_failure"],
            ),
            # the envelope's updated_at is this stream's cursor, created_at
            _ordered("updated_at", "run_updated_at"),
        ],
    ),
    "github__workflow_jobs": RawSuite(
        fields={"id": "id", "run_id": "run_id", "status": "status", "started_at": "started_at",
                "completed_at": "completed_at"},
        timestamp_fields=("started_at", "completed_at"),
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="id"),
            E.ExpectColumnValuesToNotBeNull(column="run_id"),
            E.ExpectColumnValuesToBeInSet(
                column="status", value_set=["queued", "in_progress", "completed", "waiting", "requested", "pending"]
            ),
            _ordered("started_at", "completed_at"),
        ],
    ),
    "github__workflow_artifacts": RawSuite(
        fields={"id": "id", "name": "name", "size_in_bytes": "size_in_bytes", "run_id": "workflow_run.id"},
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="id"),
            E.ExpectColumnValuesToNotBeNull(column="name"),
            E.ExpectColumnValuesToNotBeNull(column="run_id"),
            E.ExpectColumnValuesToBeBetween(column="size_in_bytes", min_value=0),
        ],
    ),
    "github__code_scanning_alerts": RawSuite(
        fields={"number": "number", "state": "state", "created_at": "created_at"},
        timestamp_fields=("created_at",),
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="number"),
            E.ExpectColumnValuesToBeInSet(column="state", value_set=["open", "dismissed", "fixed", "closed"]),
            _ordered("created_at", "updated_at"),
        ],
    ),
    "github__dependabot_alerts": RawSuite(
        fields={"number": "number", "state": "state", "severity": "security_vulnerability.severity",
                "created_at": "created_at"},
        timestamp_fields=("created_at",),
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="number"),
            E.ExpectColumnValuesToBeInSet(column="state", value_set=["open", "dismissed", "fixed", "auto_dismissed"]),
            E.ExpectColumnValuesToBeInSet(column="severity", value_set=["low", "medium", "high", "critical"]),
            _ordered("created_at", "updated_at"),
        ],
    ),
    "github__commits": RawSuite(
        fields={"sha": "sha", "committed_at": "commit.committer.date"},
        timestamp_fields=("committed_at",),
        build=lambda now: [
            E.ExpectColumnValuesToMatchRegex(column="sha", regex=r"^[0-9a-f]{40}$"),
            E.ExpectColumnValuesToNotBeNull(column="committed_at"),
            _not_in_future("committed_at", now),
        ],
    ),
    # Parsed CI reports: a coverage above 100 % never reaches here (the parser rejects it),
    # but a rejected record must carry its reason.
    "github__artifact_reports": RawSuite(
        fields={"report_kind": "report_kind", "lines_valid": "lines_valid", "lines_covered": "lines_covered",
                "error": "error"},
        build=lambda now: [
            E.ExpectColumnValuesToBeInSet(
                column="report_kind", value_set=["coverage", "sarif", "openapi", "performance", "rejected"]),
            E.ExpectColumnValuesToBeBetween(column="lines_valid", min_value=0),
            _ordered("lines_covered", "lines_valid"),
            E.ExpectColumnValuesToBeBetween(column="lines_covered", min_value=0),
        ],
    ),
    "jira__issues": RawSuite(
        fields={"id": "id", "key": "key", "created": "fields.created", "updated": "fields.updated"},
        timestamp_fields=("created", "updated"),
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="id"),
            E.ExpectColumnValuesToMatchRegex(column="key", regex=r"^[A-Z][A-Z0-9_]+-[0-9]+$"),
            _ordered("created", "updated"),
            _not_in_future("created", now),
        ],
    ),
    "jira__project_versions": RawSuite(
        fields={"id": "id", "name": "name"},
        build=lambda now: [E.ExpectColumnValuesToNotBeNull(column="id"), E.ExpectColumnValuesToNotBeNull(column="name")],
    ),
    "jenkins__builds": RawSuite(
        fields={"number": "number", "result": "result", "duration_ms": "duration_ms", "started_at": "started_at",
                "finished_at": "finished_at"},
        timestamp_fields=("started_at", "finished_at"),
        build=lambda now: [
            E.ExpectColumnValuesToBeBetween(column="number", min_value=1),
            E.ExpectColumnValuesToBeInSet(
                column="result", value_set=["SUCCESS", "UNSTABLE", "FAILURE", "ABORTED", "NOT_BUILT"]),
            E.ExpectColumnValuesToBeBetween(column="duration_ms", min_value=0),
            _ordered("started_at", "finished_at"),
        ],
    ),
    "jenkins__build_reports": RawSuite(
        fields={"report_kind": "report_kind", "lines_valid": "lines_valid", "lines_covered": "lines_covered"},
        build=lambda now: [
            E.ExpectColumnValuesToBeBetween(column="lines_valid", min_value=0),
            _ordered("lines_covered", "lines_valid"),
        ],
    ),
    "gitlab__pipelines": RawSuite(
        fields={"id": "id", "status": "status", "created_at": "created_at", "pipeline_updated_at": "updated_at"},
        timestamp_fields=("created_at", "pipeline_updated_at"),
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="id"),
            E.ExpectColumnValuesToBeInSet(
                column="status", value_set=["created", "waiting_for_resource", "preparing", "pending", "running",
                                            "success", "failed", "canceled", "skipped", "manual", "scheduled"]),
            _ordered("created_at", "pipeline_updated_at"),
        ],
    ),
    "gitlab__projects": RawSuite(
        fields={"id": "id", "path_with_namespace": "path_with_namespace"},
        build=lambda now: [E.ExpectColumnValuesToNotBeNull(column="id"),
                           E.ExpectColumnValuesToNotBeNull(column="path_with_namespace")],
    ),
    "gitlab__pipeline_details": RawSuite(
        fields={"id": "id", "duration": "duration", "started_at": "started_at", "finished_at": "finished_at",
                "coverage": "coverage"},
        timestamp_fields=("started_at", "finished_at"),
        numeric_fields=("coverage",),
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="id"),
            E.ExpectColumnValuesToBeBetween(column="duration", min_value=0),
            E.ExpectColumnValuesToBeBetween(column="coverage", min_value=0, max_value=100),
            _ordered("started_at", "finished_at"),
            _not_in_future("started_at", now),
        ],
    ),
    "gitlab__pipeline_jobs": RawSuite(
        fields={"id": "id", "status": "status", "duration": "duration", "started_at": "started_at",
                "finished_at": "finished_at", "coverage": "coverage"},
        timestamp_fields=("started_at", "finished_at"),
        numeric_fields=("coverage",),
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="id"),
            E.ExpectColumnValuesToBeBetween(column="duration", min_value=0),
            E.ExpectColumnValuesToBeBetween(column="coverage", min_value=0, max_value=100),
            _ordered("started_at", "finished_at"),
        ],
    ),
    "gitlab__deployments": RawSuite(
        fields={"id": "id", "status": "status", "environment": "environment.name", "created_at": "created_at",
                "finished_at": "finished_at"},
        timestamp_fields=("created_at", "finished_at"),
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="id"),
            E.ExpectColumnValuesToNotBeNull(column="environment"),
            E.ExpectColumnValuesToBeInSet(
                column="status", value_set=["created", "running", "success", "failed", "canceled", "skipped", "blocked"]),
            _ordered("created_at", "finished_at"),
        ],
    ),
    "gitlab__releases": RawSuite(
        fields={"tag_name": "tag_name"},
        build=lambda now: [E.ExpectColumnValuesToNotBeNull(column="tag_name")],
    ),
    "gitlab__milestones": RawSuite(
        fields={"id": "id", "title": "title"},
        build=lambda now: [E.ExpectColumnValuesToNotBeNull(column="id"), E.ExpectColumnValuesToNotBeNull(column="title")],
    ),
    "jenkins__build_coverage": RawSuite(
        fields={"line_percent": "line_percent", "branch_percent": "branch_percent", "loc": "loc"},
        build=lambda now: [
            E.ExpectColumnValuesToBeBetween(column="line_percent", min_value=0, max_value=100),
            E.ExpectColumnValuesToBeBetween(column="branch_percent", min_value=0, max_value=100),
            E.ExpectColumnValuesToBeBetween(column="loc", min_value=0),
        ],
    ),
    "gitlab__merge_requests": RawSuite(
        fields={"id": "id", "state": "state", "created_at": "created_at", "merged_at": "merged_at"},
        timestamp_fields=("created_at", "merged_at"),
        build=lambda now: [
            E.ExpectColumnValuesToNotBeNull(column="id"),
            E.ExpectColumnValuesToBeInSet(column="state", value_set=["opened", "closed", "locked", "merged"]),
            _ordered("created_at", "merged_at"),
        ],
    ),
}


def _mart_fct_deployments(now: datetime) -> list[gx.expectations.Expectation]:
    return [
        E.ExpectColumnValuesToNotBeNull(column="deployment_id"),
        E.ExpectColumnValuesToBeUnique(column="deployment_id"),
        E.ExpectColumnValuesToNotBeNull(column="team"),
        E.ExpectColumnValuesToNotBeNull(column="repository"),
        E.ExpectColumnValuesToBeInSet(column="result", value_set=["success", "failed", "pending"]),
        _ordered("created_at", "finished_at"),
        _not_in_future("created_at", now),
    ]


def _mart_kpi_deployment_frequency(now: datetime) -> list[gx.expectations.Expectation]:
    return [
        E.ExpectCompoundColumnsToBeUnique(column_list=["team", "week_start"]),
        E.ExpectColumnValuesToNotBeNull(column="team"),
        E.ExpectColumnValuesToBeBetween(column="deployments", min_value=0),
        E.ExpectColumnValuesToBeBetween(column="successful_deployments", min_value=0),
        E.ExpectColumnValuesToBeBetween(column="failed_deployments", min_value=0),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="deployments", column_B="successful_deployments", or_equal=True
        ),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="deployments", column_B="failed_deployments", or_equal=True
        ),
    ]


RATIO_KPIS = ["change_failure_rate", "release_on_time"]
PERCENT_KPIS = ["test_coverage", "api_documentation_coverage"]
COUNT_KPIS = ["deployment_frequency", "production_bugs", "security_alerts", "code_standard_findings"]


def _long_form_kpi_expectations(keys: list[str]) -> list[gx.expectations.Expectation]:
    """kpi_period / kpi_daily: one row per key, shares within their bounds, a ratio's
    numerator never above its denominator, counts never negative, no value without a fact
    unless zero-filled (then 0)."""
    is_ratio = f"kpi_id.isin({RATIO_KPIS!r})"
    is_percent = f"kpi_id.isin({PERCENT_KPIS!r})"
    return [
        E.ExpectCompoundColumnsToBeUnique(column_list=keys),
        *(E.ExpectColumnValuesToNotBeNull(column=column) for column in keys if column != "repository"),
        E.ExpectColumnValuesToNotBeNull(column="observations"),
        E.ExpectColumnValuesToNotBeNull(column="is_complete"),
        E.ExpectColumnValuesToBeBetween(column="observations", min_value=0),
        E.ExpectColumnValuesToBeBetween(column="value", min_value=0, max_value=1, row_condition=is_ratio,
                                        condition_parser="pandas"),
        E.ExpectColumnValuesToBeBetween(column="value", min_value=0, max_value=100, row_condition=is_percent,
                                        condition_parser="pandas"),
        E.ExpectColumnValuesToBeBetween(column="value", min_value=0, row_condition=f"kpi_id.isin({COUNT_KPIS!r})",
                                        condition_parser="pandas"),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="denominator", column_B="numerator", or_equal=True, ignore_row_if="either_value_is_missing",
            row_condition=f"kpi_id.isin({RATIO_KPIS + PERCENT_KPIS!r})", condition_parser="pandas"),
        E.ExpectColumnValuesToBeInSet(column="value", value_set=[0, 0.0], row_condition="observations == 0",
                                      condition_parser="pandas"),
    ]


def _mart_kpi_period(now: datetime) -> list[gx.expectations.Expectation]:
    return [
        E.ExpectColumnValuesToBeInSet(column="period_grain", value_set=["week", "month", "quarter"]),
        _ordered("period_start", "period_end"),
        *_long_form_kpi_expectations(["period_grain", "period_start", "team", "repository", "kpi_id"]),
    ]


def _mart_kpi_daily(now: datetime) -> list[gx.expectations.Expectation]:
    return _long_form_kpi_expectations(["date_day", "team", "repository", "kpi_id"])


def _mart_dim_kpis(now: datetime) -> list[gx.expectations.Expectation]:
    return [
        E.ExpectColumnValuesToBeUnique(column="kpi_id"),
        E.ExpectColumnValuesToNotBeNull(column="kpi_id"),
        E.ExpectColumnValuesToBeInSet(column="direction", value_set=["higher_is_better", "lower_is_better"]),
        E.ExpectColumnValuesToBeInSet(column="period_facts",
                                      value_set=["in_period", "latest_per_repository", "open_at_period_end"]),
        E.ExpectColumnValuesToBeInSet(column="period_value",
                                      value_set=["count", "sum", "ratio", "percent", "mean", "median", "max"]),
    ]


def _mart_kpi_release_on_time(now: datetime) -> list[gx.expectations.Expectation]:
    return [
        E.ExpectCompoundColumnsToBeUnique(column_list=["team", "week_start"]),
        E.ExpectColumnValuesToNotBeNull(column="team"),
        E.ExpectColumnValuesToBeBetween(column="releases_due", min_value=1),
        E.ExpectColumnValuesToBeBetween(column="on_time_share", min_value=0, max_value=1),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="releases_due", column_B="on_time_releases", or_equal=True),
    ]


def _mart_dora_metrics(now: datetime) -> list[gx.expectations.Expectation]:
    levels = ["elite", "high", "medium", "low"]
    return [
        E.ExpectCompoundColumnsToBeUnique(column_list=["team", "period_grain", "period_start"]),
        E.ExpectColumnValuesToNotBeNull(column="team"),
        E.ExpectColumnValuesToBeInSet(column="period_grain", value_set=["week", "month", "quarter"]),
        E.ExpectColumnValuesToBeBetween(column="days_in_period", min_value=7, max_value=92),
        E.ExpectColumnValuesToBeBetween(column="successful_deployments", min_value=0),
        E.ExpectColumnValuesToBeBetween(column="change_failure_rate", min_value=0, max_value=1),
        E.ExpectColumnValuesToBeBetween(column="median_lead_time_hours", min_value=0),
        E.ExpectColumnValuesToBeBetween(column="median_recovery_hours", min_value=0),
        *(E.ExpectColumnValuesToBeInSet(column=column, value_set=levels) for column in (
            "deployment_frequency_level", "lead_time_level", "change_failure_rate_level", "recovery_time_level")),
        # a level exactly where there is a value
        *(E.ExpectColumnValuesToNotBeNull(column=level, row_condition=f"{value}.notnull()", condition_parser="pandas")
          for value, level in (("successful_deployments", "deployment_frequency_level"),
                               ("median_lead_time_hours", "lead_time_level"),
                               ("change_failure_rate", "change_failure_rate_level"),
                               ("median_recovery_hours", "recovery_time_level"))),
    ]


def _mart_kpi_scorecard(now: datetime) -> list[gx.expectations.Expectation]:
    return [
        E.ExpectCompoundColumnsToBeUnique(column_list=["team", "period_grain", "period_start", "kpi_id"]),
        E.ExpectColumnValuesToNotBeNull(column="team"),
        E.ExpectColumnValuesToNotBeNull(column="points"),
        E.ExpectColumnValuesToBeInSet(column="status", value_set=["met", "missed", "not_met", "no_data"]),
        # met adds, missed takes, anything else scores nothing
        E.ExpectColumnValuesToBeBetween(column="points", min_value=1, row_condition='status == "met"',
                                        condition_parser="pandas"),
        E.ExpectColumnValuesToBeBetween(column="points", max_value=-1, row_condition='status == "missed"',
                                        condition_parser="pandas"),
        E.ExpectColumnValuesToBeInSet(column="points", value_set=[0], row_condition='status in ["not_met", "no_data"]',
                                      condition_parser="pandas"),
        E.ExpectColumnValuesToBeNull(column="value", row_condition='status == "no_data"', condition_parser="pandas"),
    ]


_OKR_STATUSES = ["no_data", "on_track", "at_risk", "off_track"]


def _mart_okr_key_results(now: datetime) -> list[gx.expectations.Expectation]:
    return [
        E.ExpectColumnValuesToBeUnique(column="key_result_id"),
        E.ExpectColumnValuesToNotBeNull(column="objective_id"),
        E.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=1),
        E.ExpectColumnValuesToBeBetween(column="expected_progress", min_value=0, max_value=1),
        E.ExpectColumnValuesToBeBetween(column="weight", min_value=0, max_value=1, strict_min=True),
        E.ExpectColumnValuesToBeInSet(column="status", value_set=_OKR_STATUSES),
        # no data is said as no data, never scored as 0
        E.ExpectColumnValuesToBeNull(column="score", row_condition='status == "no_data"', condition_parser="pandas"),
        E.ExpectColumnValuesToNotBeNull(column="score", row_condition='status != "no_data"', condition_parser="pandas"),
    ]


def _mart_okr_objectives(now: datetime) -> list[gx.expectations.Expectation]:
    return [
        E.ExpectColumnValuesToBeUnique(column="objective_id"),
        E.ExpectColumnValuesToNotBeNull(column="owner_team"),
        E.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=1),
        E.ExpectColumnValuesToBeInSet(column="objective_type", value_set=["committed", "aspirational"]),
        E.ExpectColumnValuesToBeInSet(column="status", value_set=_OKR_STATUSES),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="key_results", column_B="key_results_with_data",
                                                  or_equal=True),
    ]


def _mart_okr_alignment(now: datetime) -> list[gx.expectations.Expectation]:
    return [
        E.ExpectColumnValuesToBeUnique(column="objective_id"),
        E.ExpectColumnValuesToBeBetween(column="depth", min_value=0),
        E.ExpectColumnValuesToNotBeNull(column="root_objective_id"),
    ]


def _mart_okr_history(now: datetime) -> list[gx.expectations.Expectation]:
    return [
        E.ExpectCompoundColumnsToBeUnique(column_list=["key_result_id", "week_start"]),
        E.ExpectColumnValuesToBeInSet(column="status", value_set=_OKR_STATUSES),
        E.ExpectColumnValuesToBeBetween(column="measured_at", max_value=now + CLOCK_SKEW),
    ]


# Mart name (schema `marts`) -> expectations. Every published mart must have an entry.
MART_SUITES: dict[str, SuiteBuilder] = {
    "okr_key_results": _mart_okr_key_results,
    "okr_objectives": _mart_okr_objectives,
    "okr_alignment": _mart_okr_alignment,
    "okr_history": _mart_okr_history,
    "fct_deployments": _mart_fct_deployments,
    "kpi_deployment_frequency": _mart_kpi_deployment_frequency,
    "kpi_release_on_time": _mart_kpi_release_on_time,
    "kpi_period": _mart_kpi_period,
    "kpi_daily": _mart_kpi_daily,
    "dim_kpis": _mart_dim_kpis,
    "dora_metrics": _mart_dora_metrics,
    "kpi_scorecard": _mart_kpi_scorecard,
}


# ---------------------------------------------------------------------------------------
# Every mart's contract as expectations: what its dbt YAML declares — not-null columns
# (constraints or data tests), unique columns and column combinations, accepted values,
# relationships to other models —
# checked again by Great Expectations on the built table, so the mart audit (which blocks
# the publish and feeds the data docs) covers every mart from the one place its rules are
# written. The hand-written suites in MART_SUITES add what YAML cannot say.
MARTS_MODELS_DIR = Path(__file__).resolve().parent.parent / "dbt_project" / "models" / "marts"


def documented_marts(models_dir: Path = MARTS_MODELS_DIR) -> dict[str, dict]:
    """Mart name -> its model entry in the dbt YAML under dbt_project/models/marts."""
    import yaml

    marts: dict[str, dict] = {}
    for path in sorted(models_dir.rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            marts[model["name"]] = model
    return marts


def _test_name(test: Any) -> tuple[str, dict]:
    if isinstance(test, str):
        return test, {}
    (name, options), = test.items()
    return name, (options or {}).get("arguments", options or {})


@dataclass(frozen=True)
class Relationship:
    """A `relationships` test of a mart column: every non-null value of `column` is a value
    of `field` in the model `to`. GX validates one DataFrame at a time, so the audit reads
    the mart with one more column, `check_column`, computed by the warehouse (a semi-join:
    true when the value is null or found in `to`), and expects it to be true."""

    column: str
    to: str
    field: str

    @property
    def check_column(self) -> str:
        return f"{self.column} in {self.to}.{self.field}"


_REF = re.compile(r"""^\s*ref\(\s*['"]([A-Za-z0-9_]+)['"]\s*\)\s*$""")


def relationships(model: dict) -> list[Relationship]:
    """The `relationships` tests of a mart model's columns."""
    found = []
    for column in model.get("columns", []):
        for test in column.get("data_tests", []):
            name, arguments = _test_name(test)
            if name != "relationships":
                continue
            target = _REF.match(str(arguments.get("to", "")))
            if not target or not arguments.get("field"):
                raise ValueError(f"{model['name']}.{column['name']}: a relationships test needs to: ref('model') "
                                 f"and field:, got {arguments}")
            found.append(Relationship(column["name"], target.group(1), arguments["field"]))
    return found


def contract_expectations(model: dict) -> list[gx.expectations.Expectation]:
    expectations: list[gx.expectations.Expectation] = [
        E.ExpectColumnValuesToBeInSet(column=relationship.check_column, value_set=[True])
        for relationship in relationships(model)]
    for test in model.get("data_tests", []):
        name, arguments = _test_name(test)
        if name == "unique_combination_of_columns":
            expectations.append(E.ExpectCompoundColumnsToBeUnique(column_list=list(arguments["columns"])))
    for column in model.get("columns", []):
        tests = dict(_test_name(test) for test in column.get("data_tests", []))
        not_null = "not_null" in tests or any(c.get("type") == "not_null" for c in column.get("constraints", []))
        if not_null:
            expectations.append(E.ExpectColumnValuesToNotBeNull(column=column["name"]))
        if "unique" in tests:
            expectations.append(E.ExpectColumnValuesToBeUnique(column=column["name"]))
        if "accepted_values" in tests:
            expectations.append(E.ExpectColumnValuesToBeInSet(column=column["name"],
                                                              value_set=list(tests["accepted_values"]["values"])))
    return expectations


def mart_expectations(name: str, model: dict, now: datetime) -> list[gx.expectations.Expectation]:
    """The contract's expectations plus the mart's hand-written suite, if it has one."""
    hand_written = MART_SUITES.get(name)
    return contract_expectations(model) + (hand_written(now) if hand_written else [])
