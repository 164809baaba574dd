"""The offline HTML dashboard (kpi/dashboard.py): built from the small org's published
warehouse (the session's pipeline run, never run again here), checked as HTML and in
headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import shutil
import stat
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from kpi.catalogue import load_catalogue
from kpi.cli import app
from kpi.dashboard import DashboardError, build_dashboard, dashboard_path, nice_ticks
from kpi.pipeline import build_dashboard as nightly_dashboard
from tests.support.small_warehouse import query

HOSTILE_TEAM = '<script>alert("team")</script> & <b>co</b>'
HOSTILE_TITLE = "<img src=x onerror=alert(1)> ship \"faster\""


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parsed(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    return tags


@pytest.fixture(scope="module")
def published(small_warehouse) -> Path:
    return small_warehouse["config"].published_warehouse


@pytest.fixture(scope="module")
def built(published, tmp_path_factory) -> Path:
    return build_dashboard(published, tmp_path_factory.mktemp("dashboard"))


def writable_copy(published: Path, target: Path) -> Path:
    shutil.copy(published, target)
    target.chmod(target.stat().st_mode | stat.S_IWUSR)  # the published file is read-only
    return target


def test_the_pipeline_run_wrote_the_dashboard_of_what_it_published(small_warehouse, built):
    nightly = dashboard_path(small_warehouse["config"].data_dir)
    assert nightly.read_text(encoding="utf-8") == built.read_text(encoding="utf-8")


def test_dashboard_loads_nothing_from_outside_the_page(built):
    page = built.read_text(encoding="utf-8")
    tags = parsed(page)
    assert not [attrs for _, attrs in tags.tags if "src" in attrs]
    assert {tag for tag, _ in tags.tags}.isdisjoint({"script", "iframe", "object", "embed", "img", "base"})
    links = [attrs["href"] for _, attrs in tags.tags if "href" in attrs]
    assert links and all(href.startswith("#") or href == "data:," for href in links), \
        [href for href in links if not href.startswith("#")]
    for scheme in ("http:", "https:", "ftp:", "file:", "//", "url(", "@import"):
        assert scheme not in page, scheme
    policy = next(attrs["content"] for tag, attrs in tags.tags if attrs.get("http-equiv") == "Content-Security-Policy")
    assert policy.startswith("default-src 'none'")  # the browser itself refuses anything external


def test_every_anchor_of_the_page_has_its_target(built):
    tags = parsed(built.read_text(encoding="utf-8"))
    ids = [attrs["id"] for _, attrs in tags.tags if "id" in attrs]
    assert len(ids) == len(set(ids)), "duplicate ids"
    targets = {attrs["href"][1:] for _, attrs in tags.tags if attrs.get("href", "").startswith("#")}
    assert targets - set(ids) == set()


def test_hostile_team_names_and_titles_are_escaped(published, tmp_path):
    copy = writable_copy(published, tmp_path / "hostile.duckdb")
    with duckdb.connect(str(copy)) as connection:
        for table, column in connection.execute(
                "select table_name, column_name from information_schema.columns where table_schema = 'marts' "
                "and column_name in ('team', 'owner_team')").fetchall():
            connection.execute(f"update marts.{table} set {column} = ? where {column} = 'growth'", [HOSTILE_TEAM])
        connection.execute("update marts.okr_objectives set title = ? where objective_id = 'acme-ship-reliably'",
                           [HOSTILE_TITLE])
    page = build_dashboard(copy, tmp_path / "out").read_text(encoding="utf-8")
    tags = parsed(page)
    assert HOSTILE_TEAM not in page and HOSTILE_TITLE not in page
    assert "&lt;script&gt;alert(&#34;team&#34;)&lt;/script&gt; &amp; &lt;b&gt;co&lt;/b&gt;" in page
    assert {tag for tag, _ in tags.tags}.isdisjoint({"script", "img", "b"})
    assert not [attrs for _, attrs in tags.tags if any(name.startswith("on") for name in attrs)]
    assert HOSTILE_TEAM in "".join(tags.text) and HOSTILE_TITLE in "".join(tags.text)  # shown, as text
    assert f'data-team="{HOSTILE_TEAM}"' not in page


def test_a_kpi_without_data_says_so_instead_of_drawing_an_empty_chart(published, tmp_path):
    copy = writable_copy(published, tmp_path / "gap.duckdb")
    with duckdb.connect(str(copy)) as connection:
        connection.execute("update marts.kpi_period set value = null "
                           "where team = 'payments' and kpi_id = 'security_alerts'")
    catalogue = load_catalogue()
    planned = catalogue.kpis[0].model_copy(update={"id": "flaky_test_rate", "name": "Flaky test rate",
                                                    "status": "planned"})
    catalogue = catalogue.model_copy(update={"kpis": [*catalogue.kpis, planned]})
    page = build_dashboard(copy, tmp_path / "out", catalogue).read_text(encoding="utf-8")

    def figure(anchor: str) -> str:
        start = page.index(f'id="{anchor}"')
        return page[start:page.index("</figure>", start)]

    emptied = figure("kpi-payments--security_alerts")
    assert "<svg" not in emptied
    assert "No data: payments has no Open security alerts value in the published warehouse (15 weeks, none with " \
           "a value)" in emptied
    assert "No data: growth has no Flaky test rate value" in figure("kpi-growth--flaky_test_rate")
    assert "<svg" in figure("kpi-growth--security_alerts")  # the other teams keep their chart


def test_a_night_that_published_nothing_keeps_the_dashboard_as_it_was(small_warehouse, data_dir):
    config = small_warehouse["config"]  # its data_dir is now the test's ($KPI_DATA_DIR)
    page = dashboard_path(data_dir)
    page.parent.mkdir(parents=True)
    page.write_text("yesterday's dashboard")
    outcome = nightly_dashboard(config, {"published": False, "blockers": ["scope github:acme/x failed"]})
    assert outcome == {"built": False, "reason": "nothing published tonight"}
    assert page.read_text() == "yesterday's dashboard"


def test_rebuilding_replaces_the_page_whole_and_leaves_no_temporary_file(published, tmp_path):
    out = tmp_path / "dashboard"
    out.mkdir()
    (out / "index.html").write_text("old page")
    with (out / "index.html").open(encoding="utf-8") as reader:  # a reader in mid-read
        build_dashboard(published, out)
        assert reader.read() == "old page"  # still the whole old file: a rename, not a rewrite
    assert sorted(path.name for path in out.iterdir()) == ["index.html"]
    assert (out / "index.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert oct((out / "index.html").stat().st_mode & 0o777) == "0o644"


def test_a_missing_mart_or_warehouse_is_named_and_the_old_page_kept(published, tmp_path):
    with pytest.raises(DashboardError, match=f"no published warehouse at {tmp_path / 'none.duckdb'}: run `kpi run`"):
        build_dashboard(tmp_path / "none.duckdb", tmp_path / "out")
    copy = writable_copy(published, tmp_path / "old.duckdb")
    with duckdb.connect(str(copy)) as connection:
        connection.execute("drop table marts.kpi_scorecard")
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("old page")
    with pytest.raises(DashboardError, match=r"lacks marts\.kpi_scorecard"):
        build_dashboard(copy, out)
    assert (out / "index.html").read_text() == "old page"


def test_axis_ticks_are_round_and_cover_the_values():
    assert nice_ticks(0, 13) == [0, 5, 10, 15]
    assert nice_ticks(0, 0.27) == [0, 0.1, 0.2, 0.30000000000000004]
    assert nice_ticks(0, 0) == [0, 0.25, 0.5, 0.75, 1.0]  # a flat zero line still gets an axis
    with pytest.raises(ValueError, match="finite"):
        nice_ticks(0, float("nan"))


def test_kpi_dashboard_prints_the_path_and_says_how_to_get_one(data_dir, published):
    runner = CliRunner()
    missing = runner.invoke(app, ["dashboard"])
    assert missing.exit_code == 1
    assert f"no dashboard at {data_dir / 'dashboard' / 'index.html'}: run `kpi run`, `make demo`" in missing.output
    (data_dir / "published").mkdir(parents=True)
    shutil.copy(published, data_dir / "published" / "warehouse.duckdb")
    built = runner.invoke(app, ["dashboard", "--build"])
    assert built.exit_code == 0, built.output
    assert built.output.strip() == str(data_dir / "dashboard" / "index.html")
    assert (data_dir / "dashboard" / "index.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert "--open" in runner.invoke(app, ["dashboard", "--help"]).output


# --------------------------------------------------------------------------- in Chromium

@pytest.fixture(scope="module")
def chromium():
    from tests.support.chromium import chromium_executable

    return chromium_executable()


def test_dashboard_in_headless_chromium_renders_every_kpi_chart_and_okr(published, built, chromium, tmp_path):
    from playwright.sync_api import sync_playwright

    from tests.support.chromium import CHROMIUM_ARGS

    weekly = query(published, "select team, kpi_id, count(value) as points from marts.kpi_period "
                              "where period_grain = 'week' and repository is null group by all")
    points = {(row["team"], row["kpi_id"]): row["points"] for row in weekly}
    teams = sorted({row["team"] for row in weekly})
    objectives = query(published, "select objective_id, title from marts.okr_objectives")
    key_results = query(published, "select key_result_id, title, team, kpi_id from marts.okr_key_results")
    assert len(teams) == 3 and len(objectives) == 7 and all(points[(t, "deployment_frequency")] for t in teams)

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda message: message.type in ("error", "warning") and problems.append(
                f"console {message.type}: {message.text}"))
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("request", lambda request: request.url.startswith("file:") or problems.append(
                f"request to {request.url}"))
            page.goto(built.resolve().as_uri(), wait_until="load")

            charts = page.evaluate("""() => [...document.querySelectorAll('figure.kpi-chart')].map(figure => {
                const svg = figure.querySelector('svg.chart'), box = svg && svg.getBoundingClientRect();
                const circle = figure.querySelector('circle.point');
                return {team: figure.dataset.team, kpi: figure.dataset.kpi,
                        svg: box ? [Math.round(box.width), Math.round(box.height)] : null,
                        points: figure.querySelectorAll('circle.point').length,
                        pointWidth: circle ? circle.getBoundingClientRect().width : 0,
                        noData: figure.querySelector('.no-data') !== null};
            })""")
            catalogue = [kpi.id for kpi in load_catalogue().kpis]
            assert sorted((chart["team"], chart["kpi"]) for chart in charts) == sorted(
                (team, kpi_id) for team in teams for kpi_id in catalogue)
            for chart in charts:
                expected = points.get((chart["team"], chart["kpi"]), 0)
                if expected:  # drawn, with one mark per week that has a value
                    assert chart["svg"][0] > 300 and chart["svg"][1] > 100, chart
                    assert chart["points"] == expected and chart["pointWidth"] > 0 and not chart["noData"], chart
                else:
                    assert chart["svg"] is None and chart["noData"], chart
            for team in teams:
                assert page.locator(f'section.team[data-team="{team}"] .bugs-chart rect.bar-mark').count() > 0

            shown = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
                '[data-objective-id], [data-key-result-id]')].filter(element => element.checkVisibility()).map(
                element => [element.dataset.objectiveId || element.dataset.keyResultId, element.innerText]))""")
            for okr in [*objectives, *key_results]:  # every objective and key result, with its title
                okr_id = okr.get("objective_id") or okr["key_result_id"]
                assert okr["title"] in shown.get(okr_id, ""), okr_id

            linked = next(kr for kr in key_results if kr["kpi_id"] and kr["team"] != teams[0])
            page.locator(f'[data-key-result-id="{linked["key_result_id"]}"] a.kpi-link').click()
            target = page.evaluate("""() => {
                const element = document.getElementById(decodeURIComponent(location.hash.slice(1)));
                const box = element.getBoundingClientRect();
                return {kpi: element.dataset.kpi, team: element.dataset.team,
                        inView: box.top >= 0 && box.top < window.innerHeight};
            }""")
            assert target == {"kpi": linked["kpi_id"], "team": linked["team"], "inView": True}

            screenshot = tmp_path / "dashboard.png"
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert problems == []
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 100_000
