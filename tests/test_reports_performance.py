"""Performance results. The corpus has no pytest-benchmark or k6 output (checked with
`find realdata -iname '*bench*' -o -iname '*k6*'`), so the documents below are built from
the tools' documented formats: pytest-benchmark's `--benchmark-json` (with and without
`--benchmark-save-data`), k6's `--summary-export` and its `handleSummary` data object.
The simulator's k6 summaries are checked against their facts."""

from __future__ import annotations

import json
import random

import pytest

from extractors.reports import (
    InvalidReport, PerformanceReport, PerformanceRow, ReportContext, parse_k6_summary, parse_pytest_benchmark,
    parse_report,
)
from extractors.reports.performance import percentile
from simulator import ci_reports

CONTEXT = ReportContext(repository="acme/ledger", run_id=7, source="github")


def pytest_benchmark_document(with_data: bool) -> dict:
    data = [0.0012, 0.0010, 0.0011, 0.0013, 0.0030, 0.0011, 0.0010, 0.0012, 0.0014, 0.0011]
    stats = {"min": 0.0010, "max": 0.0030, "mean": 0.00134, "stddev": 0.00058, "rounds": 10, "median": 0.00115,
             "iqr": 0.0002, "q1": 0.0011, "q3": 0.0013, "iqr_outliers": 1, "stddev_outliers": 1, "outliers": "1;1",
             "ld15iqr": 0.0010, "hd15iqr": 0.0014, "ops": 746.27, "total": 0.0134, "iterations": 1}
    if with_data:
        stats["data"] = data
    return {"machine_info": {"node": "ci", "python_implementation": "CPython"}, "commit_info": {"id": "abc"},
            "benchmarks": [{"group": None, "name": "test_parse", "fullname": "tests/test_perf.py::test_parse",
                            "params": None, "param": None, "extra_info": {}, "options": {}, "stats": stats}],
            "datetime": "2024-03-01T10:00:00", "version": "4.0.0"}


def test_pytest_benchmark_percentiles_come_from_the_raw_timings_when_saved() -> None:
    report = parse_report(json.dumps(pytest_benchmark_document(with_data=True)).encode(),
                          filename="benchmark.json", context=CONTEXT)
    assert isinstance(report, PerformanceReport) and report.format == "pytest-benchmark"
    (row,) = report.rows
    assert (row.name, row.samples, row.from_raw_samples) == ("tests/test_perf.py::test_parse", 10, True)
    assert row.p50_ms == pytest.approx(1.15)  # the tool's own median, in ms
    # sorted: 1.0 1.0 1.1 1.1 1.1 1.2 1.2 1.3 1.4 3.0 ms; rank 0.95 * 9 = 8.55 -> 1.4 + 0.55 * 1.6
    assert row.p95_ms == pytest.approx(2.28)


def test_pytest_benchmark_without_raw_timings_has_no_p95() -> None:
    report = parse_pytest_benchmark(json.dumps(pytest_benchmark_document(with_data=False)).encode())
    assert report.rows == (PerformanceRow("tests/test_perf.py::test_parse", pytest.approx(1.15), None, 10, False),)


def test_percentile_interpolates_between_closest_ranks() -> None:
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.5) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.95) == pytest.approx(4.8)


@pytest.mark.parametrize("seed", range(5))
def test_simulator_k6_summaries_parse_to_their_facts(seed: int) -> None:
    document, facts = ci_reports.benchmark_result(random.Random(seed), "ledger")
    report = parse_report(document, filename="k6-summary.json", context=CONTEXT)
    assert report.rows == (PerformanceRow("(all scenarios)", facts["p50_ms"], facts["p95_ms"], facts["requests"],
                                          False),)


def test_k6_handle_summary_shape_with_scenario_submetrics() -> None:
    def trend(med: float, p95: float | None) -> dict:
        values = {"avg": med * 1.1, "min": med / 3, "med": med, "max": med * 9, "p(90)": med * 2}
        if p95 is not None:
            values["p(95)"] = p95
        return {"type": "trend", "contains": "time", "values": values}

    document = {"metrics": {
        "http_req_duration": trend(40.0, 120.0),
        "http_req_duration{scenario:browse}": {**trend(30.0, 90.0), "thresholds": {"p(95)<200": {"ok": True}}},
        "http_req_duration{scenario:checkout}": trend(80.0, None),
        "http_req_duration{expected_response:true}": trend(39.0, 118.0),
        "http_reqs": {"type": "counter", "contains": "default", "values": {"count": 900, "rate": 15.0}},
        "http_reqs{scenario:browse}": {"type": "counter", "contains": "default", "values": {"count": 700, "rate": 11.7}},
    }, "root_group": {"name": "", "groups": [], "checks": []}, "options": {"summaryTrendStats": ["med", "p(95)"]}}
    report = parse_k6_summary(json.dumps(document).encode())
    assert report.rows == (PerformanceRow("(all scenarios)", 40.0, 120.0, 900, False),
                           PerformanceRow("browse", 30.0, 90.0, 700, False),
                           PerformanceRow("checkout", 80.0, None, None, False))


@pytest.mark.parametrize("document, reason", [
    ({"metrics": {"http_req_duration": {"avg": 3.0}}}, "has no 'med'"),
    ({"metrics": {"http_req_duration": {"med": -3.0}}}, "http_req_duration.med is negative"),
    ({"benchmarks": [{"name": "t", "stats": {"median": "fast", "rounds": 1}}]}, "stats.median is not a number"),
])
def test_invalid_performance_documents_are_refused(document: dict, reason: str) -> None:
    parse = parse_k6_summary if "metrics" in document else parse_pytest_benchmark
    with pytest.raises(InvalidReport, match=reason):
        parse(json.dumps(document).encode())
