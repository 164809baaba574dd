"""Format recognition, errors that name file/repository/run, artifact ZIPs (the simulator's
and a mixed one), and warehouse records."""

from __future__ import annotations

import gzip
import io
import json
import random
import zipfile

import pytest

from extractors.reports import (
    CoverageReport, OpenApiReport, PerformanceReport, ReportContext, ReportError, SarifReport, Totals,
    UnknownReportFormat, parse_archive, parse_report, record_key, report_record,
)
from simulator import ci_reports
from simulator.generator import generate_org
from simulator.github_api import ARTIFACT_NAMES, artifact_files, artifact_zip

CONTEXT = ReportContext(repository="acme/ledger", run_id=90210, source="github")
FILES = ["src/ledger/api.py", "src/ledger/models.py"]


def cobertura() -> bytes:
    return ci_reports.coverage_report("cobertura", random.Random(1), FILES, 0.7)[0]


def sarif() -> bytes:
    return ci_reports.sarif_report(random.Random(1), 5)[0]


def assert_names_file_repository_and_run(error: ReportError, filename: str) -> None:
    message = str(error)
    assert message.startswith(f"{filename}: ")
    assert "repository acme/ledger" in message and "run 90210" in message and "source github" in message


@pytest.mark.parametrize("data, filename, reason", [
    (b"", "coverage.xml", "empty file"),
    (b" \n\t\n", "results.sarif", "empty file"),
    (b"<coverage line-rate='0.5'><packages></coverage>", "coverage.xml", "malformed or truncated XML: mismatched tag"),
    (cobertura()[:700], "coverage.xml", "malformed or truncated XML: unclosed token"),
    (cobertura().split(b"</packages>")[0], "coverage.xml", "malformed or truncated XML: no element found"),
    (b'{"version": "2.1.0", "runs": [}', "results.sarif", "malformed or truncated JSON"),
    (sarif()[:300], "results.sarif", "malformed or truncated JSON"),
    (gzip.compress(sarif())[:200], "results.sarif.gz", "truncated or corrupt gzip"),
    (b"openapi: 3.0.0\npaths: [unclosed\n", "openapi.yaml", "malformed or truncated YAML"),
], ids=["empty", "blank", "malformed-xml", "truncated-xml", "truncated-xml-at-a-tag", "malformed-json", "truncated-json", "truncated-gzip",
        "malformed-yaml"])
def test_broken_files_raise_report_errors_naming_file_repository_and_run(data: bytes, filename: str,
                                                                          reason: str) -> None:
    with pytest.raises(ReportError) as raised:
        parse_report(data, filename=filename, context=CONTEXT)
    assert reason in raised.value.reason
    assert_names_file_repository_and_run(raised.value, filename)


@pytest.mark.parametrize("data, reason", [
    (b"just some build log\nline two\n", "not XML, JSON, OpenAPI YAML or lcov"),
    (b'{"name": "kpi", "version": "1.0.0"}', "an object with keys ['name', 'version']"),
    (b"[1, 2, 3]", "a JSON list"),
    (b"<html><body>coverage</body></html>", "XML root element <html>"),
])
def test_unknown_formats_are_named_as_such(data: bytes, reason: str) -> None:
    with pytest.raises(UnknownReportFormat) as raised:
        parse_report(data, filename="artifact.bin", context=CONTEXT)
    assert raised.value.reason.startswith("unknown format: ") and reason in raised.value.reason
    assert_names_file_repository_and_run(raised.value, "artifact.bin")


