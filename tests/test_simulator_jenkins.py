"""Simulated Jenkins: deterministic site, tree selector, folder walk, artifacts, auth, real shapes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from simulator.generator import generate_org
from simulator.server import ApiServer
from simulator.jenkins import API_PREFIX, JenkinsApi, generate_jenkins, jenkins_build_facts, parse_tree, select

ANCHOR = datetime(2026, 11, 20, tzinfo=UTC)
TOKEN = "jenkins-test-token"


@pytest.fixture(scope="module")
def org():
    return generate_org("small", seed=7, anchor=ANCHOR)


@pytest.fixture(scope="module")
def site(org):
    return generate_jenkins(org.repositories, seed=7, anchor=ANCHOR, days=90)


@pytest.fixture(scope="module")
def jenkins(site):
    api = JenkinsApi(site, token=TOKEN)
    with ApiServer({API_PREFIX: api}) as server, requests.Session() as session:
        session.auth = ("sim", TOKEN)
        yield session, server.url_for(API_PREFIX), api


def test_same_inputs_give_the_same_site(org, site):
    again = generate_jenkins(org.repositories, seed=7, anchor=ANCHOR, days=90)
    assert again == site
    other = generate_jenkins(org.repositories, seed=8, anchor=ANCHOR, days=90)
    assert [len(j.builds) for j in other.all_jobs()] != [len(j.builds) for j in site.all_jobs()]


def test_site_invariants(org, site):
    # growth builds on GitLab; every other repository either has a job or is listed as unbuilt
    jobs = {job.repo for job in site.all_jobs()}
    assert {"acme/web-app", "acme/mobile-app"} <= set(site.unbuilt)
    assert jobs | set(site.unbuilt) == {repo.full_name for repo in org.repositories}
    for job in site.all_jobs():
        assert [b.number for b in job.builds] == list(range(1, len(job.builds) + 1))
        assert all(a.started_at <= b.started_at for a, b in zip(job.builds, job.builds[1:]))
        *done, newest = job.builds
        assert newest.result is None and newest.duration_ms == 0 and newest.started_at < ANCHOR
        for build in done:
            assert build.result in ("SUCCESS", "FAILURE", "UNSTABLE", "ABORTED")
            assert build.finished_at < ANCHOR
            assert (build.coverage is not None) == (build.result in ("SUCCESS", "UNSTABLE"))
            if build.result == "UNSTABLE":
                assert build.fail_count > 0


def test_tree_ranges_select_builds_newest_first(jenkins, site):
    session, base, _ = jenkins
    job = site.all_jobs()[0]
    url = f"{base}/job/{job.folder}/job/{job.name}/api/json"
    newest = len(job.builds)
    cases = {"{0,3}": [newest, newest - 1, newest - 2], "{2,4}": [newest - 2, newest - 3],
             "{5}": [newest - 5], "{,2}": [newest, newest - 1], f"{{{newest - 2},}}": [2, 1]}
    for spec, expected in cases.items():
        body = session.get(url, params={"tree": f"allBuilds[number,result,timestamp,duration,url]{spec}"}).json()
        assert [b["number"] for b in body["allBuilds"]] == expected, spec
        assert set(body["allBuilds"][0]) == {"_class", "number", "result", "timestamp", "duration", "url"}
    everything = session.get(url, params={"tree": "builds[number],allBuilds[number]"}).json()
    assert len(everything["builds"]) == min(100, newest)
    assert [b["number"] for b in everything["allBuilds"]] == list(range(newest, 0, -1))


def test_tree_parser_handles_nesting_and_rejects_garbage():
    nodes = parse_tree("jobs[name,jobs[name,url]{1,2}],x")
    document = {"_class": "R", "jobs": [{"_class": "F", "name": "f", "jobs": [
        {"_class": "J", "name": "a", "url": "u"}, lambda: {"_class": "J", "name": "b", "url": "v"}]}]}
    assert select(document, nodes) == {"_class": "R", "jobs": [
        {"_class": "F", "name": "f", "jobs": [{"_class": "J", "name": "b", "url": "v"}]}]}
    with pytest.raises(ValueError):
        parse_tree("jobs[name")


def test_folder_walk_finds_every_job(jenkins, site):
    session, base, _ = jenkins
    root = session.get(f"{base}/api/json", params={"tree": "jobs[name,url,_class,jobs[name,url,_class]]"}).json()
    found = set()
    for folder in root["jobs"]:
        assert folder["_class"] == "com.cloudbees.hudson.plugins.folder.Folder"
        for job in folder["jobs"]:
            assert job["_class"] == "org.jenkinsci.plugins.workflow.job.WorkflowJob"
            detail = session.get(job["url"] + "api/json").json()
            found.add((folder["name"], detail["name"]))
    assert found == {(job.folder, job.name) for job in site.all_jobs()}


def test_build_and_artifact_bytes_parse_to_the_coverage_facts(jenkins, site):
    session, base, _ = jenkins
    job = next(j for j in site.all_jobs() if j.repo == "acme/ledger")  # Java: JaCoCo
    build = next(b for b in reversed(job.builds) if b.coverage is not None)
    body = session.get(f"{base}/job/{job.folder}/job/{job.name}/{build.number}/api/json").json()
    assert body["_class"] == "org.jenkinsci.plugins.workflow.job.WorkflowRun"
    assert body["result"] == build.result and body["number"] == build.number
    git = next(a for a in body["actions"] if a.get("_class") == "hudson.plugins.git.util.BuildData")
    assert git["lastBuiltRevision"]["SHA1"] == build.sha
    tests = next(a for a in body["actions"] if a.get("_class") == "hudson.tasks.junit.TestResultAction")
    assert (tests["failCount"], tests["skipCount"], tests["totalCount"]) == (
        build.fail_count, build.skip_count, build.total_count)
    artifact = body["artifacts"][0]["relativePath"]
    data = session.get(f"{body['url']}artifact/{artifact}").content
    line = next(c for c in ET.fromstring(data).findall("./counter") if c.get("type") == "LINE")
    facts = build.coverage.facts
    assert int(line.get("covered")) == facts["lines_covered"]
    assert int(line.get("missed")) + int(line.get("covered")) == facts["lines_valid"]
    coverage = session.get(f"{body['url']}coverage/api/json").json()
    assert coverage["projectStatistics"]["line"] == f"{100 * facts['line_rate']:.2f}%"
    assert session.get(f"{body['url']}artifact/nope.txt").status_code == 404


def test_requests_without_valid_basic_auth_get_401(jenkins):
    session, base, api = jenkins
    assert requests.get(f"{base}/api/json").status_code == 401
    assert requests.get(f"{base}/api/json", auth=("sim", "wrong")).status_code == 401
    assert requests.get(f"{base}/api/json", auth=("sim", TOKEN)).status_code == 200
    assert api.stats()["jenkins_requests"] == api.request_count > 0


def test_weekly_facts_match_the_builds(site):
    rows = jenkins_build_facts(site)
    assert sum(r["builds"] for r in rows) == sum(len(j.builds) for j in site.all_jobs())
    job = site.all_jobs()[0]
    week = max(r["week_start"] for r in rows)
    row = next(r for r in rows if r["repo"] == job.repo and r["week_start"] == week)
    in_week = [b for b in job.builds if b.started_at.date() >= week]
    assert row["builds"] == len(in_week)
    assert row["failures"] == sum(1 for b in in_week if b.result == "FAILURE")
    latest = max((b for b in in_week if b.coverage), key=lambda b: b.number, default=None)
    if latest is not None:
        assert row["lines_covered"] == latest.coverage.facts["lines_covered"]


def _json_type(value):
    return None if value is None else type(value).__name__ if not isinstance(value, bool) else "bool"


def _conform(real: dict, ours: dict, skip: set[str]):
    for key, value in real.items():
        if key in skip:
            continue
        assert key in ours, key
        if value is not None and ours[key] is not None:
            assert _json_type(ours[key]) == _json_type(value), key


def test_bodies_have_the_real_top_level_fields_and_types(jenkins, site, realdata: Path):
    session, base, _ = jenkins
    resources = realdata / "ci/cdancy__jenkins-rest/src/test/resources"
    job = site.all_jobs()[0]
    job_body = session.get(f"{base}/job/{job.folder}/job/{job.name}/api/json").json()
    # FreeStyle-only fields a WorkflowJob does not have:
    _conform(json.loads((resources / "job-info.json").read_text()), job_body,
             {"downstreamProjects", "upstreamProjects", "scm"})
    build_body = session.get(f"{base}/job/{job.folder}/job/{job.name}/2/api/json").json()
    for name in ("build-info.json", "build-info-git-commit.json"):
        # `changeSet` (singular) is the FreeStyle field; WorkflowRun has `changeSets`.
        _conform(json.loads((resources / name).read_text()), build_body, {"changeSet"})
    folder = json.loads((resources / "jobsInJenkinsFolder.json").read_text())
    ours = session.get(f"{base}/job/{job.folder}/api/json").json()
    _conform(folder, ours, set())
    assert set(folder["jobs"][0]) <= set(ours["jobs"][0]) | {"color"}
