"""Fault injection over real HTTP: every fault kind, its counters, and recovery after clearing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from simulator.faults import FaultConfigError, FaultPlan
from simulator.generator import generate_org
from simulator.github_api import ApiRequest, ApiResponse
from simulator.model import Org
from simulator.server import SimulatorServer, SourceApi

ANCHOR = datetime(2026, 11, 26, tzinfo=UTC)
PULLS = "/repos/acme/ledger/pulls"


@pytest.fixture(scope="module")
def org() -> Org:
    return generate_org("small", seed=7, anchor=ANCHOR)


class EchoApi:
    """A minimal second source following the `SourceApi` protocol (stands in for Jira and friends)."""

    def __init__(self) -> None:
        self.request_count = 0

    def handle(self, request: ApiRequest) -> ApiResponse:
        self.request_count += 1
        payload = {"method": request.method, "path": request.path, "body": request.body.decode()}
        return ApiResponse(200, json.dumps(payload).encode(), [("Content-Type", "application/json")])

    def stats(self) -> dict[str, Any]:
        return {"echo_requests": self.request_count}


@pytest.fixture()
def server(org: Org) -> Iterator[SimulatorServer]:
    # A fresh server (and a fresh org copy) per test: faults and mutations must not leak.
    with SimulatorServer(generate_org("small", seed=7, anchor=ANCHOR), rate_limit=100_000,
                         extra_apis={"/echo": EchoApi()}) as running:
        yield running


@pytest.fixture()
def http(server: SimulatorServer) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {server.token}"
        yield session


def test_extra_sources_are_mounted_by_prefix_and_receive_the_body(server: SimulatorServer,
                                                                  http: requests.Session) -> None:
    assert isinstance(server.apis["/echo"], SourceApi) and isinstance(server.api, SourceApi)
    assert server.url_for("echo") == server.base_url + "/echo" == server.url_for("/echo/")
    assert server.url_for("/github") == server.github_url
    response = http.post(f"{server.url_for('echo')}/rest/api/2/search/7", data=b'{"jql":"x"}', timeout=10)
    assert response.json() == {"method": "POST", "path": "/rest/api/2/search/7", "body": '{"jql":"x"}'}
    assert server.count("/echo", "POST /rest/api/2/search/{id}", 200) == 1
    assert server.stats()["sources"]["/echo"]["api"] == {"echo_requests": 1}
    with pytest.raises(KeyError):
        server.url_for("/jira")


def test_duplicate_or_reserved_prefixes_are_rejected(org: Org) -> None:
    with pytest.raises(ValueError):
        SimulatorServer(org, extra_apis={"github": EchoApi()})
    with pytest.raises(ValueError):
        SimulatorServer(org, extra_apis={"/_sim": EchoApi()})


def test_status_burst_fails_the_next_n_matching_requests_then_recovers(server: SimulatorServer,
                                                                      http: requests.Session) -> None:
    server.faults.add("/github/repos/*/pulls", "status", status=502, times=2)
    codes = [http.get(f"{server.github_url}{PULLS}", timeout=10).status_code for _ in range(3)]
    other = http.get(f"{server.github_url}/repos/acme/ledger", timeout=10)
    assert codes == [502, 502, 200] and other.status_code == 200
    assert server.count("/github", "GET /repos/{owner}/{repo}/pulls", 502) == 2
    assert server.count("/github", "GET /repos/{owner}/{repo}/pulls", 200) == 1
    assert server.request_count == 2  # injected failures never reach the API
    assert server.stats()["faults"]["fired"] == {"status": 2}


def test_probabilistic_status_is_reproducible_from_the_seed(org: Org) -> None:
    def pattern() -> list[int]:
        with SimulatorServer(org, fault_seed=42) as running, requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {running.token}"
            running.faults.add("/github/*", "status", status=503, probability=0.5)
            return [session.get(f"{running.github_url}/repos/acme/ledger", timeout=10).status_code
                    for _ in range(20)]
    first = pattern()
    assert first == pattern()
    assert 3 <= first.count(503) <= 17 and set(first) == {200, 503}


def test_method_filter_and_regex_patterns(server: SimulatorServer, http: requests.Session) -> None:
    server.faults.add(r"^/github/repos/[^/]+/ledger$", "status", regex=True, method="HEAD", status=500)
    assert http.get(f"{server.github_url}/repos/acme/ledger", timeout=10).status_code == 200
    assert http.head(f"{server.github_url}/repos/acme/ledger", timeout=10).status_code == 500


def test_connection_reset_closes_without_a_response(server: SimulatorServer, http: requests.Session) -> None:
    server.faults.add("/github/repos/*/pulls", "connection_reset", times=1)
    with pytest.raises(requests.ConnectionError):
        http.get(f"{server.github_url}{PULLS}", timeout=10)
    assert http.get(f"{server.github_url}{PULLS}", timeout=10).status_code == 200
    assert server.count("/github", status="connection_reset") == 1


def test_delay_slows_the_response_but_serves_it(server: SimulatorServer, http: requests.Session) -> None:
    server.faults.add("/github/repos/acme/ledger", "delay", delay_seconds=0.3, times=1)
    started = time.perf_counter()
    response = http.get(f"{server.github_url}/repos/acme/ledger", timeout=10)
    assert response.status_code == 200 and time.perf_counter() - started >= 0.3
    with pytest.raises(requests.Timeout):
        server.faults.add("/github/repos/acme/ledger", "delay", delay_seconds=0.5, times=1)
        http.get(f"{server.github_url}/repos/acme/ledger", timeout=0.2)


def test_truncated_body_promises_the_full_length_but_sends_part(server: SimulatorServer,
                                                               http: requests.Session) -> None:
    server.faults.add("/github/repos/*/pulls", "truncated_body", fraction=0.5, times=1)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        http.get(f"{server.github_url}{PULLS}", timeout=10)
    assert len(http.get(f"{server.github_url}{PULLS}?state=all", timeout=10).json()) == 30
    assert server.count("/github", status="truncated") == 1


def test_primary_rate_limit_fault_has_remaining_zero_and_a_reset(server: SimulatorServer,
                                                                 http: requests.Session) -> None:
    server.faults.add("/github/*", "rate_limited", style="primary", reset_in=30, times=1)
    response = http.get(f"{server.github_url}{PULLS}", timeout=10)
    assert response.status_code == 403 and response.headers["X-RateLimit-Remaining"] == "0"
    assert 25 <= int(response.headers["X-RateLimit-Reset"]) - time.time() <= 31


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_fault_sends_retry_after(server: SimulatorServer, http: requests.Session,
                                                      status: int) -> None:
    server.faults.add("/github/*", "rate_limited", style="secondary", status=status, retry_after=7, times=1)
    response = http.get(f"{server.github_url}{PULLS}", timeout=10)
    assert response.status_code == status and response.headers["Retry-After"] == "7"
    assert "secondary rate limit" in response.json()["message"]
    assert http.get(f"{server.github_url}{PULLS}", timeout=10).status_code == 200


def test_token_revoked_after_n_requests_stays_revoked_for_that_source_only(server: SimulatorServer,
                                                                           http: requests.Session) -> None:
    server.faults.add("/github/*", "revoke_token", after=2)
    codes = [http.get(f"{server.github_url}/repos/acme/ledger", timeout=10).status_code for _ in range(3)]
    later = http.get(f"{server.github_url}/orgs/acme/repos", timeout=10)
    assert codes == [200, 200, 401] and later.status_code == 401
    assert later.json()["message"] == "Bad credentials"
    assert http.get(f"{server.url_for('echo')}/x", timeout=10).status_code == 200
    assert server.stats()["faults"]["revoked_sources"] == ["/github"]
    server.faults.clear()
    assert http.get(f"{server.github_url}/orgs/acme/repos", timeout=10).status_code == 200


def test_mutation_while_paging_shifts_records_under_a_sort_updated_crawl(server: SimulatorServer,
                                                                         http: requests.Session) -> None:
    before = {pr.number for pr in server.org.pull_requests["acme/ledger"]}
    server.faults.add("/github/repos/acme/ledger/pulls", "mutate_while_paging", after=1, times=1,
                      callback=lambda: server.api.churn_pull_requests("acme/ledger"))
    url = f"{server.github_url}{PULLS}?state=all&sort=updated&direction=desc&per_page=50"
    seen: list[int] = []
    while url:
        response = http.get(url, timeout=10)
        seen += [item["number"] for item in response.json()]
        url = response.links.get("next", {}).get("url")
    after = {pr.number for pr in server.org.pull_requests["acme/ledger"]}
    new_numbers = after - before
    assert len(new_numbers) == 1
    # Page 1 was served before the change: the new and the bumped PR went onto the page already
    # read, so the crawl never sees the new PR and later pages repeat records shifted down.
    assert not new_numbers & set(seen)
    assert len(set(seen)) < len(seen)
    fresh = http.get(f"{server.github_url}{PULLS}?state=all&sort=updated&direction=desc&per_page=2",
                     timeout=10).json()
    assert {item["number"] for item in fresh} >= new_numbers


def test_faults_are_configured_over_http_and_cleared_with_delete(server: SimulatorServer,
                                                                 http: requests.Session) -> None:
    admin = f"{server.base_url}/_sim/faults"
    created = requests.post(admin, json=[{"path": "/github/repos/*/pulls", "fault": "status", "status": 503,
                                          "times": 5},
                                         {"path": "/echo/*", "fault": "revoke_token", "revoke_token_after": 0}],
                            timeout=10)
    assert created.status_code == 201 and len(created.json()["added"]) == 2
    assert http.get(f"{server.github_url}{PULLS}", timeout=10).status_code == 503
    assert http.get(f"{server.url_for('echo')}/a", timeout=10).status_code == 401
    plan = requests.get(admin, timeout=10).json()
    assert [rule["fired"] for rule in plan["rules"]] == [1, 1]
    stats = requests.get(f"{server.base_url}/_sim/stats", timeout=10).json()
    assert stats["sources"]["/github"]["routes"]["GET /repos/{owner}/{repo}/pulls"] == {"503": 1}
    assert stats["sources"]["/echo"]["routes"]["GET /a"] == {"401": 1}
    assert requests.delete(admin, timeout=10).json()["rules"] == []
    assert http.get(f"{server.github_url}{PULLS}", timeout=10).status_code == 200
    assert http.get(f"{server.url_for('echo')}/a", timeout=10).status_code == 200


def test_named_mutation_over_http(server: SimulatorServer, http: requests.Session) -> None:
    before = len(server.org.pull_requests["acme/web-app"])
    response = requests.post(f"{server.base_url}/_sim/faults",
                             json={"path": "/github/repos/acme/web-app/pulls", "fault": "mutate_while_paging",
                                   "mutation": "github_pull_requests", "params": {"repo": "acme/web-app"}},
                             timeout=10)
    assert response.status_code == 201
    http.get(f"{server.github_url}/repos/acme/web-app/pulls", timeout=10)
    assert len(server.org.pull_requests["acme/web-app"]) == before + 1


@pytest.mark.parametrize("rule", [
    {"path": "/github/*", "fault": "explode"},
    {"path": "/github/*"},
    {"path": "/github/*", "fault": "status", "probability": 2},
    {"path": "/github/*", "fault": "status", "colour": "red"},
    {"path": "/github/*", "fault": "mutate_while_paging", "mutation": "nope"},
    {"path": "([", "fault": "status", "regex": True},
])
def test_invalid_rules_are_rejected_with_422_and_add_nothing(server: SimulatorServer, rule: dict) -> None:
    response = requests.post(f"{server.base_url}/_sim/faults", json=[{"path": "/x", "fault": "status"}, rule],
                             timeout=10)
    assert response.status_code == 422
    assert server.faults.rules == []


def test_plan_rejects_bad_python_configuration() -> None:
    with pytest.raises(FaultConfigError):
        FaultPlan().add("/github/*", "rate_limited", style="tertiary")
    with pytest.raises(FaultConfigError):
        FaultPlan().add("/github/*", "mutate_while_paging")