def test_formats_are_recognised_from_content_and_gzip_from_magic_bytes(tmp_path) -> None:
    lcov = ci_reports.coverage_report("lcov", random.Random(3), FILES, 0.5)[0]
    path = tmp_path / "lcov.info.gz"
    path.write_bytes(gzip.compress(lcov))
    from_path = parse_report(path, filename=path.name, context=CONTEXT)
    from_bytes = parse_report(lcov, filename="anything", context=CONTEXT)
    assert isinstance(from_path, CoverageReport) and from_path == from_bytes and from_path.format == "lcov"
    assert parse_report(io.BytesIO(cobertura()), filename="x", context=CONTEXT).format == "cobertura"


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_one_bad_archive_member_does_not_stop_the_good_one() -> None:
    archive = zip_of({"coverage.xml": cobertura(), "broken/results.sarif": sarif()[:250],
                      "htmlcov/index.html": b"<!DOCTYPE html><html><body>report</body></html>"})
    result = parse_archive(archive, filename="coverage-report.zip", context=CONTEXT)
    (good,) = result.reports
    assert good.filename == "coverage-report.zip/coverage.xml"
    assert isinstance(good.report, CoverageReport) and good.report.lines.valid > 0
    (error,) = result.errors
    assert "malformed or truncated JSON" in error.reason
    assert_names_file_repository_and_run(error, "coverage-report.zip/broken/results.sarif")
    (skipped,) = result.skipped
    assert skipped.filename == "coverage-report.zip/htmlcov/index.html"


def test_a_file_that_is_not_a_zip_is_a_report_error() -> None:
    with pytest.raises(ReportError, match="not a ZIP archive") as raised:
        parse_archive(b"PK\x03\x04 not really", filename="artifact.zip", context=CONTEXT)
    assert_names_file_repository_and_run(raised.value, "artifact.zip")


def test_simulator_artifact_zips_parse_to_the_facts_they_encode() -> None:
    org = generate_org("small", seed=7)
    for repository, runs in org.workflow_runs.items():
        run = next(run for run in runs if run.status == "completed" and run.conclusion == "success")
        context = ReportContext(repository=repository, run_id=run.id, source="github")
        for name in ARTIFACT_NAMES:
            _, facts = artifact_files(org, run, name)
            result = parse_archive(artifact_zip(org, run, name), filename=f"{name}.zip", context=context)
            assert result.errors == () and result.skipped == ()
            (member,) = result.reports
            report = member.report
            if name == "coverage-report":
                assert isinstance(report, CoverageReport) and report.format == facts["format"]
                assert report.lines == Totals(facts["lines_valid"], facts["lines_covered"])
                assert {row.path: row.lines for row in report.files} == {
                    path: Totals(row["lines_valid"], row["lines_covered"]) for path, row in facts["files"].items()}
            elif name == "code-scanning-sarif":
                assert isinstance(report, SarifReport) and len(report.findings) == facts["results"]
                levels = {level: sum(total for (_, found), total in report.counts.items() if found == level)
                          for level in ci_reports.SARIF_LEVELS}
                assert levels == facts["by_level"]
            elif name == "openapi-spec":
                # Operation count only: see test_reports_openapi for the `{id}` parameter rule.
                assert isinstance(report, OpenApiReport) and len(report.operations) == facts["operations"]
            else:
                assert isinstance(report, PerformanceReport)
                (row,) = report.rows
                assert (row.p50_ms, row.p95_ms, row.samples) == (facts["p50_ms"], facts["p95_ms"], facts["requests"])


def test_every_report_kind_becomes_one_json_serialisable_record_keyed_on_source_repository_run_and_file() -> None:
    documents = {
        "coverage.xml": cobertura(),
        "results.sarif": sarif(),
        "openapi.json": ci_reports.openapi_spec(random.Random(1), "ledger", 10, 0.5)[0],
        "k6-summary.json": ci_reports.benchmark_result(random.Random(1), "ledger")[0],
    }
    details = {"coverage": "files", "sarif": "findings", "openapi": "operations", "performance": "rows"}
    for filename, document in documents.items():
        report = parse_report(document, filename=filename, context=CONTEXT)
        record = report_record(report, context=CONTEXT, filename=filename)
        assert json.loads(json.dumps(record)) == record
        assert {key: record[key] for key in ("source", "repository", "run_id", "file_name")} == \
            record_key(CONTEXT, filename) == {"source": "github", "repository": "acme/ledger", "run_id": "90210",
                                              "file_name": filename}
        assert record["report_kind"] == report.kind and isinstance(record[details[report.kind]], list)
    coverage = report_record(parse_report(documents["coverage.xml"], filename="c", context=CONTEXT),
                             context=CONTEXT, filename="c")
    assert coverage["lines_valid"] == sum(row["lines_valid"] for row in coverage["files"])
    assert coverage["branches_valid"] == 0 and coverage["branches_rate"] is None
