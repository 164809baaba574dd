"""The offline HTML dashboard: data/dashboard/index.html, rebuilt after each publish.

Reads only the published read-only warehouse (marts schema) and the KPI catalogue, and
writes one self-contained page: inline CSS, charts as inline SVG drawn here in Python, no
script and no URL of any kind (a Content-Security-Policy of `default-src 'none'` makes the
browser refuse anything external, should a value ever smuggle one in), so it opens from
disk offline. Every value from the data (team names, OKR titles) is HTML-escaped by the
template engine (Jinja2 with autoescape).

Sections: the organisation overview (teams, every objective's score and status in its
alignment tree, headline KPIs of the last complete month); then per team its objectives and
key results (each KPI key result links to that KPI's chart for the team), the scorecards
with points and totals, a weekly trend chart of every catalogue KPI, DORA levels per month,
the releases against plan, production bugs by severity per week, and test-coverage and
API-documentation trends per repository.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from kpi.catalogue import KpiCatalogue, load_catalogue

TEMPLATES = Path(__file__).parent / "templates"
PAGE = "index.html"
SCORECARD_PERIODS = 6  # the latest periods shown per scorecard: a quarter and a half of months
RELEASES_SHOWN = 40  # per team, latest planned first; a large org's full list would bury the page
SEVERITY_ORDER = ("critical", "blocker", "high", "major", "medium", "minor", "low", "trivial")
SEVERITY_PALETTE = ("#a40e26", "#cf222e", "#e16f24", "#d4a72c", "#8c959f", "#57606a")  # most severe first
PALETTE = ("#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#1b7c83", "#953800")


class DashboardError(RuntimeError):
    """The dashboard cannot be built (no published warehouse, a mart missing from it)."""


def dashboard_path(data_dir: Path) -> Path:
    """Where the nightly run writes the dashboard under the data directory."""
    return data_dir / "dashboard" / PAGE


# --------------------------------------------------------------------------- charts

@dataclass
class ChartPoint:
    x: float
    y: float
    label: str  # the tooltip (an SVG <title>): date, value, unit
    complete: bool = True


@dataclass
class ChartSeries:
    name: str
    colour: str
    paths: list[str]  # one SVG path per run of consecutive values (a gap where a week has none)
    points: list[ChartPoint]


@dataclass
class ChartBar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str


@dataclass
class Chart:
    """Geometry of one SVG chart, in the SVG's own units; the template only draws it."""

    width: int = 640
    height: int = 220
    left: int = 56
    right: int = 28  # room for the last date label, centred on the plot's right edge
    top: int = 12
    bottom: int = 30
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    series: list[ChartSeries] = field(default_factory=list)
    bars: list[ChartBar] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (colour, name)

    @property
    def plot_right(self) -> int:
        return self.width - self.right

    @property
    def plot_bottom(self) -> int:
        return self.height - self.bottom

    @property
    def marks(self) -> int:
        """Data marks drawn (points and bars): the browser test checks they are there."""
        return sum(len(series.points) for series in self.series) + len(self.bars)


def fmt(value: Any, unit: str = "") -> str:
    """A number for a person: thousands separated, a sensible number of decimals."""
    if value is None:
        return "no data"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        text = f"{value:,}"
    elif isinstance(value, float):
        magnitude = abs(value)
        if magnitude >= 100 or value.is_integer():
            text = f"{value:,.0f}"
        else:
            text = f"{value:.1f}" if magnitude >= 10 else f"{value:.2f}"
    elif isinstance(value, datetime):
        text = f"{value:%Y-%m-%d %H:%M}"
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
    return f"{text} {unit}".strip() if unit else text


