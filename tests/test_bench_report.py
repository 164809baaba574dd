"""The pipeline benchmark's report: targets decide pass/fail, the markdown table has one
row per figure, the change against the previous result is computed per figure, and the
previous result is the newest one of the same scale."""

from __future__ import annotations

import json
import os

import pytest

from benchmarks.report import changes, figure, markdown_table, previous_result


def _result(day: str, ratio: float, full_seconds: float, incremental_seconds: float | None) -> dict:
    figures = {
        "requests_over_floor_full": figure("requests / floor, full sync", ratio, "×", "requests_over_floor_full"),
        "dbt_full_build_seconds": figure("full dbt build", full_seconds, "s", "dbt_full_build_seconds"),
        "records_per_second_loaded": figure("records/s loaded", 15000, "records/s"),
    }
    if incremental_seconds is not None:
        figures["incremental_to_full_ratio"] = figure(
            "incremental / full build", round(incremental_seconds / full_seconds, 3), "", "incremental_to_full_ratio")
    return {"scale": "small", "date": day, "seed": 7, "anchor": f"{day}T00:00:00+00:00", "commit": "abc1234",
            "cpus": 2, "status": "complete", "figures": figures}


def test_targets_decide_pass_and_fail_and_figures_without_a_target_have_no_verdict():
    assert figure("r", 1.0018, "×", "requests_over_floor_full")["pass"] is True
    assert figure("r", 1.06, "×", "requests_over_floor_full")["pass"] is False
    assert figure("q", 2, "", "quiet_night_max_requests_per_stream_scope")["pass"] is False
    assert figure("x", 5, "records/s")["pass"] is None
    unmeasured = figure("dag", None, "s", "dag_seconds", note="not measured on large: why")
    assert unmeasured["pass"] is None and unmeasured["target"].startswith("≤ 3 minutes")


def test_the_markdown_table_has_one_row_per_figure_with_its_target_and_verdict():
    result = _result("2026-12-03", 1.07, 40.0, 30.0)
    result["figures"]["dag_seconds"] = figure("end-to-end DAG", None, "s", "dag_seconds", note="not measured on large")
    table = markdown_table(result)
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith(("| figure", "| ---"))]
    assert len(rows) == len(result["figures"])
    assert "| requests / floor, full sync | 1.07 × | ≤ 1.05 × the floor | **FAIL** |" in rows
    assert "| incremental / full build | 0.75 | ≤ 20 % of the full build | **FAIL** |" in rows
    assert "| records/s loaded | 15,000 records/s | – | – |" in rows
    assert "| end-to-end DAG | not measured (not measured on large) | ≤ 3 minutes (`make demo` pipeline part) | – |" in rows


def test_changes_give_each_figure_its_previous_value_and_relative_change():
    previous = {**_result("2026-12-01", 1.07, 50.0, None), "file": "2026-12-01-small.json"}
    current = _result("2026-12-03", 1.0018, 40.0, 6.0)
    lines = changes(previous, current)
    assert lines[0] == "change against 2026-12-01-small.json:"
    assert "  requests / floor, full sync: 1.07 × -> 1.0018 × (-0.0682, -6.4%) (now passes)" in lines
    assert "  full dbt build: 50.0 s -> 40.0 s (-10.0, -20.0%)" in lines
    assert "  records/s loaded: 15,000 records/s -> 15,000 records/s (+0, +0.0%)" in lines
    assert "  incremental / full build: 0.15 (new figure)" in lines
    assert changes(None, current) == ["no previous result of this scale to compare with"]


def test_the_previous_result_is_the_newest_of_the_same_scale_not_other_benchmarks(tmp_path):
    def write(name: str, result: dict, mtime: int) -> None:
        path = tmp_path / name
        path.write_text(json.dumps(result))
        os.utime(path, (mtime, mtime))

    write("2026-11-20-small.json", _result("2026-11-20", 1.1, 60.0, None), 1)
    write("2026-11-26-github-small.json", {"records": 1}, 2)  # another benchmark's file
    write("2026-11-30-small-dbt.json", _result("2026-11-30", 1.1, 55.0, 9.0), 3)
    write("2026-12-01-medium.json", _result("2026-12-01", 1.0, 70.0, None), 4)
    write("2026-12-09-small.json", _result("2026-12-09", 1.0, 10.0, None), 5)  # newer than the run
    assert previous_result(tmp_path, "small", "2026-12-03")["file"] == "2026-11-30-small-dbt.json"
    write("2026-12-03-small.json", _result("2026-12-03", 1.0, 45.0, None), 6)  # an earlier run today
    assert previous_result(tmp_path, "small", "2026-12-03")["file"] == "2026-12-03-small.json"
    assert previous_result(tmp_path, "large", "2026-12-03") is None


def test_a_result_file_that_is_not_a_result_is_named_in_the_error(tmp_path):
    (tmp_path / "2026-12-01-small.json").write_text("{not json")
    with pytest.raises(ValueError, match="2026-12-01-small.json: not a readable result file"):
        previous_result(tmp_path, "small", "2026-12-03")
    (tmp_path / "2026-12-01-small.json").write_text("[]")
    with pytest.raises(ValueError, match="holds a JSON object with 'figures'"):
        previous_result(tmp_path, "small", "2026-12-03")
