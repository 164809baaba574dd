"""The quarterly OKR review: `kpi okr review --period 2026-Q4 [--team T]`.

Reads the published warehouse (read-only): okr_objectives, okr_key_results, okr_alignment
and kpi_scorecard. Prints a terminal summary and writes one self-contained HTML page (no
script, no CDN: it opens offline) under data/okr-review/: the objectives with their key
results' scores and statuses, the alignment tree, and each team's KPI scorecard with
points for the periods of the quarter.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

STATUS_COLOURS = {"on_track": "#1a7f37", "at_risk": "#9a6700", "off_track": "#cf222e", "no_data": "#6e7781",
                  "met": "#1a7f37", "not_met": "#9a6700", "missed": "#cf222e"}


class ReviewError(RuntimeError):
    """The review cannot be made (no published warehouse, unknown period or team)."""


@dataclass
class Review:
    period: str
    team: str | None
    objectives: list[dict[str, Any]]
    key_results: list[dict[str, Any]]
    alignment: list[dict[str, Any]]
    scorecard: list[dict[str, Any]]
    as_of: Any


def _rows(connection: duckdb.DuckDBPyConnection, sql: str, parameters: list) -> list[dict[str, Any]]:
    cursor = connection.execute(sql, parameters)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def load_review(published: Path, period: str, team: str | None = None) -> Review:
    if not published.exists():
        raise ReviewError(f"no published warehouse at {published}: run `make demo` or the kpi_nightly DAG first")
    with duckdb.connect(str(published), read_only=True) as connection:
        periods = [row[0] for row in connection.execute(
            "select distinct period from marts.okr_objectives order by 1").fetchall()]
        if period not in periods:
            raise ReviewError(f"no OKRs for period {period!r} in the published warehouse "
                              f"(periods: {', '.join(periods) or 'none'}); see config/okrs/")
        team_filter = "" if team is None else " and owner_team = ?"
        parameters = [period] + ([team] if team else [])
        objectives = _rows(connection, "select * from marts.okr_objectives where period = ?"
                           + team_filter + " order by objective_level, owner_team, objective_id", parameters)
        if team is not None and not objectives:
            teams = [row[0] for row in connection.execute(
                "select distinct owner_team from marts.okr_objectives where period = ? order by 1", [period]).fetchall()]
            raise ReviewError(f"team {team!r} has no objective in {period} (teams with OKRs: {', '.join(teams)})")
        ids = [objective["objective_id"] for objective in objectives]
        key_results = _rows(connection, "select * from marts.okr_key_results where objective_id in (select unnest(?)) "
                            "order by objective_id, key_result_id", [ids])
        alignment = _rows(connection, "select * from marts.okr_alignment where period = ? order by path", [period])
        bounds = objectives[0]["period_start"], objectives[0]["period_end"]
        teams = sorted({objective["owner_team"] for objective in objectives})
        scorecard = _rows(connection, "select * from marts.kpi_scorecard where team in (select unnest(?)) "
                          "and period_start >= ? and period_start < ? order by team, period_start, kpi_id",
                          [teams, *bounds])
        as_of = key_results[0]["as_of"] if key_results else None
    return Review(period, team, objectives, key_results, alignment, scorecard, as_of)


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "no data"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_review(review: Review, console: Any) -> None:
    from rich.table import Table

    console.print(f"[bold]OKR review {review.period}[/bold]" + (f" -- team {review.team}" if review.team else "")
                  + (f" (as of {review.as_of:%Y-%m-%d %H:%M} UTC)" if review.as_of else ""))
    by_objective: dict[str, list[dict]] = {}
    for key_result in review.key_results:
        by_objective.setdefault(key_result["objective_id"], []).append(key_result)
    for objective in review.objectives:
        table = Table(title=f"{objective['objective_id']}: {objective['title']} "
                            f"[{objective['objective_level']}, {objective['objective_type']}, {objective['owner_team']}] "
                            f"score {_fmt(objective['score'])} / {objective['success_threshold']:.1f} "
                            f"-- {objective['status']}", title_justify="left")
        for column in ("key result", "weight", "baseline", "target", "now", "score", "status"):
            table.add_column(column, justify="left" if column == "key result" else "right")
        for key_result in by_objective.get(objective["objective_id"], []):
            table.add_row(key_result["title"], _fmt(key_result["weight"]), _fmt(key_result["baseline"]),
                          _fmt(key_result["target"]), _fmt(key_result["current_value"]), _fmt(key_result["score"]),
                          key_result["status"])
        console.print(table)
    console.print("[bold]Alignment[/bold]")
    for row in review.alignment:
        console.print("  " * row["depth"] + f"- {row['objective_id']} ({row['owner_team']})")
    if review.scorecard:
        table = Table(title="KPI scorecard", title_justify="left")
        for column in ("team", "period", "kpi", "value", "status", "points", "total"):
            table.add_column(column)
        for row in review.scorecard:
            table.add_row(row["team"], f"{row['period_grain']} {row['period_start']}", row["kpi_id"],
                          _fmt(row["value"]), row["status"], str(row["points"]), str(row["total_points"]))
        console.print(table)


def _badge(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#6e7781")
    return f'<span class="badge" style="background:{colour}">{html.escape(status.replace("_", " "))}</span>'


def _bar(score: float | None) -> str:
    if score is None:
        return '<span class="muted">no data</span>'
    return (f'<span class="bar"><span style="width:{max(0.0, min(1.0, score)) * 100:.0f}%"></span></span> '
            f"{score:.2f}")


def render_html(review: Review) -> str:
    e = html.escape
    by_objective: dict[str, list[dict]] = {}
    for key_result in review.key_results:
        by_objective.setdefault(key_result["objective_id"], []).append(key_result)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>OKR review {e(review.period)}{' - ' + e(review.team) if review.team else ''}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328}table{border-collapse:collapse;"
        "margin:.5rem 0 1.5rem}td,th{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:right}"
        "td:first-child,th:first-child{text-align:left}.badge{color:#fff;border-radius:1rem;padding:.1rem .6rem;"
        "font-size:.85em}.bar{display:inline-block;width:6rem;height:.6rem;background:#eaeef2;border-radius:.3rem;"
        "vertical-align:middle}.bar span{display:block;height:100%;background:#0969da;border-radius:.3rem}"
        ".muted{color:#6e7781}ul.tree{list-style:none;padding-left:1.2rem}</style></head><body>",
        f"<h1>OKR review {e(review.period)}{' &mdash; team ' + e(review.team) if review.team else ''}</h1>",
        f"<p class='muted'>As of {e(str(review.as_of))} UTC. Scores 0&ndash;1; committed objectives succeed at "
        "1.0, aspirational ones at 0.7. Status compares a score with the elapsed share of the quarter.</p>",
        "<h2>Objectives</h2>",
    ]
    for objective in review.objectives:
        parts.append(f"<h3 id='{e(objective['objective_id'])}'>{e(objective['title'])} "
                     f"{_badge(objective['status'])}</h3>")
        parts.append(f"<p class='muted'>{e(objective['objective_id'])} &middot; {e(objective['objective_level'])} "
                     f"&middot; {e(objective['objective_type'])} &middot; team {e(objective['owner_team'])} &middot; "
                     f"score {_bar(objective['score'])} (success at {objective['success_threshold']:.1f})</p>")
        parts.append("<table><tr><th>key result</th><th>KPI</th><th>weight</th><th>baseline</th><th>target</th>"
                     "<th>now</th><th>score</th><th>status</th></tr>")
        for key_result in by_objective.get(objective["objective_id"], []):
            kpi = e(key_result["kpi_id"] or "manual")
            parts.append(f"<tr><td>{e(key_result['title'])}</td><td>{kpi}</td><td>{_fmt(key_result['weight'])}</td>"
                         f"<td>{_fmt(key_result['baseline'])}</td><td>{_fmt(key_result['target'])}</td>"
                         f"<td>{_fmt(key_result['current_value'])} {e(key_result['unit'] or '')}</td>"
                         f"<td>{_bar(key_result['score'])}</td><td>{_badge(key_result['status'])}</td></tr>")
        parts.append("</table>")
    parts.append("<h2>Alignment</h2><ul class='tree'>")
    for row in review.alignment:
        indent = "&nbsp;" * 4 * row["depth"]
        parts.append(f"<li>{indent}&#9492; <a href='#{e(row['objective_id'])}'>{e(row['objective_id'])}</a> "
                     f"<span class='muted'>{e(row['title'] or '')} ({e(row['owner_team'])})</span></li>")
    parts.append("</ul><h2>KPI scorecards</h2>")
    if not review.scorecard:
        parts.append("<p class='muted'>No scorecard rules for these teams (config/scorecards.yaml).</p>")
    else:
        parts.append("<table><tr><th>team</th><th>period</th><th>KPI</th><th>rule</th><th>value</th><th>status</th>"
                     "<th>points</th><th>team total</th></tr>")
        for row in review.scorecard:
            parts.append(f"<tr><td>{e(row['team'])}</td><td>{e(row['period_grain'])} {e(str(row['period_start']))}</td>"
                         f"<td>{e(row['kpi_id'])}</td><td>{e(row['rule'])}</td><td>{_fmt(row['value'])}</td>"
                         f"<td>{_badge(row['status'])}</td><td>{row['points']:+d}</td><td>{row['total_points']:+d}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_review(review: Review, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    name = review.period + (f"-{review.team}" if review.team else "") + ".html"
    target = out_dir / name
    target.write_text(render_html(review), encoding="utf-8")
    return target