def unit_label(unit: str) -> str:
    """A catalogue unit as written after a value: "percent" is %, a ratio has none."""
    return {"percent": "%", "ratio 0-1": ""}.get(unit, unit)


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round axis ticks covering [low, high], about `count` steps of 1, 2, 2.5 or 5 × 10^n."""
    if not math.isfinite(low) or not math.isfinite(high):
        raise ValueError(f"axis bounds must be finite numbers, got {low!r} and {high!r}")
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    start, stop = math.floor(low / step + 1e-9) * step, math.ceil(high / step - 1e-9) * step
    return [start + i * step for i in range(round((stop - start) / step) + 1)]


def _tick_label(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:g}"


def _date_ticks(days: list[date], scale_x, most: int = 6) -> list[tuple[float, str]]:
    if not days:
        return []
    every = max(1, math.ceil(len(days) / most))
    return [(scale_x(day), f"{day:%d %b}") for day in days[::every]]


def _y_axis(chart: Chart, values: list[float]) -> Any:
    ticks = nice_ticks(min(0.0, min(values)), max(values))  # a zero baseline: no exaggerated swings
    low, high = ticks[0], ticks[-1]
    span = chart.plot_bottom - chart.top

    def scale_y(value: float) -> float:
        return round(chart.plot_bottom - (value - low) / (high - low) * span, 2)

    chart.y_ticks = [(scale_y(tick), _tick_label(tick)) for tick in ticks]
    return scale_y


def line_chart(series: dict[str, list[tuple[date, float | None, bool]]], unit: str) -> Chart | None:
    """A line chart of one or more named series of (day, value or None, complete) points;
    None when no series has a single value (the page then says there is no data)."""
    chart = Chart()
    values = [value for points in series.values() for _, value, _ in points if value is not None]
    if not values:
        return None
    days = sorted({day for points in series.values() for day, value, _ in points if value is not None})
    first, last = days[0], days[-1]
    width = chart.plot_right - chart.left
    total_days = (last - first).days or 1

    def scale_x(day: date) -> float:
        if first == last:
            return round(chart.left + width / 2, 2)
        return round(chart.left + (day - first).days / total_days * width, 2)

    scale_y = _y_axis(chart, values)
    chart.x_ticks = _date_ticks(days, scale_x)
    for index, (name, points) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        paths, current, drawn = [], [], []
        for day, value, complete in sorted(points, key=lambda point: point[0]):
            if value is None:
                if current:
                    paths.append(current)
                current = []
                continue
            x, y = scale_x(day), scale_y(value)
            current.append((x, y))
            drawn.append(ChartPoint(x, y, f"{name}, {day:%Y-%m-%d}: {fmt(value, unit)}"
                                    + ("" if complete else " (period in progress)"), complete))
        if current:
            paths.append(current)
        if drawn:
            chart.series.append(ChartSeries(name, colour, [
                "M" + " L".join(f"{x},{y}" for x, y in run) for run in paths], drawn))
            chart.legend.append((colour, name))
    return chart


def stacked_bar_chart(stacks: dict[str, dict[date, int]], unit: str,
                      palette: tuple[str, ...] = PALETTE) -> Chart | None:
    """Bars per day (week), stacked by category in the given order; None without any value."""
    chart = Chart()
    days = sorted({day for counts in stacks.values() for day in counts})
    totals = [sum(counts.get(day, 0) for counts in stacks.values()) for day in days]
    if not days or max(totals) == 0:
        return None
    scale_y = _y_axis(chart, [float(total) for total in totals])
    slot = (chart.plot_right - chart.left) / len(days)
    bar_width = round(max(1.0, slot * 0.7), 2)

    def scale_x(day: date) -> float:
        return round(chart.left + slot * days.index(day) + (slot - bar_width) / 2, 2)

    chart.x_ticks = [(x + bar_width / 2, label) for x, label in _date_ticks(days, scale_x)]
    for index, (category, counts) in enumerate(stacks.items()):
        colour = palette[index % len(palette)]
        chart.legend.append((colour, category))
    base = {day: 0 for day in days}
    for (colour, category), counts in zip(chart.legend, stacks.values()):
        for day in days:
            count = counts.get(day, 0)
            if count:
                top, bottom = scale_y(base[day] + count), scale_y(base[day])
                chart.bars.append(ChartBar(scale_x(day), top, bar_width, round(bottom - top, 2), colour,
                                           f"week of {day:%Y-%m-%d}: {count} {category} {unit}"))
                base[day] += count
    return chart


# --------------------------------------------------------------------------- data

MARTS_READ = ("kpi_period", "kpi_scorecard", "dora_metrics", "fct_releases", "kpi_release_delay",
              "kpi_production_bugs", "kpi_test_coverage", "kpi_api_documentation", "okr_objectives",
              "okr_key_results", "okr_alignment", "dim_kpis")


def _rows(connection: duckdb.DuckDBPyConnection, sql: str, parameters: list | None = None) -> list[dict[str, Any]]:
    cursor = connection.execute(sql, parameters or [])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _slugs(teams: list[str]) -> dict[str, str]:
    """An HTML id part per team: team names come from users, ids must be unique and plain."""
    slugs: dict[str, str] = {}
    for team in teams:
        base = re.sub(r"[^a-z0-9]+", "-", team.lower()).strip("-") or "team"
        slug, n = base, 2
        while slug in slugs.values():
            slug, n = f"{base}-{n}", n + 1
        slugs[team] = slug
    return slugs


def _by(rows: list[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    grouped: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row[key], []).append(row)
    return grouped


def _severity_rank(severity: str | None) -> tuple[int, str]:
    name = (severity or "unknown").lower()
    return (SEVERITY_ORDER.index(name) if name in SEVERITY_ORDER else len(SEVERITY_ORDER), name)


def load_data(published: Path) -> dict[str, Any]:
    """Every row the page shows, read from the published warehouse opened read-only."""
    if not published.is_file():
        raise DashboardError(f"no published warehouse at {published}: run `kpi run`, `make demo` or the "
                             "kpi_nightly DAG first")
    with duckdb.connect(str(published), read_only=True) as connection:
        present = {row[0] for row in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()}
        missing = [name for name in MARTS_READ if name not in present]
        if missing:
            raise DashboardError(f"{published}: the published warehouse lacks marts.{', marts.'.join(missing)}; "
                                 "it was published by an older or failed build: run the pipeline again")
        publication = _rows(connection, "select run_id, published_at from meta.publication") \
            if "publication" in {row[0] for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = 'meta'").fetchall()} else []
        data = {
            "publication": publication[0] if publication else None,
            "weekly": _rows(connection, """
                select team, kpi_id, period_start, value, is_complete from marts.kpi_period
                where period_grain = 'week' and repository is null order by team, kpi_id, period_start"""),
            "monthly": _rows(connection, """
                select team, kpi_id, period_start, value from marts.kpi_period
                where period_grain = 'month' and repository is null and is_complete
                qualify period_start = max(period_start) over ()"""),
            "scorecard": _rows(connection, """
                select team, period_grain, period_start, is_complete, kpi_id, rule, description, value, status,
                       points, total_points, rules_met, rules_missed, rules_without_data
                from marts.kpi_scorecard order by team, period_grain, period_start, kpi_id, rule"""),
            "dora": _rows(connection, """
                select team, period_start, is_complete, deployments_per_day, deployment_frequency_level,
                       median_lead_time_hours, lead_time_level, change_failure_rate, change_failure_rate_level,
                       median_recovery_hours, recovery_time_level
                from marts.dora_metrics where period_grain = 'month' order by team, period_start desc"""),
            "releases": _rows(connection, """
                select team, source, container, release_name, planned_date, actual_date, is_released,
                       delay_days, is_on_time, status,
                       count(*) over (partition by team) as team_releases
                from marts.fct_releases
                qualify row_number() over (partition by team order by planned_date desc, release_key) <= ?
                order by team, planned_date desc, release_key""", [RELEASES_SHOWN]),
            "release_summary": _rows(connection, """
                select team, sum(releases_due) as releases_due, sum(on_time_releases) as on_time_releases,
                       sum(overdue_releases) as overdue_releases, sum(total_delay_days) as total_delay_days
                from marts.kpi_release_delay group by team"""),
            "bugs": _rows(connection, """
                select team, week_start, severity, bugs_opened from marts.kpi_production_bugs
                order by team, week_start"""),
            "coverage": _rows(connection, """
                select team, repository, week_start, line_coverage_percent as value from marts.kpi_test_coverage
                union all
                select distinct team, null, week_start, team_line_coverage_percent from marts.kpi_test_coverage
                order by team, week_start"""),
            "api_docs": _rows(connection, """
                select team, repository, week_start, documented_operations_percent as value
                from marts.kpi_api_documentation order by team, week_start"""),
            "objectives": _rows(connection, """
                select o.period, o.objective_id, o.title, o.objective_level, o.owner_team, o.parent_objective_id,
                       o.objective_type, o.key_results, o.key_results_with_data, o.score, o.success_threshold,
                       o.meets_success_threshold, o.expected_progress, o.status, o.aligned_children,
                       o.children_mean_score, a.depth, a.path, a.root_objective_id
                from marts.okr_objectives as o
                left join marts.okr_alignment as a using (period, objective_id)
                order by o.period desc, a.root_objective_id, a.path, o.objective_id"""),
            "key_results": _rows(connection, """
                select period, objective_id, key_result_id, title, team, weight, key_result_kind, kpi_id,
                       kpi_scope, repository, unit, baseline, target, current_value, progress, score,
                       expected_progress, status, latest_check_in_date
                from marts.okr_key_results order by period desc, objective_id, key_result_id"""),
            "kpi_names": {row["kpi_id"]: row for row in _rows(
                connection, "select kpi_id, kpi_name, unit, direction from marts.dim_kpis")},
        }
    return data


def build_context(data: dict[str, Any], catalogue: KpiCatalogue) -> dict[str, Any]:
    """What the template shows: the rows grouped per team, and the charts' geometry."""
    teams = sorted({row["team"] for row in data["weekly"]}
                   | {row["owner_team"] for row in data["objectives"]}
                   | {row["team"] for row in data["scorecard"]})
    slugs = _slugs(teams)
    kpis = catalogue.kpis
    weekly = {(team, kpi_id): rows for (team, kpi_id), rows in _group_pairs(data["weekly"]).items()}
    monthly = {(row["team"], row["kpi_id"]): row for row in data["monthly"]}
    objectives_by_id = {(row["period"], row["objective_id"]): row for row in data["objectives"]}
    key_results = _by(data["key_results"], "objective_id")
    latest_month = data["monthly"][0]["period_start"] if data["monthly"] else None

    def anchor(team: str, kpi_id: str) -> str:
        return f"kpi-{slugs.get(team, 'team')}--{kpi_id}"

    team_sections = []
    for team in teams:
        charts = []
        for kpi in kpis:
            rows = weekly.get((team, kpi.id), [])
            chart = line_chart({kpi.name: [(row["period_start"], row["value"], row["is_complete"]) for row in rows]},
                               unit_label(kpi.unit))
            charts.append({"kpi": kpi, "anchor": anchor(team, kpi.id), "chart": chart,
                           "weeks": len(rows), "latest": next((r for r in reversed(rows) if r["value"] is not None),
                                                               None)})
        scorecards = []
        for grain, rows in _by([r for r in data["scorecard"] if r["team"] == team], "period_grain").items():
            periods = sorted({row["period_start"] for row in rows})[-SCORECARD_PERIODS:]
            cells = {(row["kpi_id"], row["rule"], row["period_start"]): row for row in rows}
            rules = list(dict.fromkeys((row["kpi_id"], row["rule"], row["description"]) for row in rows))
            totals = {row["period_start"]: row for row in rows}
            scorecards.append({"grain": grain, "periods": periods, "rules": rules, "cells": cells,
                               "totals": totals})
        bugs: dict[str, dict[date, int]] = {}
        for row in sorted((r for r in data["bugs"] if r["team"] == team), key=lambda r: _severity_rank(r["severity"])):
            severity = row["severity"] or "unknown"
            counts = bugs.setdefault(severity, {})
            counts[row["week_start"]] = counts.get(row["week_start"], 0) + (row["bugs_opened"] or 0)
        team_sections.append({
            "name": team, "slug": slugs[team], "charts": charts,
            "objectives": [row for row in data["objectives"] if row["owner_team"] == team],
            "scorecards": scorecards,
            "dora": [row for row in data["dora"] if row["team"] == team],
            "releases": [row for row in data["releases"] if row["team"] == team],
            "release_summary": next((row for row in data["release_summary"] if row["team"] == team), None),
            "bugs_chart": stacked_bar_chart(bugs, "production bugs opened", SEVERITY_PALETTE),
            "coverage_chart": line_chart(_repository_series(data["coverage"], team, "team (all repositories)"),
                                         "%"),
            "api_docs_chart": line_chart(_repository_series(data["api_docs"], team, None), "%"),
        })
    return {
        "publication": data["publication"],
        "teams": team_sections,
        "kpis": kpis,
        "objectives": data["objectives"],
        "objectives_by_id": objectives_by_id,
        "key_results": key_results,
        "headline": {"month": latest_month, "values": monthly},
        "dora_latest": {team: next((row for row in data["dora"] if row["team"] == team and row["is_complete"]), None)
                        for team in teams},
        "scorecard_latest": {team: _latest_total(data["scorecard"], team) for team in teams},
        "anchor": anchor,
        "slugs": slugs,
    }


