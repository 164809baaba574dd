"""Parsers for the reports CI jobs archive: coverage, SARIF, OpenAPI, performance.

Pure functions: bytes (or a path, or a binary stream) in, frozen dataclasses out; no
network, no database. `parse_report` recognises the format, `parse_archive` reads every
report in a CI artifact ZIP, `report_record` flattens a parsed report for the raw layer.
See README.md for each format's totals rule and the API documentation-coverage definition.
"""

from extractors.reports.coverage import (
    CoverageReport, FileCoverage, Totals, parse_clover, parse_cobertura, parse_coveragepy_json, parse_jacoco,
    parse_lcov, parse_scoverage,
)
from extractors.reports.dispatch import ArchiveMember, ArchiveResult, Report, parse_archive, parse_report
from extractors.reports.errors import InvalidReport, ReportContext, ReportError, UnknownFormat, UnknownReportFormat
from extractors.reports.openapi import OpenApiReport, OperationDocumentation, documentation_coverage, parse_openapi
from extractors.reports.performance import (
    PerformanceReport, PerformanceRow, parse_k6_summary, parse_pytest_benchmark,
)
from extractors.reports.records import (
    coverage_record, openapi_record, performance_record, record_key, report_record, sarif_record,
)
from extractors.reports.sarif import Finding, SarifReport, parse_sarif

__all__ = [
    "ArchiveMember", "ArchiveResult", "CoverageReport", "FileCoverage", "Finding", "InvalidReport", "OpenApiReport",
    "OperationDocumentation", "PerformanceReport", "PerformanceRow", "Report", "ReportContext", "ReportError",
    "SarifReport", "Totals", "UnknownFormat", "UnknownReportFormat", "coverage_record", "documentation_coverage",
    "openapi_record", "parse_archive", "parse_clover", "parse_cobertura", "parse_coveragepy_json", "parse_jacoco",
    "parse_k6_summary", "parse_lcov", "parse_openapi", "parse_pytest_benchmark", "parse_report", "parse_sarif",
    "parse_scoverage", "performance_record", "record_key", "report_record", "sarif_record",
]
