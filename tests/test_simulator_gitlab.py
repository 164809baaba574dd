"""Simulated GitLab: determinism, offset and keyset pagination, filters, auth, real MR shape."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from simulator.generator import generate_org
from simulator.server import ApiServer
from simulator.gitlab import API_PREFIX, GitLabApi, generate_gitlab, gitlab_pipeline_facts, gl_time

ANCHOR = datetime(2026, 11, 20, tzinfo=UTC)
TOKEN = "glpat-test"


@pytest.fixture(scope="module")
def org():
    return generate_org("small", seed=7, anchor=ANCHOR)


@pytest.fixture(scope="module")
def site(org):
    return generate_gitlab(org.repositories, seed=7, anchor=ANCHOR, days=90)


@pytest.fixture(scope="module")
def gitlab(site):
    with ApiServer({API_PREFIX: GitLabApi(site, token=TOKEN)}) as server, requests.Session() as session:
        session.headers["PRIVATE-TOKEN"] = TOKEN
        yield session, f"{server.url_for(API_PREFIX)}/api/v4"


def test_same_inputs_give_the_same_site(org, site):
    assert generate_gitlab(org.repositories, seed=7, anchor=ANCHOR, days=90) == site
    assert [p.repo for p in site.projects] == ["acme/mobile-app", "acme/web-app"]


def test_site_invariants(site):
    for project in site.projects:
        statuses = [p.status for p in project.pipelines]
        assert statuses[-1] == "running" and statuses.count("running") == 1
        assert set(statuses) <= {"success", "failed", "canceled", "running"}
        for pipeline in project.pipelines:
            assert pipeline.created_at < ANCHOR and pipeline.updated_at < ANCHOR
            if pipeline.status != "running":
                assert pipeline.finished_at < ANCHOR and pipeline.duration > 0
            assert {job.stage for job in pipeline.jobs} == {"build", "test", "deploy"}
        for mr in project.merge_requests:
            assert mr.created_at <= mr.updated_at < ANCHOR
            if mr.state == "merged":
                assert (mr.merge_commit_sha is None) != (mr.squash_commit_sha is None)
        assert {d.status for d in project.deployments} <= {"success", "failed", "canceled", "running"}
        assert all(r.milestone and r.released_at < ANCHOR for r in project.releases)


def test_offset_pagination_reaches_every_pipeline_once(gitlab, site):
    session, base = gitlab
    project = site.projects[1]
    seen, page, pages = [], "1", 0
    while page:
        response = session.get(f"{base}/projects/acme%2F{project.name}/pipelines",
                               params={"per_page": 37, "page": page, "order_by": "updated_at", "sort": "asc"})
        assert response.status_code == 200
        assert response.headers["X-Total"] == str(len(project.pipelines))
        assert response.headers["X-Total-Pages"] == str(-(-len(project.pipelines) // 37))
        seen += [p["id"] for p in response.json()]
        page = response.headers["X-Next-Page"]
        pages += 1
    assert sorted(seen) == sorted(p.id for p in project.pipelines) and len(seen) == len(set(seen))
    assert pages == -(-len(project.pipelines) // 37)
    assert 'rel="last"' in response.headers["Link"] and 'rel="next"' not in response.headers["Link"]


def test_per_page_is_capped_at_100_and_defaults_to_20(gitlab, site):
    session, base = gitlab
    project = site.projects[0]
    assert len(session.get(f"{base}/projects/{project.id}/pipelines", params={"per_page": 500}).json()) == 100
    response = session.get(f"{base}/projects/{project.id}/merge_requests")
    assert len(response.json()) == 20 and response.headers["X-Per-Page"] == "20"


def test_keyset_pagination_follows_link_next_without_totals(gitlab, site):
    session, base = gitlab
    url, params, seen = f"{base}/groups/acme/projects", {"pagination": "keyset", "order_by": "id", "sort": "asc",
                                                         "per_page": 1}, []
    while url:
        response = session.get(url, params=params)
        assert "X-Total" not in response.headers
        seen += [p["id"] for p in response.json()]
        match = re.search(r'<([^>]+)>; rel="next"', response.headers.get("Link", ""))
        url, params = (match.group(1), None) if match else (None, None)
    assert seen == sorted(p.id for p in site.projects)
    unsupported = session.get(f"{base}/projects/{site.projects[0].id}/pipelines", params={"pagination": "keyset"})
    assert unsupported.status_code == 405


def test_updated_after_filters_pipelines_deployments_and_merge_requests(gitlab, site):
    session, base = gitlab
    project = site.projects[0]
    since = datetime(2026, 11, 1, tzinfo=UTC)
    pipelines = session.get(f"{base}/projects/{project.id}/pipelines",
                            params={"updated_after": "2026-11-01T00:00:00Z", "per_page": 100}).json()
    assert {p["id"] for p in pipelines} == {p.id for p in project.pipelines if p.updated_at > since}
    deployments = session.get(f"{base}/projects/{project.id}/deployments",
                              params={"updated_after": "2026-11-01T00:00:00Z", "order_by": "updated_at",
                                      "environment": "production", "per_page": 100}).json()
    assert {d["id"] for d in deployments} == {d.id for d in project.deployments
                                              if d.updated_at > since and d.environment == "production"}
    assert [d["updated_at"] for d in deployments] == sorted(d["updated_at"] for d in deployments)
    unpaired = session.get(f"{base}/projects/{project.id}/deployments", params={"updated_after": "2026-11-01"})
    assert unpaired.status_code == 400
    mrs = session.get(f"{base}/projects/{project.id}/merge_requests",
                      params={"state": "all", "updated_after": "2026-11-01T00:00:00Z", "order_by": "updated_at",
                              "per_page": 100}).json()
    assert {m["iid"] for m in mrs} == {m.iid for m in project.merge_requests if m.updated_at > since}


def test_jobs_report_coverage_and_pipeline_detail_has_duration(gitlab, site):
    session, base = gitlab
    project = site.projects[0]
    pipeline = next(p for p in project.pipelines if p.status == "success")
    jobs = session.get(f"{base}/projects/{project.id}/pipelines/{pipeline.id}/jobs").json()
    unit = next(j for j in jobs if j["name"] == "unit-tests")
    assert unit["coverage"] == pipeline.coverage and unit["stage"] == "test"
    detail = session.get(f"{base}/projects/{project.id}/pipelines/{pipeline.id}").json()
    assert detail["duration"] == pipeline.duration
    assert detail["finished_at"] == gl_time(pipeline.finished_at)
    releases = session.get(f"{base}/projects/{project.id}/releases").json()
    assert releases[0]["milestones"][0]["due_date"] == project.releases[-1].milestone.due_date.isoformat()


def test_requests_without_the_token_get_401(gitlab):
    session, base = gitlab
    for headers in ({}, {"PRIVATE-TOKEN": "nope"}, {"Authorization": "Bearer nope"}):
        response = requests.get(f"{base}/groups/acme/projects", headers=headers)
        assert (response.status_code, response.json()) == (401, {"message": "401 Unauthorized"})
    assert requests.get(f"{base}/groups/acme/projects",
                        headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_weekly_pipeline_facts_add_up(site):
    rows = gitlab_pipeline_facts(site)
    assert sum(r["pipelines"] for r in rows) == sum(len(p.pipelines) for p in site.projects)
    assert sum(r["running"] for r in rows) == len(site.projects)


def test_merge_requests_have_the_real_fields_and_types(gitlab, site, realdata: Path):
    session, base = gitlab
    real = json.loads((realdata / "ci/xanzy__go-gitlab/testdata/get_merge_requests.json").read_text())
    ours = session.get(f"{base}/projects/{site.projects[0].id}/merge_requests", params={"state": "merged"}).json()
    for real_item in real:
        for key, value in real_item.items():
            assert key in ours[0], key
            if value is not None and ours[0][key] is not None:
                assert type(ours[0][key]) is type(value), key
