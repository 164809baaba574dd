"""The synthetic organisation is deterministic, realistic and internally consistent."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime

import pytest

from simulator.generator import SCALES, generate_org
from simulator.github_api import ApiRequest, GitHubApi
from simulator.model import Org

ANCHOR = datetime(2026, 11, 26, tzinfo=UTC)
SMALL_TEAMS = {
    "payments": ["payments-api", "billing-service", "ledger"],
    "platform": ["platform-core", "deploy-tools", "observability"],
    "growth": ["web-app", "mobile-app"],
}


@pytest.fixture(scope="module")
def org() -> Org:
    return generate_org("small", seed=7, anchor=ANCHOR)


def crawl_pure(org: Org) -> bytes:
    """Every list endpoint of every repository, through the socket-free API, as one byte string."""
    api = GitHubApi(org, token="t", rate_limit=100_000)
    pages = []

    def get(path: str, **params: str) -> None:
        query = [(key, value) for key, value in params.items()] + [("per_page", "100")]
        page = 1
        while True:
            response = api.handle(ApiRequest("GET", path, query + [("page", str(page))],
                                             {"authorization": "Bearer t"}, "http://sim"))
            assert response.status == 200
            pages.append(response.body)
            if 'rel="next"' not in dict(response.headers).get("Link", ""):
                return
            page += 1

    get(f"/orgs/{org.login}/repos")
    for repo in org.repositories:
        get(f"/repos/{repo.full_name}/pulls", state="all")
        get(f"/repos/{repo.full_name}/deployments")
    return b"\n".join(pages)


def test_same_seed_and_anchor_give_byte_identical_api_output(org: Org) -> None:
    # Given a second org generated from the same inputs
    again = generate_org("small", seed=7, anchor=ANCHOR)
    # Then everything the API serves is identical, byte for byte
    assert crawl_pure(again) == crawl_pure(org)


def test_different_seed_changes_activity_but_keeps_small_team_and_repo_names(org: Org) -> None:
    other = generate_org("small", seed=8, anchor=ANCHOR)
    assert {team.name: team.repositories for team in other.teams} == SMALL_TEAMS
    assert {team.name: team.repositories for team in org.teams} == SMALL_TEAMS
    assert [r.full_name for r in other.repositories] == [r.full_name for r in org.repositories]
    assert [pr.created_at for pr in other.all_pull_requests()] != [pr.created_at for pr in org.all_pull_requests()]
    assert [d.sha for d in other.all_deployments()] != [d.sha for d in org.all_deployments()]


def test_small_scale_matches_the_preset(org: Org) -> None:
    assert org.login == "acme"
    assert len(org.teams) == 3 and len(org.repositories) == 8
    assert all(4 <= len(team.members) <= 6 for team in org.teams)
    assert all(member.endswith(f"-{team.name}") for team in org.teams for member in team.members)
    assert 1600 <= len(org.all_pull_requests()) <= 2400
    first_pr = min(pr.created_at for pr in org.all_pull_requests())
    assert (ANCHOR - first_pr).days <= 90


def test_default_anchor_is_today_at_midnight_utc() -> None:
    today = datetime.now(UTC).date()
    anchor = generate_org("small", seed=1).anchor
    assert anchor == datetime(today.year, today.month, today.day, tzinfo=UTC)


def test_pull_request_states_are_a_realistic_mix(org: Org) -> None:
    prs = org.all_pull_requests()
    kinds = Counter("merged" if pr.merged else "draft" if pr.draft else pr.state for pr in prs)
    assert kinds["merged"] / len(prs) > 0.7
    assert kinds["closed"] > 50 and kinds["open"] > 20 and kinds["draft"] > 5
    assert sum(1 for pr in prs if pr.reopened_at is not None) > 10
    assert all(pr.state == "closed" for pr in prs if pr.merged)
    assert all(pr.closed_at is None for pr in prs if pr.state == "open")


def test_timestamps_are_ordered_and_before_the_anchor(org: Org) -> None:
    for pr in org.all_pull_requests():
        stamps = [t for t in (pr.created_at, pr.closed_at, pr.merged_at, pr.first_closed_at, pr.reopened_at) if t]
        assert pr.updated_at >= max(stamps)
        assert pr.updated_at < ANCHOR
        if pr.merged_at:
            assert pr.merged_at >= pr.created_at and pr.closed_at == pr.merged_at
    for deployment in org.all_deployments():
        assert deployment.created_at < ANCHOR
        assert all(deployment.created_at <= s.created_at < ANCHOR for s in deployment.statuses)
        assert deployment.updated_at == max([s.created_at for s in deployment.statuses] + [deployment.created_at])


def test_ids_are_unique_and_numbers_unique_per_repo(org: Org) -> None:
    prs = org.all_pull_requests()
    assert len({pr.id for pr in prs}) == len(prs)
    for repo in org.repositories:
        numbers = [pr.number for pr in org.pull_requests[repo.full_name]]
        assert len(set(numbers)) == len(numbers)
    deployments = org.all_deployments()
    assert len({d.id for d in deployments}) == len(deployments)
    statuses = [s.id for d in deployments for s in d.statuses]
    assert len(set(statuses)) == len(statuses)
    assert len({r.id for r in org.repositories}) == 8


def test_merged_pull_requests_and_deployments_point_into_the_repo_history(org: Org) -> None:
    for repo in org.repositories:
        history = repo.commit_shas()
        assert all(len(sha) == 40 and int(sha, 16) >= 0 for sha in history)
        assert [c.committed_at for c in repo.commits] == sorted(c.committed_at for c in repo.commits)
        for pr in org.pull_requests[repo.full_name]:
            assert pr.base_sha in history
            if pr.merged:
                assert pr.merge_commit_sha in history
            else:
                assert pr.merge_commit_sha not in history
        for deployment in org.deployments[repo.full_name]:
            if not deployment.environment.startswith("preview-"):
                assert deployment.sha in history and deployment.ref == repo.default_branch


def test_deployment_mix_has_production_staging_previews_and_failures(org: Org) -> None:
    deployments = org.all_deployments()
    by_env = Counter("preview" if d.environment.startswith("preview-") else d.environment for d in deployments)
    working_days = 64  # weekdays in the 90-day window
    assert 0.6 * working_days * 8 <= by_env["production"] <= 1.4 * working_days * 8
    assert by_env["staging"] > by_env["production"]
    assert by_env["preview"] >= 8
    production = [d for d in deployments if d.environment == "production"]
    final = Counter(d.latest_status().state for d in production if d.statuses)
    failed_share = (final["failure"] + final["error"]) / len(production)
    assert 0.07 <= failed_share <= 0.2 and final["error"] > 0
    assert 1 <= final["in_progress"] + final["queued"] <= 2
    during_working_hours = sum(1 for d in production if 8 <= d.created_at.hour < 18)
    assert during_working_hours / len(production) > 0.85
    assert all(d.production_environment == (d.environment == "production") for d in deployments)


def test_status_sequences_follow_github_lifecycle(org: Org) -> None:
    for deployment in org.all_deployments():
        states = [s.state for s in sorted(deployment.statuses, key=lambda s: s.created_at)]
        assert states[:2] == ["queued", "in_progress"][: len(states[:2])]
        assert all(state in ("success", "failure", "error") for state in states[2:])
        assert len(states) <= 3


def test_team_of_maps_every_repository_to_its_team(org: Org) -> None:
    for team, repos in SMALL_TEAMS.items():
        for name in repos:
            assert org.team_of(f"acme/{name}") == team
    with pytest.raises(KeyError):
        org.team_of("acme/unknown")


def test_unknown_scale_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown scale"):
        generate_org("galactic")



def test_medium_scale_keeps_small_teams_and_grows_volume() -> None:
    medium = generate_org("medium", seed=7, anchor=ANCHOR)
    teams = {team.name: team.repositories for team in medium.teams}
    assert len(teams) == 6 and len(medium.repositories) == 20
    assert all(set(repos) <= set(teams[name]) for name, repos in SMALL_TEAMS.items())
    assert 27_000 <= len(medium.all_pull_requests()) <= 33_000
    first_pr = min(pr.created_at for pr in medium.all_pull_requests())
    assert 360 <= (ANCHOR - first_pr).days <= 365
    assert medium.deployments["acme/reporting"] == []  # a repository that never deploys


def test_pull_requests_carry_commits_reviews_and_a_merge_method(org: Org) -> None:
    prs = org.all_pull_requests()
    for pr in prs:
        assert pr.commits and pr.commits[-1].sha == pr.head_sha
        assert all(commit.committed_at <= pr.created_at for commit in pr.commits)
        assert all(pr.created_at <= review.submitted_at <= (pr.closed_at or pr.updated_at) for review in pr.reviews)
        if pr.merged:
            assert pr.reviews[-1].state == "APPROVED" and pr.merge_method in ("merge", "squash")
        else:
            assert pr.merge_method is None
    assert {review.state for pr in prs for review in pr.reviews} == {"APPROVED", "CHANGES_REQUESTED", "COMMENTED"}
    methods = Counter(pr.merge_method for pr in prs if pr.merged)
    assert methods["squash"] > 100 and methods["merge"] > 100
    reviews = [review.id for pr in prs for review in pr.reviews]
    assert len(set(reviews)) == len(reviews)


def test_commit_dates_span_several_time_zones(org: Org) -> None:
    zones = {commit.tz_offset_minutes for repo in org.repositories for commit in repo.commits}
    assert len(zones) >= 4 and 0 in zones


def test_rollbacks_redeploy_an_older_sha_after_a_failure(org: Org) -> None:
    from simulator.truth import rollbacks

    rows = rollbacks(org)
    generated = {d.id for d in org.all_deployments() if (d.description or "").startswith("Rollback")}
    # A few "rollbacks" go forward: a failed deploy can itself have shipped an older SHA than the last good one.
    assert len(generated) >= 5 and len(generated - {row["id"] for row in rows}) <= 2
    for row in rows:
        history = [c.sha for c in org.repository(row["repo"]).commits]
        earlier = [d for d in org.deployments[row["repo"]]
                   if d.environment == "production" and d.created_at < row["created_at"]]
        assert history.index(row["sha"]) < history.index(earlier[-1].sha)  # an older commit than the last deploy


def test_some_production_deployments_ship_no_new_pull_request(org: Org) -> None:
    repeats = 0
    for repo in org.repositories:
        production = [d for d in org.deployments[repo.full_name] if d.environment == "production"]
        repeats += sum(1 for before, after in zip(production, production[1:]) if before.sha == after.sha)
    assert repeats > 0


def test_issues_bugs_and_incidents_linked_to_their_causing_deployment(org: Org) -> None:
    from simulator.truth import incidents

    issues = org.all_issues()
    assert {label for issue in issues for label in issue.labels} == {"bug", "incident"}
    rows = incidents(org)
    assert len(rows) >= 20 and all(row["deployment_id"] for row in rows)
    assert sum(row["deployment_result"] == "failed" for row in rows) > len(rows) / 2
    deployments = {d.id: d for d in org.all_deployments()}
    for issue in issues:
        assert issue.created_at < ANCHOR and (issue.closed_at is None or issue.closed_at < ANCHOR)
        if issue.caused_by_deployment:
            cause = deployments[issue.caused_by_deployment]
            assert str(cause.id) in issue.body and cause.sha in issue.body
            assert issue.created_at > cause.created_at and cause.environment == "production"
    for repo in org.repositories:
        numbers = [i.number for i in org.issues[repo.full_name]] + [p.number for p in org.pull_requests[repo.full_name]]
        assert len(numbers) == len(set(numbers))  # issues and PRs share one number space


def test_releases_point_at_deployed_commits(org: Org) -> None:
    for repo in org.repositories:
        tags = [release.tag_name for release in org.releases[repo.full_name]]
        assert len(tags) == len(set(tags))
        for release in org.releases[repo.full_name]:
            assert release.target_commitish in repo.commit_shas() and release.published_at < ANCHOR


@pytest.mark.skipif(os.environ.get("KPI_SIM_LARGE") != "1",
                    reason="builds the large preset (~30 s, ~1.2 GB); set KPI_SIM_LARGE=1 to run")
def test_large_preset_reaches_half_a_million_ci_runs() -> None:
    from simulator.gitlab import generate_gitlab
    from simulator.jenkins import generate_jenkins

    org = generate_org("large", seed=7, anchor=ANCHOR)
    days = SCALES["large"].days
    runs = sum(len(runs) for runs in org.workflow_runs.values())
    builds = sum(len(job.builds) for job in generate_jenkins(org.repositories, org.seed, org.anchor, days).all_jobs())
    pipelines = sum(len(p.pipelines) for p in generate_gitlab(org.repositories, org.seed, org.anchor, days).projects)
    assert len(org.repositories) == 200 and days == 730
    assert runs + builds + pipelines >= 500_000, (runs, builds, pipelines)
