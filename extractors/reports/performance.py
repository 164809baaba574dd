"""Performance results: pytest-benchmark JSON and k6 end-of-test summaries, in milliseconds.

* pytest-benchmark (`--benchmark-json`): one row per benchmark, named by `fullname`
  (unique across test modules, unlike `name`). Its stats are seconds and hold no p95:
  with `--benchmark-save-data` the raw timings are in `stats.data`, and p50/p95 are
  computed from them (linear interpolation between closest ranks, the usual
  "inclusive" definition); without them p50 is the tool's `median`, p95 is None and
  `from_raw_samples` is False.
* k6 (`--summary-export` writes `metrics.<name>.{med, "p(95)", ...}`; a `handleSummary`
  JSON dump nests them under `metrics.<name>.values`): one row for
  `http_req_duration` named "(all scenarios)" (k6 scenario names cannot contain
  parentheses or spaces), and one per scenario submetric `http_req_duration{scenario:NAME}`
  (k6 only writes those when a threshold names them). k6 trend values are already
  milliseconds; its percentiles come from every sample, so p95 is None only when
  `summaryTrendStats` left it out. `samples` is the matching `http_reqs` count.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass
from typing import Any, ClassVar

from extractors.reports.errors import InvalidReport
from extractors.reports.sources import Source, count, load_json, open_source

ALL_SCENARIOS = "(all scenarios)"
_DURATION = "http_req_duration"
_SCENARIO_SUBMETRIC = re.compile(r"^(?P<metric>\w+)\{scenario:(?P<scenario>[^,{}]+)\}$")


@dataclass(frozen=True)
class PerformanceRow:
    name: str
    p50_ms: float
    p95_ms: float | None
    samples: int | None
    from_raw_samples: bool  # percentiles computed here from the raw timings, not taken from the tool


@dataclass(frozen=True)
class PerformanceReport:
    kind: ClassVar[str] = "performance"
    format: str  # "pytest-benchmark" or "k6"
    rows: tuple[PerformanceRow, ...]


def percentile(values: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default, statistics' "inclusive")."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def _duration(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidReport(f"{what} is not a number: {value!r}")
    if value < 0:
        raise InvalidReport(f"{what} is negative: {value!r}")
    return float(value)


def _benchmark_row(benchmark: Any, where: str) -> PerformanceRow:
    if not isinstance(benchmark, dict) or not isinstance(benchmark.get("stats"), dict):
        raise InvalidReport(f"{where} has no stats")
    stats = benchmark["stats"]
    name = benchmark.get("fullname") or benchmark.get("name")
    if not isinstance(name, str):
        raise InvalidReport(f"{where} has no name")
    data = stats.get("data")
    if isinstance(data, list) and data:
        seconds = [_duration(value, f"{where}.stats.data") for value in data]
        return PerformanceRow(name, statistics.median(seconds) * 1000, percentile(seconds, 0.95) * 1000,
                              len(seconds), from_raw_samples=True)
    rounds = stats.get("rounds")
    return PerformanceRow(name, _duration(stats.get("median"), f"{where}.stats.median") * 1000, None,
                          count(rounds, f"{where}.stats.rounds") if rounds is not None else None,
                          from_raw_samples=False)


def performance_from_pytest_benchmark(document: Any) -> PerformanceReport:
    benchmarks = document.get("benchmarks") if isinstance(document, dict) else None
    if not isinstance(benchmarks, list):
        raise InvalidReport("pytest-benchmark JSON needs a 'benchmarks' array")
    return PerformanceReport("pytest-benchmark",
                             tuple(_benchmark_row(benchmark, f"benchmarks[{index}]")
                                   for index, benchmark in enumerate(benchmarks)))


def _values(metric: Any) -> dict[str, Any]:
    """A metric's statistics in either k6 JSON shape."""
    if not isinstance(metric, dict):
        return {}
    return metric["values"] if isinstance(metric.get("values"), dict) else metric


def _k6_row(name: str, duration: Any, requests: Any, where: str) -> PerformanceRow:
    values = _values(duration)
    if "med" not in values:
        raise InvalidReport(f"{where} has no 'med' (add it to summaryTrendStats)")
    p95 = values.get("p(95)")
    request_count = _values(requests).get("count")
    return PerformanceRow(name, _duration(values["med"], f"{where}.med"),
                          _duration(p95, f"{where}.p(95)") if p95 is not None else None,
                          count(request_count, f"{where} request count") if request_count is not None else None,
                          from_raw_samples=False)


def performance_from_k6(document: Any) -> PerformanceReport:
    metrics = document.get("metrics") if isinstance(document, dict) else None
    if not isinstance(metrics, dict):
        raise InvalidReport("k6 summary needs a 'metrics' object")
    rows = []
    if _DURATION in metrics:
        rows.append(_k6_row(ALL_SCENARIOS, metrics[_DURATION], metrics.get("http_reqs"), _DURATION))
    for key, metric in metrics.items():
        match = _SCENARIO_SUBMETRIC.match(key)
        if match and match["metric"] == _DURATION:
            scenario = match["scenario"]
            rows.append(_k6_row(scenario, metric, metrics.get(f"http_reqs{{scenario:{scenario}}}"), key))
    if not rows:
        raise InvalidReport(f"k6 summary has no {_DURATION} metric")
    return PerformanceReport("k6", tuple(rows))


def parse_pytest_benchmark(source: Source) -> PerformanceReport:
    # One JSON object (machine_info, commit_info, benchmarks): loaded whole.
    with open_source(source) as stream:
        return performance_from_pytest_benchmark(load_json(stream))


def parse_k6_summary(source: Source) -> PerformanceReport:
    # One JSON object of a few kilobytes: loaded whole.
    with open_source(source) as stream:
        return performance_from_k6(load_json(stream))
