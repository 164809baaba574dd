"""Time travel: `Org.advance(days)` adds the next days' activity deterministically."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import requests

from simulator.generator import generate_org
from simulator.github_api import ApiRequest, GitHubApi
from simulator.gitlab import GitLabApi
from simulator.jenkins import JenkinsApi
from simulator.model import Org
from simulator.server import SimulatorServer
from simulator.simulation import Credentials, build_simulation
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


# -- every source moves: GitHub issues/releases/milestones/alerts, Jenkins, GitLab, the whole simulation --

GITHUB_AUTH = {"authorization": "Bearer t"}


def github_get(api: GitHubApi, path: str, **params: str) -> list:
    """Every page of a GitHub listing, following Link rel=next."""
    query, items = list(params.items()) + [("per_page", "100")], []
    while True:
        response = api.handle(ApiRequest("GET", path, query, GITHUB_AUTH, "http://sim"))
        assert response.status == 200, response.body
        body = json.loads(response.body)
        items += body if isinstance(body, list) else body.get("workflow_runs", [])
        link = dict(response.headers).get("Link", "")
        if 'rel="next"' not in link:
            return items
        next_url = next(part for part in link.split(", ") if 'rel="next"' in part).split(">")[0].lstrip("<")
        query = parse_qsl(next_url.split("?", 1)[1])


def snapshot(items, key, *fields) -> dict:
    return {key(item): tuple(getattr(item, name) for name in fields) for item in items}


def changed_keys(before: dict, after: dict) -> set:
    return {key for key, value in after.items() if before.get(key) != value}


def test_github_issues_incremental_since_sees_exactly_new_and_changed_issues() -> None:
    org = generate_org("small", seed=3, anchor=ANCHOR)
    before = {repo.full_name: snapshot([*org.issues[repo.full_name], *org.pull_requests[repo.full_name]],
                                       lambda item: item.number, "state", "updated_at", "closed_at")
              for repo in org.repositories}
    org.advance(1)
    api = GitHubApi(org, token="t", rate_limit=1_000_000)
    incidents_today = 0
    for repo in org.repositories:
        after = snapshot([*org.issues[repo.full_name], *org.pull_requests[repo.full_name]],
                         lambda item: item.number, "state", "updated_at", "closed_at")
        expected = changed_keys(before[repo.full_name], after)
        served = github_get(api, f"/repos/{repo.full_name}/issues", state="all", sort="updated",
                            since=ANCHOR.strftime("%Y-%m-%dT%H:%M:%SZ"))
        assert {item["number"] for item in served} == expected
        assert all(item["updated_at"] >= "2026-11-23T00:00:00Z" for item in served)
        new_issues = [issue for issue in org.issues[repo.full_name] if issue.created_at >= ANCHOR]
        deployments = {d.id: d for d in org.deployments[repo.full_name]}
        for issue in new_issues:
            assert issue.id == next(i.id for i in org.issues[repo.full_name] if i.number == issue.number)
            if "incident" in issue.labels:
                incidents_today += 1
                cause = deployments[issue.caused_by_deployment]
                assert cause.environment == "production" and cause.latest_status().created_at < issue.created_at
                assert str(cause.id) in issue.body
    numbers = [(issue.repo, issue.number) for issue in org.all_issues()]
    assert len(set(numbers)) == len(numbers)
    assert any(issue.created_at >= ANCHOR for issue in org.all_issues())
    assert any(issue.closed_at and issue.closed_at >= ANCHOR > issue.created_at for issue in org.all_issues())


def test_github_releases_milestones_and_alerts_move_with_updated_timestamps() -> None:
    org = generate_org("small", seed=3, anchor=ANCHOR)
    releases_before = {(r.repo, r.tag_name) for r in org.all_releases()}
    milestones_before = {repo: snapshot(ms, lambda m: m.number, "state", "updated_at", "open_issues")
                         for repo, ms in org.milestones.items()}
    alerts_before = {repo: snapshot(alerts, lambda a: (a.kind, a.number), "state", "updated_at")
                     for repo, alerts in org.security_alerts.items()}
    org.advance(14)  # two working weeks: releases, a sprint boundary, alert triage
    api = GitHubApi(org, token="t", rate_limit=1_000_000)
    watermark = ANCHOR.strftime("%Y-%m-%dT%H:%M:%SZ")
    new_releases = {(r.repo, r.tag_name) for r in org.all_releases()} - releases_before
    assert new_releases
    totals = {"milestones": 0, "code_scanning": 0, "dependabot": 0}
    for repo in org.repositories:
        name = repo.full_name
        served = github_get(api, f"/repos/{name}/releases")
        assert {(name, r["tag_name"]) for r in served if r["published_at"] >= watermark} == \
            {key for key in new_releases if key[0] == name}
        tags = [r.tag_name for r in org.releases[name]]
        assert len(set(tags)) == len(tags)
        after = snapshot(org.milestones[name], lambda m: m.number, "state", "updated_at", "open_issues")
        expected = changed_keys(milestones_before[name], after)
        served = github_get(api, f"/repos/{name}/milestones", state="all")
        assert {m["number"] for m in served if m["updated_at"] >= watermark} == expected
        totals["milestones"] += len(expected)
        assert sum(1 for m in org.milestones[name] if m.state == "open") >= 1  # the next sprint is open
        alerts_after = snapshot(org.security_alerts[name], lambda a: (a.kind, a.number), "state", "updated_at")
        changed = changed_keys(alerts_before[name], alerts_after)
        for kind, path in (("code_scanning", "code-scanning/alerts"), ("dependabot", "dependabot/alerts")):
            served = github_get(api, f"/repos/{name}/{path}", sort="updated", direction="desc")
            assert {a["number"] for a in served if a["updated_at"] >= watermark} == \
                {number for k, number in changed if k == kind}
            totals[kind] += sum(1 for k, _ in changed if k == kind)
        for alert in org.security_alerts[name]:
            if alert.state == "fixed":
                assert alert.fixed_at == alert.updated_at or alert.created_at < ANCHOR
    assert all(totals.values()), totals


def test_deployments_and_workflow_runs_incremental() -> None:
    org = generate_org("small", seed=3, anchor=ANCHOR)
    deployments_before = snapshot(org.all_deployments(), lambda d: d.id, "updated_at", "statuses")
    deployments_before = {key: (value[0], len(value[1])) for key, value in deployments_before.items()}
    runs_before = {run.id: (run.status, run.updated_at) for runs in org.workflow_runs.values() for run in runs}
    org.advance(1)
    api = GitHubApi(org, token="t", rate_limit=1_000_000)
    watermark = ANCHOR.strftime("%Y-%m-%dT%H:%M:%SZ")
    for repo in org.repositories:
        deployments = github_get(api, f"/repos/{repo.full_name}/deployments")
        model = {d.id: (d.updated_at, len(d.statuses)) for d in org.deployments[repo.full_name]}
        expected = changed_keys(deployments_before, model)
        assert {d["id"] for d in deployments if d["updated_at"] >= watermark} == expected
        assert all(d.id > max(deployments_before) for d in org.deployments[repo.full_name]
                   if d.id not in deployments_before)
        runs = github_get(api, f"/repos/{repo.full_name}/actions/runs", created=f">={watermark}")
        assert {run["id"] for run in runs} == {run.id for run in org.workflow_runs[repo.full_name]
                                               if run.id not in runs_before}
        for run in org.workflow_runs[repo.full_name]:
            if run.id in runs_before and runs_before[run.id] != (run.status, run.updated_at):
                assert runs_before[run.id][0] != "completed" and run.updated_at >= ANCHOR


def jenkins_builds(api: JenkinsApi, job) -> list[dict]:
    auth = "Basic " + base64.b64encode(f"{api.user}:{api.token}".encode()).decode()
    response = api.handle(ApiRequest("GET", f"/job/{job.folder}/job/{job.name}/api/json",
                                     [("tree", "allBuilds[number,result,building,timestamp,duration]")],
                                     {"authorization": auth}, "http://sim"))
    assert response.status == 200
    return json.loads(response.body)["allBuilds"]


def test_jenkins_advance_continues_numbering_and_finishes_running_builds() -> None:
    simulation = build_simulation("small", seed=3, anchor=ANCHOR)
    site = simulation.jenkins
    before = {job.repo: {b.number: (b.result, b.duration_ms) for b in job.builds} for job in site.all_jobs()}
    simulation.org.advance(1)
    site.advance(1)
    assert site.anchor == ANCHOR + timedelta(days=1) and site.days_advanced == 1
    api = JenkinsApi(site, user="sim", token="secret")
    new_total = 0
    for job in site.all_jobs():
        served = {b["number"]: b for b in jenkins_builds(api, job)}
        known = before[job.repo]
        # Incremental by build number: everything above the last seen number is new...
        new = {n for n in served if n > max(known)}
        assert new == {b.number for b in job.builds if b.number not in known}
        assert sorted(served) == list(range(1, len(job.builds) + 1))
        # ...and the builds that were running are the only older ones that changed.
        changed = {n for n, (result, duration) in known.items()
                   if (served[n]["result"], served[n]["duration"]) != (result, duration)}
        assert changed == {n for n, (result, _) in known.items() if result is None}
        for number in changed:
            assert served[number]["building"] is False and served[number]["result"] is not None
        for build in job.builds:
            assert build.started_at < site.anchor
            if not build.building:
                assert build.finished_at < site.anchor
        new_total += len(new)
        repo = simulation.org.repository(job.repo)
        day_commits = {c.sha for c in repo.commits if ANCHOR - timedelta(hours=2) <= c.committed_at
                       < site.anchor - timedelta(hours=2)}
        built = {b.sha for b in job.builds}
        assert len(day_commits - built) <= max(2, len(day_commits) // 4)
    assert new_total > 0


def gitlab_list(api: GitLabApi, path: str, **params: str) -> list[dict]:
    items, page = [], 1
    while True:
        response = api.handle(ApiRequest("GET", f"/api/v4{path}",
                                         list(params.items()) + [("per_page", "100"), ("page", str(page))],
                                         {"private-token": api.token}, "http://sim"))
        assert response.status == 200, response.body
        items += json.loads(response.body)
        if not dict(response.headers).get("X-Next-Page"):
            return items
        page += 1


def test_gitlab_advance_updated_after_sees_exactly_new_and_changed_records() -> None:
    simulation = build_simulation("small", seed=3, anchor=ANCHOR)
    site = simulation.gitlab
    def state(project):
        return (snapshot(project.pipelines, lambda p: p.id, "status", "updated_at"),
                snapshot(project.merge_requests, lambda m: m.iid, "state", "updated_at"),
                snapshot(project.deployments, lambda d: d.id, "status", "updated_at"),
                snapshot(project.milestones, lambda m: m.iid, "state", "updated_at"),
                {r.tag_name for r in project.releases})
    before = {project.id: state(project) for project in site.projects}
    simulation.org.advance(14)
    site.advance(14)
    api = GitLabApi(site, token="secret")
    watermark = ANCHOR.strftime("%Y-%m-%dT%H:%M:%SZ")
    for project in site.projects:
        old, new = before[project.id], state(project)
        pipelines = gitlab_list(api, f"/projects/{project.id}/pipelines", updated_after=watermark)
        assert {p["id"] for p in pipelines} == changed_keys(old[0], new[0]) != set()
        mrs = gitlab_list(api, f"/projects/{project.id}/merge_requests", updated_after=watermark)
        assert {m["iid"] for m in mrs} == changed_keys(old[1], new[1]) != set()
        deployments = gitlab_list(api, f"/projects/{project.id}/deployments", updated_after=watermark,
                                  order_by="updated_at")
        assert {d["id"] for d in deployments} == changed_keys(old[2], new[2]) != set()
        milestones = gitlab_list(api, f"/projects/{project.id}/milestones")
        assert {m["iid"] for m in milestones if m["updated_at"] >= watermark} == changed_keys(old[3], new[3]) != set()
        releases = gitlab_list(api, f"/projects/{project.id}/releases")
        assert {r["tag_name"] for r in releases if r["released_at"] >= watermark} == new[4] - old[4] != set()
        running = [p for p in project.pipelines if p.status == "running"]
        assert len(running) <= 1 and all(p.created_at < site.anchor for p in project.pipelines)
        for pipeline in project.pipelines:
            if pipeline.finished_at is not None:
                assert pipeline.finished_at < site.anchor and pipeline.duration is not None
        iids = [m.iid for m in project.merge_requests]
        assert iids == sorted(iids) and len(set(iids)) == len(iids)


def simulation_dump(simulation) -> bytes:
    return b"\n".join([crawl_pure(simulation.org), repr(simulation.jenkins).encode(),
                       repr(simulation.gitlab).encode()])


def test_two_simulations_advanced_identically_serialise_identically() -> None:
    first = build_simulation("small", seed=5, anchor=ANCHOR).advance(1).advance(2)
    second = build_simulation("small", seed=5, anchor=ANCHOR).advance(3)
    assert first.org.anchor == first.jenkins.anchor == first.gitlab.anchor == ANCHOR + timedelta(days=3)
    assert simulation_dump(first) == simulation_dump(second)
    untouched = build_simulation("small", seed=5, anchor=ANCHOR)
    assert simulation_dump(untouched) != simulation_dump(first)
    if hasattr(first.jira, "advance"):
        assert getattr(first.jira, "anchor", ANCHOR + timedelta(days=3)) == ANCHOR + timedelta(days=3)


def test_simulation_advance_calls_jira_only_when_it_can_time_travel() -> None:
    simulation = build_simulation("small", seed=5, anchor=ANCHOR)
    calls = []

    class TravellingJira:
        def advance(self, days: int) -> None:
            calls.append(days)
    simulation.jira = TravellingJira()
    simulation.advance(2)
    assert calls == [2]
    simulation.jira = object()  # no advance: skipped silently
    simulation.advance(1)
    assert simulation.org.anchor == ANCHOR + timedelta(days=3)


def _jenkins_builds(simulation) -> int:
    return sum(len(job.builds) for job in simulation.jenkins.all_jobs())


def test_post_sim_advance_moves_every_source_of_a_running_simulator_like_advance_in_process():
    served, in_process = build_simulation("small", seed=5, anchor=ANCHOR), build_simulation("small", seed=5, anchor=ANCHOR)
    in_process.advance(2)
    with served.server(Credentials()) as server:
        first = requests.post(f"{server.base_url}/_sim/advance?days=1", timeout=30)
        second = requests.post(f"{server.base_url}/_sim/advance", timeout=30)  # days defaults to 1
        health = requests.get(f"{server.base_url}/_sim/health", timeout=10).json()
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == {"advanced_days": 1, "anchor": "2026-11-24T00:00:00Z"}
    assert health["anchor"] == "2026-11-25T00:00:00Z"
    assert served.org.anchor == in_process.org.anchor
    assert crawl_pure(served.org) == crawl_pure(in_process.org)
    assert _jenkins_builds(served) == _jenkins_builds(in_process) > 0
    assert served.gitlab.anchor == in_process.gitlab.anchor


def test_sim_advance_refuses_a_bad_day_count_and_other_methods():
    simulation = build_simulation("small", seed=5, anchor=ANCHOR)
    with simulation.server(Credentials()) as server:
        negative = requests.post(f"{server.base_url}/_sim/advance?days=-1", timeout=10)
        text = requests.post(f"{server.base_url}/_sim/advance?days=one", timeout=10)
        get = requests.get(f"{server.base_url}/_sim/advance?days=1", timeout=10)
    assert negative.status_code == text.status_code == 422
    assert "days must be a whole number" in text.json()["message"] and "'one'" in text.json()["message"]
    assert get.status_code == 405
    assert simulation.org.anchor == ANCHOR
