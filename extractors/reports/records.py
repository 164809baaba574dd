"""Parsed reports as flat, JSON-serialisable records for the warehouse's raw stream.

One record per report file, keyed on (source, repository, run_id, file_name). The
per-file, per-finding, per-operation or per-benchmark detail stays inside that record as
a list field rather than as separate rows: a report is produced and replaced as a whole,
so one record per key makes a re-run an idempotent overwrite (a file removed from a
report cannot linger as an orphan row), and dbt unnests the list in staging
(DuckDB `unnest`) where the detail is wanted.
"""

from __future__ import annotations

from typing import Any

from extractors.reports.coverage import CoverageReport, Totals
from extractors.reports.errors import ReportContext
from extractors.reports.openapi import OpenApiReport
from extractors.reports.performance import PerformanceReport
from extractors.reports.sarif import SarifReport


def record_key(context: ReportContext, filename: str) -> dict[str, Any]:
    return {"source": context.source, "repository": context.repository, "run_id": str(context.run_id),
            "file_name": filename}


def _totals(prefix: str, totals: Totals | None) -> dict[str, Any]:
    return {f"{prefix}_valid": totals.valid if totals else None,
            f"{prefix}_covered": totals.covered if totals else None,
            f"{prefix}_rate": totals.rate if totals else None}


def coverage_record(report: CoverageReport, *, context: ReportContext, filename: str) -> dict[str, Any]:
    return {
        **record_key(context, filename), "report_kind": report.kind, "format": report.format,
        **_totals("lines", report.lines), **_totals("branches", report.branches),
        "declared_line_rate": report.declared_line_rate, "warnings": list(report.warnings),
        "files": [{"path": row.path, **_totals("lines", row.lines), **_totals("branches", row.branches)}
                  for row in report.files],
    }


def sarif_record(report: SarifReport, *, context: ReportContext, filename: str) -> dict[str, Any]:
    return {
        **record_key(context, filename), "report_kind": report.kind, "format": report.format,
        "sarif_version": report.version, "findings_total": len(report.findings),
        "counts": [{"rule_id": rule_id, "level": level, "count": total}
                   for (rule_id, level), total in sorted(report.counts.items(),
                                                         key=lambda item: (item[0][0] or "", item[0][1]))],
        "findings": [{"tool": finding.tool, "rule_id": finding.rule_id, "level": finding.level,
                      "uri": finding.uri, "start_line": finding.start_line, "message": finding.message}
                     for finding in report.findings],
    }


def openapi_record(report: OpenApiReport, *, context: ReportContext, filename: str) -> dict[str, Any]:
    return {
        **record_key(context, filename), "report_kind": report.kind, "format": report.format,
        "spec_version": report.spec_version, "title": report.title,
        "operations_total": len(report.operations), "documented_operations": report.documented,
        "documentation_ratio": report.ratio, "problems": list(report.problems),
        "operations": [{"method": operation.method, "path": operation.path,
                        "operation_id": operation.operation_id, "documented": operation.documented,
                        "reasons": list(operation.reasons)} for operation in report.operations],
    }


def performance_record(report: PerformanceReport, *, context: ReportContext, filename: str) -> dict[str, Any]:
    return {
        **record_key(context, filename), "report_kind": report.kind, "format": report.format,
        "rows": [{"name": row.name, "p50_ms": row.p50_ms, "p95_ms": row.p95_ms, "samples": row.samples,
                  "from_raw_samples": row.from_raw_samples} for row in report.rows],
    }


_RECORDS = {CoverageReport: coverage_record, SarifReport: sarif_record, OpenApiReport: openapi_record,
            PerformanceReport: performance_record}


def report_record(report: Any, *, context: ReportContext, filename: str) -> dict[str, Any]:
    """The record for any parsed report (what `parse_report` returned)."""
    return _RECORDS[type(report)](report, context=context, filename=filename)
