"""Ground truth for deployment frequency, checked against numbers computed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

from simulator.generator import generate_org
from simulator.model import Deployment, DeploymentStatus, Org, Repository, Team
from simulator.truth import deployment_frequency, production_deployments, week_start


def at(day: int, hour: int = 10, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def deployment(id: int, repo: str, environment: str, created: datetime, *states: tuple[str, datetime]) -> Deployment:
    statuses = [DeploymentStatus(id=id * 10 + i, state=state, created_at=when) for i, (state, when) in enumerate(states)]
    return Deployment(id=id, repo=repo, sha="a" * 40, ref="main", environment=environment, created_at=created,
                      updated_at=max([created] + [when for _, when in states]), creator="bot", statuses=statuses)


def tiny_org() -> Org:
    """Two teams; weeks of 2026-03-02, 03-09 (no deployments: gap) and 03-16."""
    repos = [
        Repository(id=1, owner="tiny", name="api", full_name="tiny/api", team="alpha", default_branch="main",
                   created_at=at(1, month=1)),
        Repository(id=2, owner="tiny", name="web", full_name="tiny/web", team="beta", default_branch="main",
                   created_at=at(1, month=1)),
    ]
    api_deployments = [
        # Monday 2 March: success after queued/in_progress
        deployment(1, "tiny/api", "production", at(2), ("queued", at(2, 10)), ("in_progress", at(2, 11)),
                   ("success", at(2, 12))),
        # Wednesday 4 March: failure
        deployment(2, "tiny/api", "production", at(4), ("in_progress", at(4, 11)), ("failure", at(4, 12))),
        # Sunday 8 March, 23:00 UTC: still the week of 2 March; error
        deployment(3, "tiny/api", "production", at(8, 23), ("error", at(8, 23))),
        # Staging never counts
        deployment(4, "tiny/api", "staging", at(10), ("success", at(10, 11))),
        # Monday 16 March: still in progress => pending (counted, neither successful nor failed)
        deployment(5, "tiny/api", "production", at(16), ("queued", at(16, 10)), ("in_progress", at(16, 11))),
    ]
    web_deployments = [
        # Same timestamp for two statuses: the higher id wins
        deployment(6, "tiny/web", "production", at(3), ("failure", at(3, 12)), ("success", at(3, 12))),
        # Statuses listed out of order: the latest by created_at wins
        deployment(7, "tiny/web", "production", at(17), ("success", at(17, 12)), ("queued", at(17, 11))),
        # No status at all => pending
        deployment(8, "tiny/web", "production", at(18)),
        deployment(9, "tiny/web", "preview-42", at(18), ("success", at(18, 11))),
    ]
    return Org(
        login="tiny",
        teams=[Team("alpha", ["ann-alpha"], ["api"]), Team("beta", ["bo-beta"], ["web"])],
        repositories=repos,
        pull_requests={"tiny/api": [], "tiny/web": []},
        deployments={"tiny/api": api_deployments, "tiny/web": web_deployments},
        anchor=at(20),
        seed=0,
        scale="tiny",
    )


def row(team: str, week: date, deployments: int, successful: int, failed: int) -> dict:
    return {"team": team, "week_start": week, "deployments": deployments,
            "successful_deployments": successful, "failed_deployments": failed}


def test_deployment_frequency_matches_hand_computed_rows_with_zero_filled_gap_week() -> None:
    rows = deployment_frequency(tiny_org())
    assert rows == [
        row("alpha", date(2026, 3, 2), 3, 1, 2),
        row("alpha", date(2026, 3, 9), 0, 0, 0),
        row("alpha", date(2026, 3, 16), 1, 0, 0),
        row("beta", date(2026, 3, 2), 1, 1, 0),
        row("beta", date(2026, 3, 9), 0, 0, 0),
        row("beta", date(2026, 3, 16), 2, 1, 0),
    ]


def test_production_environments_are_configurable() -> None:
    rows = deployment_frequency(tiny_org(), production_environments=("production", "staging"))
    alpha_gap_week = next(r for r in rows if r["team"] == "alpha" and r["week_start"] == date(2026, 3, 9))
    assert alpha_gap_week == row("alpha", date(2026, 3, 9), 1, 1, 0)


def test_production_deployments_lists_each_deployment_with_its_result() -> None:
    results = {(r["repo"], r["id"]): (r["team"], r["result"]) for r in production_deployments(tiny_org())}
    assert results == {
        ("tiny/api", 1): ("alpha", "successful"), ("tiny/api", 2): ("alpha", "failed"),
        ("tiny/api", 3): ("alpha", "failed"), ("tiny/api", 5): ("alpha", "pending"),
        ("tiny/web", 6): ("beta", "successful"), ("tiny/web", 7): ("beta", "successful"),
        ("tiny/web", 8): ("beta", "pending"),
    }


def test_week_start_is_the_iso_monday_in_utc() -> None:
    assert week_start(datetime(2026, 3, 8, 23, 59, tzinfo=UTC)) == date(2026, 3, 2)
    assert week_start(datetime(2026, 3, 9, 0, 0, tzinfo=UTC)) == date(2026, 3, 9)
    assert week_start(datetime(2021, 1, 3, 12, tzinfo=UTC)) == date(2020, 12, 28)  # ISO week 53


def test_no_production_deployments_gives_no_rows() -> None:
    org = tiny_org()
    assert deployment_frequency(org, production_environments=("nowhere",)) == []


def test_generated_org_truth_covers_every_team_and_week() -> None:
    org = generate_org("small", seed=3, anchor=datetime(2026, 11, 26, tzinfo=UTC))
    rows = deployment_frequency(org)
    teams = sorted({r["team"] for r in rows})
    weeks = sorted({r["week_start"] for r in rows})
    assert teams == ["growth", "payments", "platform"]
    assert len(rows) == len(teams) * len(weeks)
    assert rows == sorted(rows, key=lambda r: (r["team"], r["week_start"]))
    production = [d for d in org.all_deployments() if d.environment == "production"]
    assert sum(r["deployments"] for r in rows) == len(production)
    assert all(r["successful_deployments"] + r["failed_deployments"] <= r["deployments"] for r in rows)
