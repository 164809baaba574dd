"""`kpi okr review`: the quarterly review from the published warehouse (the small org run)."""

from __future__ import annotations

import html
import re

import pytest
from typer.testing import CliRunner

from kpi.cli import app
from kpi.okr_review import ReviewError, load_review, render_html
from tests.support.small_warehouse import query


@pytest.fixture(scope="module")
def published(small_warehouse):
    return small_warehouse["config"].published_warehouse


def test_the_review_page_shows_every_objective_its_key_results_alignment_and_scorecard(published):
    review = load_review(published, "2026-Q4")
    page = render_html(review)
    objectives = query(published, "select objective_id, title, status from marts.okr_objectives where period = '2026-Q4'")
    key_results = query(published, "select title, status from marts.okr_key_results where period = '2026-Q4'")
    assert objectives and key_results
    for objective in objectives:
        assert f"id='{objective['objective_id']}'" in page and html.escape(objective["title"]) in page
    for key_result in key_results:
        assert html.escape(key_result["title"]) in page
    assert "Alignment" in page and "href='#payments-share-knowledge'" in page
    scorecard = [row for row in review.scorecard if row["period_grain"] == "month"]
    assert scorecard, "the demo teams' monthly scorecards fall in the quarter"
    assert f"{scorecard[0]['total_points']:+d}" in page
    # self-contained: no script and no address outside the page (it opens offline)
    assert "<script" not in page and not re.search(r"(src|href)=['\"]https?://", page)
    assert "<td>lead_time_for_changes</td>" in page  # a KPI key result names its KPI


def test_a_team_review_holds_only_that_team(published):
    review = load_review(published, "2026-Q4", team="growth")
    assert {objective["owner_team"] for objective in review.objectives} == {"growth"}
    assert {row["team"] for row in review.scorecard} <= {"growth"}


def test_an_unknown_period_or_team_is_an_error_naming_what_exists(published):
    with pytest.raises(ReviewError, match="no OKRs for period '2031-Q1'.*2026-Q4"):
        load_review(published, "2031-Q1")
    with pytest.raises(ReviewError, match="team 'nobody' has no objective in 2026-Q4"):
        load_review(published, "2026-Q4", team="nobody")


def test_the_cli_prints_the_summary_and_writes_the_page(small_warehouse, monkeypatch):
    config = small_warehouse["config"]
    monkeypatch.setenv("KPI_DATA_DIR", str(config.data_dir))
    result = CliRunner().invoke(app, ["okr", "review", "--period", "2026-Q4", "--team", "payments"])
    assert result.exit_code == 0, result.output
    assert "payments-delivery-efficiency" in result.output and "KPI scorecard" in result.output
    page = config.data_dir / "okr-review" / "2026-Q4-payments.html"
    assert page.is_file() and "Raise software delivery efficiency" in page.read_text()
