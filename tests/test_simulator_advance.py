"""Time travel: `Org.advance(days)` adds the next days' activity deterministically."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from simulator.generator import generate_org
from simulator.github_api import ApiRequest, GitHubApi
from simulator.model import Org
from simulator.server import SimulatorServer
from simulator.truth import deployment_frequency

ANCHOR = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday: the advanced days are working days


def crawl_pure(org: Org) -> bytes:
    api = GitHubApi(org, token="t", rate_limit=1_000_000)
    pages = []
    paths = [f"/orgs/{org.login}/repos"] + [f"/repos/{r.full_name}/{kind}" for r in org.repositories
                                             for kind in ("pulls", "deployments", "issues", "releases")]
    for path in paths:
        page = 1
        while True:
            response = api.handle(ApiRequest("GET", path, [("state", "all"), ("per_page", "100"),
                                                           ("page", str(page))], {"authorization": "Bearer t"},
                                             "http://sim"))
            assert response.status == 200
            pages.append(response.body)
            if 'rel="next"' not in dict(response.headers).get("Link", ""):
                break
            page += 1
    return b"\n".join(pages)


def test_same_seed_and_same_advances_give_identical_output() -> None:
    stepwise = generate_org("small", seed=3, anchor=ANCHOR).advance(1).advance(1)
    at_once = generate_org("small", seed=3, anchor=ANCHOR).advance(2)
    assert stepwise.anchor == at_once.anchor == ANCHOR + timedelta(days=2)
    assert crawl_pure(stepwise) == crawl_pure(at_once)
    assert crawl_pure(generate_org("small", seed=4, anchor=ANCHOR).advance(2)) != crawl_pure(at_once)


def test_advance_adds_consistent_activity_and_truth_recomputes() -> None:
    org = generate_org("small", seed=3, anchor=ANCHOR)
    prs_before = len(org.all_pull_requests())
    production_before = sum(row["deployments"] for row in deployment_frequency(org))
    open_before = {pr.id for pr in org.all_pull_requests() if pr.state == "open"}
    org.advance(1)
    new_anchor = ANCHOR + timedelta(days=1)
    assert len(org.all_pull_requests()) > prs_before
    assert sum(row["deployments"] for row in deployment_frequency(org)) > production_before
    assert any(pr.merged and pr.id in open_before for pr in org.all_pull_requests())
    for repo in org.repositories:
        history = repo.commit_shas()
        assert [c.committed_at for c in repo.commits] == sorted(c.committed_at for c in repo.commits)
        for pr in org.pull_requests[repo.full_name]:
            assert pr.updated_at < new_anchor
            if pr.merged:
                assert pr.merge_commit_sha in history and pr.reviews[-1].state == "APPROVED"
        for deployment in org.deployments[repo.full_name]:
            assert all(s.created_at < new_anchor for s in deployment.statuses)
    for collection in (org.all_pull_requests(), org.all_deployments()):
        assert len({item.id for item in collection}) == len(collection)
    reviews = [r.id for pr in org.all_pull_requests() for r in pr.reviews]
    assert len(set(reviews)) == len(reviews) and 0 not in reviews


def test_incremental_client_sees_only_changes_and_full_crawl_equals_model() -> None:
    org = generate_org("small", seed=3, anchor=ANCHOR)
    repo = "acme/web-app"
    with SimulatorServer(org, rate_limit=1_000_000) as server, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {server.token}"
        url = f"{server.github_url}/repos/{repo}/pulls?state=all&sort=updated&direction=desc&per_page=20"
        watermark = http.get(url, timeout=10).json()[0]["updated_at"]
        org.advance(1)
        # Incremental: newest-updated first, stop at the first record not newer than the watermark.
        changed, pages, next_url = [], 0, url
        while next_url:
            response = http.get(next_url, timeout=10)
            pages += 1
            fresh = [item for item in response.json() if item["updated_at"] > watermark]
            changed += fresh
            if len(fresh) < len(response.json()):
                break
            next_url = response.links.get("next", {}).get("url")
        expected = {pr.number for pr in org.pull_requests[repo] if pr.updated_at >= ANCHOR}
        assert expected and {item["number"] for item in changed} == expected
        assert pages < -(-len(org.pull_requests[repo]) // 20)  # stopped early
        full, next_url = [], url
        while next_url:
            response = http.get(next_url, timeout=10)
            full += response.json()
            next_url = response.links.get("next", {}).get("url")
    model = {pr.number: (pr.state, pr.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")) for pr in org.pull_requests[repo]}
    assert {item["number"]: (item["state"], item["updated_at"]) for item in full} == model
    assert server.org.anchor == ANCHOR + timedelta(days=1)


def test_advance_adds_ci_runs_for_new_work_and_finishes_running_ones() -> None:
    org = generate_org("small", seed=3, anchor=ANCHOR)
    runs_before = {run.id for runs in org.workflow_runs.values() for run in runs}
    running = [run for runs in org.workflow_runs.values() for run in runs if run.status != "completed"]
    org.advance(1)
    runs = [run for repo_runs in org.workflow_runs.values() for run in repo_runs]
    new = [run for run in runs if run.id not in runs_before]
    assert new and all(ANCHOR <= run.created_at < ANCHOR + timedelta(days=1) for run in new)
    assert all(run.status == "completed" for run in running)
    assert len({run.id for run in runs}) == len(runs)
    for repo_runs in org.workflow_runs.values():
        numbers = [run.run_number for run in repo_runs]
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
