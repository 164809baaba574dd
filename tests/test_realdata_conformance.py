"""Run the real stream declarations through HttpClient + extract_scope against recorded
GitHub API traffic (PyGithub ReplayData, octokit/fixtures) replayed over HTTP on 127.0.0.1.

The corpus lives outside the project (KPI_REALDATA_DIR, default ../shared/realdata) and is
never copied in; the whole module is skipped when it is absent.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from extractors.errors import HttpError, RetriesExhausted
from extractors.extract import BatchManifest, extract_scope
from extractors.http import HttpClient
from extractors.streams.base import Stream
from extractors.streams.github import GITHUB_STREAMS, PULL_REQUEST_FIELDS
from tests.support.replay import Exchange, ReplayServer, read_nock_fixture, read_pygithub_replay
from tests.support.scripted_server import FakeClock

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REALDATA = Path(os.environ.get("KPI_REALDATA_DIR", PROJECT_ROOT.parent / "shared" / "realdata"))
REPLAY_DIR = REALDATA / "github-api" / "PyGithub__PyGithub" / "tests" / "ReplayData"
OCTOKIT_PAGINATE = REALDATA / "github-api" / "octokit__fixtures" / "scenarios" / "api.github.com" / "paginate-issues"

if not REPLAY_DIR.is_dir():
    pytest.skip(f"real GitHub recordings not found at {REPLAY_DIR} (set KPI_REALDATA_DIR)", allow_module_level=True)

# A multi-page listing stands in for any Link-paginated stream: declared like the real ones.
ISSUES = Stream(name="github__issues", source="github", path="/repos/{owner}/{repo}/issues",
                primary_key=("id",), cursor_field="updated_at", scope="repository")


def replay(name: str) -> list[Exchange]:
    path = REPLAY_DIR / name
    if not path.is_file():
        pytest.skip(f"recording {name} not in the corpus")
    return read_pygithub_replay(path)


def listing_pages(exchanges: list[Exchange], path_prefix: str) -> list[list[dict]]:
    """Bodies of the recorded GET pages of one listing (path without query == prefix)."""
    return [e.json() for e in exchanges
            if e.method == "GET" and e.status == 200 and e.path.split("?")[0] == path_prefix]


def client_for(server: ReplayServer, prefix: str = "", **kwargs) -> HttpClient:
    clock = FakeClock()
    kwargs.setdefault("clock", clock.time)
    kwargs.setdefault("sleep", clock.sleep)
    return HttpClient(server.base_url + prefix, "recorded-token-removed", **kwargs)


def batch_lines(manifest: BatchManifest) -> list[dict]:
    return [json.loads(line) for line in Path(manifest.path).read_text().splitlines()]


def test_multi_page_issue_listing_follows_every_recorded_link(tmp_path):
    exchanges = replay("PaginatedList.testIteration.txt")
    pages = listing_pages(exchanges, "/repos/openframeworks/openFrameworks/issues")
    recorded_ids = {record["id"] for page in pages for record in page}
    assert len(pages) == 14  # the recording itself: 13 full pages of 25 and one of 8
    with ReplayServer(exchanges) as server:
        client = client_for(server)
        [manifest] = extract_scope(client, [ISSUES], "openframeworks/openFrameworks", watermarks={},
                                   run_id="replay", landing_dir=tmp_path)
    assert manifest.records == sum(len(page) for page in pages) == len(recorded_ids)
    assert {int(line["record_key"]) for line in batch_lines(manifest)} == recorded_ids
    assert manifest.requests == 14 and not server.unmatched
    assert manifest.new_cursor is None  # PyGithub trimmed these bodies to ids: no cursor to take


def test_octokit_paginate_issues_fixture_through_the_same_paginator(tmp_path):
    fixture = OCTOKIT_PAGINATE / "normalized-fixture.json"
    if not fixture.is_file():
        pytest.skip(f"octokit fixture missing: {fixture}")
    exchanges = read_nock_fixture(fixture)
    pages = [e.json() for e in exchanges if e.method == "GET"]
    assert len(pages) == 5
    first_path = exchanges[0].path  # /repositories/1000/issues?per_page=3
    stream = replace(ISSUES, path=first_path.split("?")[0], params={"per_page": 3})
    with ReplayServer(exchanges) as server:
        client = client_for(server)
        [manifest] = extract_scope(client, [stream], "octokit-fixture-org/paginate-issues", watermarks={},
                                   run_id="replay", landing_dir=tmp_path)
    assert manifest.requests == 5 and not server.unmatched
    assert manifest.records == sum(len(page) for page in pages)
    assert [e.path for e in server.served] == [e.path for e in exchanges]


def test_real_pull_request_payloads_carry_every_kept_field(tmp_path):
    # The only recorded PR listing with content is "pulls of a commit"; run the real
    # github__pull_requests declaration over it with that path.
    exchanges = replay("Commit.testGetPulls.txt")
    pulls_path = "/repos/mawkee/PyGithub/commits/e44d11d565c022496544dd6ed1f19a8d718c2b0c/pulls"
    [recorded] = listing_pages(exchanges, pulls_path)
    stream = replace(GITHUB_STREAMS["github__pull_requests"], path=pulls_path.replace("mawkee/PyGithub", "{owner}/{repo}"))
    with ReplayServer(exchanges) as server:
        [manifest] = extract_scope(client_for(server), [stream], "mawkee/PyGithub", watermarks={},
                                   run_id="replay", landing_dir=tmp_path)
    [line] = batch_lines(manifest)
    assert manifest.records == len(recorded) == 1
    for path in PULL_REQUEST_FIELDS:  # every kept field, nested ones included, exists for real
        value = line["payload"]
        for part in path.split("."):
            assert part in value, f"{path} missing from a real pull request"
            value = value[part]
    assert line["payload"]["number"] == recorded[0]["number"]
    assert manifest.new_cursor == recorded[0]["updated_at"]


def test_real_pull_request_stream_against_recorded_pulls_listing(tmp_path):
    exchanges = replay("PullRequest.testDeleteBranch.txt")
    [recorded] = listing_pages(exchanges, "/repos/austinsasko/PyGithub/pulls")
    with ReplayServer(exchanges) as server:
        [manifest] = extract_scope(client_for(server), [GITHUB_STREAMS["github__pull_requests"]],
                                   "austinsasko/PyGithub", watermarks={}, run_id="replay", landing_dir=tmp_path)
    assert manifest.records == len(recorded) and manifest.requests == 1 and not server.unmatched


def test_real_deployments_and_their_statuses(tmp_path):
    exchanges = replay("Repository.testGetDeployments.txt")
    [deployments] = listing_pages(exchanges, "/repos/PyGithub/PyGithub/deployments")
    # No statuses *listing* was recorded; serve the recorded single status of deployment
    # 263877258 (DeploymentStatus.setUp) as that deployment's one-item listing.
    status = replay("DeploymentStatus.setUp.txt")[-1].json()
    statuses_of = {d["id"]: [] for d in deployments}
    statuses_of[263877258] = [status]
    extra = {f"/repos/PyGithub/PyGithub/deployments/{i}/statuses": body for i, body in statuses_of.items()}
    streams = [GITHUB_STREAMS["github__deployments"], GITHUB_STREAMS["github__deployment_statuses"]]
    with ReplayServer(exchanges, extra=extra) as server:
        manifests = extract_scope(client_for(server), streams, "PyGithub/PyGithub", watermarks={},
                                  run_id="replay", landing_dir=tmp_path)
    by_stream = {m.stream: m for m in manifests}
    assert by_stream["github__deployments"].records == len(deployments) == 2
    assert {int(l["record_key"]) for l in batch_lines(by_stream["github__deployments"])} == {d["id"] for d in deployments}
    [child] = batch_lines(by_stream["github__deployment_statuses"])
    assert child["record_key"] == str(status["id"]) and child["payload"]["deployment_id"] == 263877258
    assert child["payload"]["state"] == status["state"]
    assert by_stream["github__deployment_statuses"].requests == len(deployments)  # one per parent
    assert not server.unmatched


def test_real_org_repositories_on_enterprise_path_prefix(tmp_path):
    exchanges = replay("Issue80.testIgnoreHttpsFromGithubEnterprise.txt")
    [repos] = listing_pages(exchanges, "/some/prefix/orgs/BeaverSoftware/repos")
    with ReplayServer(exchanges) as server:
        [manifest] = extract_scope(client_for(server, "/some/prefix"), [GITHUB_STREAMS["github__repositories"]],
                                   "BeaverSoftware", watermarks={}, run_id="replay", landing_dir=tmp_path)
    assert manifest.records == len(repos) > 0
    assert {int(l["record_key"]) for l in batch_lines(manifest)} == {r["id"] for r in repos}


def test_recorded_502s_exhaust_retries(tmp_path):
    exchanges = replay("Retry.testRaisesRetryErrorAfterMaxRetries.txt")
    assert [e.status for e in exchanges] == [502, 502, 502, 502]
    with ReplayServer(exchanges) as server:
        client = client_for(server, max_retries=3)
        with pytest.raises(RetriesExhausted, match="/repos/PyGithub/PyGithub"):
            client.get("/repos/PyGithub/PyGithub")
    assert client.request_count == 4


def test_recorded_secondary_limit_waits_retry_after(tmp_path):
    exchanges = replay("SpecificExceptions.testAuthenticatedRateLimitExceeded.txt")
    retry_after = float(dict((k.lower(), v) for k, v in exchanges[1].headers)["retry-after"])
    clock = FakeClock()
    with ReplayServer(exchanges) as server:
        client = client_for(server, clock=clock.time, sleep=clock.sleep)
        client.get("/search/code", {"q": "jacquev6"})  # recorded 200
        # recorded 403 + Retry-After, then the recording ends: the retry gets our 404
        with pytest.raises(HttpError) as caught:
            client.get("/search/code", {"q": "jacquev6"})
    assert clock.sleeps == [retry_after] and caught.value.status == 404
    assert client.request_count == 3


def test_recorded_primary_limit_without_reset_is_a_rate_limit_not_permission(tmp_path):
    exchanges = replay("SpecificExceptions.testRateLimitExceeded.txt")
    assert exchanges[1].status == 403
    with ReplayServer(exchanges) as server:
        client = client_for(server, max_retries=0)
        client.get("/users/jacquev6")
        with pytest.raises(RetriesExhausted, match="primary rate limit"):
            client.get("/users/jacquev6")


# -- every endpoint issue 4 extracts that has recordings, through the real declarations ----

def _records_of(exchange: Exchange, records_path: str | None) -> list[dict]:
    body = exchange.json()
    return body[records_path] if records_path else body


@pytest.mark.parametrize("recording, recorded_path, stream_name, scope", [
    ("Repository.testGetMilestones.txt", "/repos/PyGithub/PyGithub/milestones", "github__milestones", "PyGithub/PyGithub"),
    ("Repository.testGetIssues.txt", "/repos/PyGithub/PyGithub/issues", "github__issues", "PyGithub/PyGithub"),
    ("Repository.testGetWorkflowRuns.txt", "/repos/PyGithub/PyGithub/actions/runs", "github__workflow_runs",
     "PyGithub/PyGithub"),
    ("CodeScanAlert.testMultipleAlerts.txt", "/repos/matt-davis27/PyGithub/code-scanning/alerts",
     "github__code_scanning_alerts", "matt-davis27/PyGithub"),
    ("DependabotAlert.testGetAlertsWithAllArguments.txt", "/repos/coopernetes/PyGithub/dependabot/alerts",
     "github__dependabot_alerts", "coopernetes/PyGithub"),
    ("Repository.testGetDeployments.txt", "/repos/PyGithub/PyGithub/deployments", "github__deployments",
     "PyGithub/PyGithub"),
])
def test_recorded_listing_loads_every_record_through_the_real_stream(tmp_path, recording, recorded_path,
                                                                     stream_name, scope):
    exchanges = replay(recording)
    declared = GITHUB_STREAMS[stream_name]
    pages = [e for e in exchanges if e.method == "GET" and e.status == 200 and e.path.split("?")[0] == recorded_path]
    assert pages, f"{recording} has no recorded page of {recorded_path}"
    records = [r for page in pages for r in _records_of(page, declared.records_path) if declared.keeps(r)]
    stream = declared
    with ReplayServer(exchanges) as server:
        [manifest] = extract_scope(client_for(server), [stream], scope, watermarks={}, run_id="replay",
                                   landing_dir=tmp_path)
    lines = batch_lines(manifest)
    expected_keys = {stream.record_key(r, scope) for r in records}
    assert {line["record_key"] for line in lines} == expected_keys and manifest.records == len(expected_keys) > 0
    assert manifest.requests == len(pages) and not server.unmatched
    if stream_name == "github__issues":
        # 2012's API gave plain issues a pull_request object with null URLs: they are kept
        assert any(r.get("pull_request") for r in records)


def test_recorded_pull_request_commits_as_a_child_of_its_pull_request(tmp_path):
    exchanges = replay("PullRequest.testGetCommits.txt")
    [commits] = listing_pages(exchanges, "/repos/PyGithub/PyGithub/pulls/31/commits")
    parent = {"id": 1731, "number": 31, "updated_at": "2012-05-27T10:00:00Z", "state": "closed"}
    streams = [GITHUB_STREAMS["github__pull_requests"], GITHUB_STREAMS["github__pull_request_commits"]]
    with ReplayServer(exchanges, extra={"/repos/PyGithub/PyGithub/pulls": [parent]}) as server:
        manifests = extract_scope(client_for(server), streams, "PyGithub/PyGithub", watermarks={},
                                  run_id="replay", landing_dir=tmp_path)
    child = next(m for m in manifests if m.stream == "github__pull_request_commits")
    lines = batch_lines(child)
    assert {line["record_key"] for line in lines} == {f"1731:{c['sha']}" for c in commits}
    assert all(line["payload"]["pull_number"] == 31 for line in lines) and not server.unmatched


def test_recorded_500_then_success_is_retried_transparently(tmp_path):
    exchanges = replay("Retry.testReturnsRepoAfter1Retry.txt")
    assert [e.status for e in exchanges] == [500, 200]
    with ReplayServer(exchanges) as server:
        client = client_for(server, max_retries=3)
        assert client.get_json("/repos/PyGithub/PyGithub")["full_name"] == "PyGithub/PyGithub"
    assert client.request_count == 2


def test_recorded_301_for_a_renamed_repository_is_followed_with_the_token(tmp_path):
    exchanges = replay("Repository.testGetRepositoryWith301Redirect.txt")
    assert [e.status for e in exchanges] == [301, 200]
    with ReplayServer(exchanges) as server:
        body = client_for(server).get_json("/repos/protoncoin/protoncoin")
    assert body["id"] == exchanges[1].json()["id"] and not server.unmatched
    assert [e.status for e in server.served] == [301, 200]