def _group_pairs(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault((row["team"], row["kpi_id"]), []).append(row)
    return grouped


def _repository_series(rows: list[dict[str, Any]], team: str, team_label: str | None) -> dict[str, list]:
    """One series per repository (and the team's own line, named `team_label`)."""
    series: dict[str, list] = {}
    for row in rows:
        if row["team"] != team or (row["repository"] is None and team_label is None):
            continue
        name = row["repository"] if row["repository"] is not None else team_label
        series.setdefault(name, []).append((row["week_start"], row["value"], True))
    return dict(sorted(series.items(), key=lambda item: (item[0] != team_label, item[0])))


def _latest_total(rows: list[dict[str, Any]], team: str) -> list[dict[str, Any]]:
    """Per scorecard grain, the team's total of its latest complete period."""
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["team"] == team and row["is_complete"]:
            if row["period_grain"] not in latest or row["period_start"] > latest[row["period_grain"]]["period_start"]:
                latest[row["period_grain"]] = row
    return list(latest.values())


# --------------------------------------------------------------------------- page

STATUS_COLOURS = {"on_track": "#1a7f37", "at_risk": "#9a6700", "off_track": "#cf222e", "no_data": "#6e7781",
                  "met": "#1a7f37", "not_met": "#9a6700", "missed": "#cf222e", "on_time": "#1a7f37",
                  "early": "#1a7f37", "late": "#cf222e", "overdue": "#cf222e", "elite": "#1a7f37", "high": "#0969da",
                  "medium": "#9a6700", "low": "#cf222e"}


def _environment() -> Environment:
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    environment.filters["fmt"] = fmt
    environment.filters["unit_label"] = unit_label
    environment.globals["status_colour"] = lambda status: STATUS_COLOURS.get(status or "", "#6e7781")
    return environment


def render_dashboard(data: dict[str, Any], catalogue: KpiCatalogue | None = None) -> str:
    context = build_context(data, catalogue or load_catalogue())
    return _environment().get_template("dashboard.html.j2").render(**context)


def build_dashboard(published: Path, out_dir: Path, catalogue: KpiCatalogue | None = None) -> Path:
    """Write out_dir/index.html from the published warehouse. The page is written beside
    the old one and renamed over it, so a reader never sees half a page."""
    page = render_dashboard(load_data(published), catalogue)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / PAGE
    handle, temporary = tempfile.mkstemp(prefix=".index.", suffix=".html.tmp", dir=out_dir)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(page)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the page is for every reader
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
