"""The simulator over real HTTP on 127.0.0.1: auth, pagination, rate limits, errors."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from simulator.generator import generate_org
from simulator.model import Org
from simulator.server import SimulatorServer

ANCHOR = datetime(2026, 11, 26, tzinfo=UTC)


@pytest.fixture(scope="module")
def org() -> Org:
    return generate_org("small", seed=7, anchor=ANCHOR)


@pytest.fixture(scope="module")
def server(org: Org) -> Iterator[SimulatorServer]:
    with SimulatorServer(org, rate_limit=100_000) as running:
        yield running


@pytest.fixture()
def session(server: SimulatorServer) -> Iterator[requests.Session]:
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {server.token}"
        yield http


def crawl(http: requests.Session, url: str) -> tuple[list[dict], int]:
    """Follow Link rel=next to the end; returns (items, pages fetched)."""
    items, pages = [], 0
    while url:
        response = http.get(url, timeout=10)
        response.raise_for_status()
        items += response.json()
        pages += 1
        url = response.links.get("next", {}).get("url")
    return items, pages


def test_server_listens_on_a_free_port_and_exposes_urls(server: SimulatorServer) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.base_url)
    assert server.port > 0
    assert server.github_url == server.base_url + "/github"
    assert re.fullmatch(r"ghs_sim_[0-9a-f]{32}", server.token)


def test_requests_without_a_token_get_401_requires_authentication(server: SimulatorServer) -> None:
    response = requests.get(f"{server.github_url}/orgs/acme/repos", timeout=10)
    assert response.status_code == 401
    assert response.json() == {"message": "Requires authentication",
                               "documentation_url": "https://docs.github.com/rest", "status": "401"}


def test_wrong_token_gets_401_bad_credentials(server: SimulatorServer) -> None:
    response = requests.get(f"{server.github_url}/orgs/acme/repos", headers={"Authorization": "token nope"},
                            timeout=10)
    assert response.status_code == 401
    assert response.json()["message"] == "Bad credentials"


def test_token_scheme_is_accepted_as_well_as_bearer(server: SimulatorServer) -> None:
    response = requests.get(f"{server.github_url}/repos/acme/ledger",
                            headers={"Authorization": f"token {server.token}"}, timeout=10)
    assert response.status_code == 200
    assert response.json()["full_name"] == "acme/ledger"
    assert response.json()["default_branch"] == "main"


def test_org_repos_lists_all_eight_repositories(server: SimulatorServer, session: requests.Session,
                                               org: Org) -> None:
    repos, pages = crawl(session, f"{server.github_url}/orgs/acme/repos?per_page=3&sort=full_name")
    assert pages == 3
    assert [r["full_name"] for r in repos] == sorted(r.full_name for r in org.repositories)


def test_pagination_with_per_page_100_reaches_every_pull_request_exactly_once(
        server: SimulatorServer, session: requests.Session, org: Org) -> None:
    for repo in org.repositories:
        expected = org.pull_requests[repo.full_name]
        items, pages = crawl(session, f"{server.github_url}/repos/{repo.full_name}/pulls?state=all&per_page=100")
        assert pages == -(-len(expected) // 100)
        assert sorted(item["id"] for item in items) == sorted(pr.id for pr in expected)
        # Default sort is created, descending.
        assert [item["number"] for item in items] == [pr.number for pr in
                                                      sorted(expected, key=lambda pr: pr.created_at, reverse=True)]


def test_state_defaults_to_open_like_github(server: SimulatorServer, session: requests.Session, org: Org) -> None:
    items, _ = crawl(session, f"{server.github_url}/repos/acme/web-app/pulls?per_page=100")
    expected = {pr.number for pr in org.pull_requests["acme/web-app"] if pr.state == "open"}
    assert {item["number"] for item in items} == expected
    assert all(item["state"] == "open" for item in items)


def test_sort_updated_defaults_to_ascending(server: SimulatorServer, session: requests.Session) -> None:
    items = session.get(f"{server.github_url}/repos/acme/ledger/pulls?state=closed&sort=updated&per_page=50",
                        timeout=10).json()
    stamps = [item["updated_at"] for item in items]
    assert stamps == sorted(stamps) and len(stamps) == 50


def test_per_page_above_100_is_clamped_to_100(server: SimulatorServer, session: requests.Session) -> None:
    response = session.get(f"{server.github_url}/repos/acme/payments-api/pulls?state=all&per_page=500",
                           timeout=10)
    assert len(response.json()) == 100
    assert "per_page=500" in response.links["next"]["url"]


def test_link_header_has_github_format_and_relations(server: SimulatorServer, session: requests.Session,
                                                    org: Org) -> None:
    total = len(org.pull_requests["acme/ledger"])
    last = -(-total // 10)
    base = f"{server.github_url}/repos/acme/ledger/pulls"
    first_page = session.get(f"{base}?state=all&per_page=10", timeout=10)
    assert first_page.headers["Link"] == (f'<{base}?state=all&per_page=10&page=2>; rel="next", '
                                          f'<{base}?state=all&per_page=10&page={last}>; rel="last"')
    middle = session.get(f"{base}?state=all&per_page=10&page=3", timeout=10)
    assert set(middle.links) == {"prev", "next", "last", "first"}
    assert middle.links["prev"]["url"].endswith("page=2") and middle.links["first"]["url"].endswith("page=1")
    last_page = session.get(f"{base}?state=all&per_page=10&page={last}", timeout=10)
    assert set(last_page.links) == {"prev", "first"}
    assert len(last_page.json()) == total - (last - 1) * 10


def test_deployments_are_newest_first_and_filter_by_environment(server: SimulatorServer,
                                                               session: requests.Session, org: Org) -> None:
    items, _ = crawl(session, f"{server.github_url}/repos/acme/ledger/deployments?environment=production"
                              "&per_page=100")
    expected = [d for d in org.deployments["acme/ledger"] if d.environment == "production"]
    assert [item["id"] for item in items] == sorted((d.id for d in expected), reverse=True)
    assert all(item["environment"] == "production" for item in items)


def test_statuses_url_in_payload_can_be_followed(server: SimulatorServer, session: requests.Session,
                                                 org: Org) -> None:
    deployment = session.get(f"{server.github_url}/repos/acme/ledger/deployments?per_page=1", timeout=10).json()[0]
    statuses = session.get(deployment["statuses_url"], timeout=10).json()
    model = next(d for d in org.deployments["acme/ledger"] if d.id == deployment["id"])
    assert [s["id"] for s in statuses] == sorted((s.id for s in model.statuses), reverse=True)
    assert deployment["updated_at"] == statuses[0]["created_at"]


def test_rate_limit_headers_decrement_per_request(server: SimulatorServer, session: requests.Session) -> None:
    first = session.get(f"{server.github_url}/repos/acme/ledger", timeout=10)
    second = session.get(f"{server.github_url}/repos/acme/ledger", timeout=10)
    assert first.headers["X-RateLimit-Limit"] == "100000"
    assert int(second.headers["X-RateLimit-Remaining"]) == int(first.headers["X-RateLimit-Remaining"]) - 1
    assert int(second.headers["X-RateLimit-Used"]) == int(first.headers["X-RateLimit-Used"]) + 1
    assert 0 < int(first.headers["X-RateLimit-Reset"]) - time.time() <= 3600
    assert first.headers["X-RateLimit-Resource"] == "core"
    assert first.headers["Content-Type"] == "application/json; charset=utf-8"
    assert first.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert re.fullmatch(r'W/"[0-9a-f]{32}"', first.headers["ETag"])


def test_exhausting_a_small_rate_limit_yields_403_with_remaining_zero(org: Org) -> None:
    with SimulatorServer(org, rate_limit=3) as small, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {small.token}"
        codes = [http.get(f"{small.github_url}/repos/acme/ledger", timeout=10).status_code for _ in range(3)]
        blocked = http.get(f"{small.github_url}/repos/acme/ledger", timeout=10)
        overview = http.get(f"{small.github_url}/rate_limit", timeout=10).json()
    assert codes == [200, 200, 200]
    assert blocked.status_code == 403
    assert blocked.json()["message"].startswith("API rate limit exceeded")
    assert blocked.headers["X-RateLimit-Remaining"] == "0"
    assert overview["resources"]["core"]["remaining"] == 0 and overview["rate"]["used"] == 3


def test_unknown_repository_and_route_give_404(server: SimulatorServer, session: requests.Session) -> None:
    for path in ("/repos/acme/nope", "/repos/acme/nope/pulls", "/orgs/other/repos", "/no/such/route",
                 "/repos/acme/ledger/deployments/1/statuses"):
        response = session.get(f"{server.github_url}{path}", timeout=10)
        assert response.status_code == 404, path
        assert response.json()["message"] == "Not Found"


def test_invalid_state_is_a_validation_error(server: SimulatorServer, session: requests.Session) -> None:
    response = session.get(f"{server.github_url}/repos/acme/ledger/pulls?state=merged", timeout=10)
    assert response.status_code == 422


def test_payload_urls_point_at_the_server_itself(server: SimulatorServer, session: requests.Session) -> None:
    pr = session.get(f"{server.github_url}/repos/acme/ledger/pulls?state=closed&per_page=1", timeout=10).json()[0]
    assert pr["url"] == f"{server.github_url}/repos/acme/ledger/pulls/{pr['number']}"
    assert pr["html_url"].startswith(server.base_url)
    assert session.get(pr["base"]["repo"]["url"], timeout=10).json()["name"] == "ledger"


def test_if_none_match_with_current_etag_returns_304(server: SimulatorServer, session: requests.Session) -> None:
    url = f"{server.github_url}/repos/acme/ledger"
    etag = session.get(url, timeout=10).headers["ETag"]
    assert session.get(url, headers={"If-None-Match": etag}, timeout=10).status_code == 304


def test_admin_stats_count_requests_per_route(org: Org) -> None:
    with SimulatorServer(org) as fresh, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {fresh.token}"
        http.get(f"{fresh.github_url}/orgs/acme/repos", timeout=10)
        http.get(f"{fresh.github_url}/repos/acme/ledger/pulls", timeout=10)
        http.get(f"{fresh.github_url}/repos/acme/ledger/pulls?page=2", timeout=10)
        stats = requests.get(f"{fresh.base_url}/_sim/stats", timeout=10).json()
        assert fresh.request_count == 3
    assert stats["github_requests"] == 3 and stats["requests"] == 3
    assert stats["routes"] == {"GET /orgs/{org}/repos": 1, "GET /repos/{owner}/{repo}/pulls": 2}
    assert stats["sources"]["/github"]["routes"] == {"GET /orgs/{org}/repos": {"200": 1},
                                                     "GET /repos/{owner}/{repo}/pulls": {"200": 2}}


def test_many_servers_start_and_stop_quickly(org: Org) -> None:
    started = time.perf_counter()
    for _ in range(10):
        with SimulatorServer(org) as running:
            assert requests.get(f"{running.base_url}/_sim/health", timeout=10).json()["org"] == "acme"
    assert time.perf_counter() - started < 5


def test_requested_api_version_is_echoed(server: SimulatorServer, session: requests.Session) -> None:
    response = session.get(f"{server.github_url}/rate_limit", headers={"X-GitHub-Api-Version": "2026-03-10"},
                           timeout=10)
    assert response.headers["X-GitHub-Api-Version"] == "2026-03-10"
    assert response.json()["resources"]["core"]["limit"] == 100_000


def test_304_for_a_matching_etag_does_not_spend_the_rate_limit(org: Org) -> None:
    with SimulatorServer(org, rate_limit=10) as fresh, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {fresh.token}"
        url = f"{fresh.github_url}/repos/acme/ledger/pulls?state=all"
        first = http.get(url, timeout=10)
        revalidations = [http.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=10)
                         for _ in range(15)]  # more than the whole budget
        changed = http.get(url, headers={"If-None-Match": 'W/"stale"'}, timeout=10)
    assert first.headers["X-RateLimit-Remaining"] == "9"
    assert {r.status_code for r in revalidations} == {304}
    assert {r.headers["X-RateLimit-Remaining"] for r in revalidations} == {"9"}
    assert revalidations[0].content == b"" and revalidations[0].headers["ETag"] == first.headers["ETag"]
    assert changed.status_code == 200 and changed.headers["X-RateLimit-Remaining"] == "8"


def test_issues_since_and_labels_filters(server: SimulatorServer, session: requests.Session, org: Org) -> None:
    since = "2026-11-01T00:00:00Z"
    items, _ = crawl(session, f"{server.github_url}/repos/acme/web-app/issues?state=all&since={since}&per_page=100")
    expected = [i for i in org.issues["acme/web-app"] + org.pull_requests["acme/web-app"]
                if i.updated_at >= datetime(2026, 11, 1, tzinfo=UTC)]
    assert sorted(item["number"] for item in items) == sorted(i.number for i in expected)
    bugs, _ = crawl(session, f"{server.github_url}/repos/acme/web-app/issues?state=all&labels=bug&per_page=100")
    assert bugs and all("bug" in {label["name"] for label in item["labels"]} for item in bugs)
    bad = session.get(f"{server.github_url}/repos/acme/web-app/issues?since=yesterday", timeout=10)
    assert bad.status_code == 422


def test_renamed_repository_redirects_to_repositories_by_id(server: SimulatorServer, session: requests.Session,
                                                            org: Org) -> None:
    repo = next(r for r in org.repositories if r.previous_names)
    old = repo.previous_names[0]
    moved = session.get(f"{server.github_url}/repos/{old}/pulls?state=all&per_page=5", allow_redirects=False,
                        timeout=10)
    assert moved.status_code == 301
    assert moved.headers["Location"] == f"{server.github_url}/repositories/{repo.id}/pulls?state=all&per_page=5"
    assert moved.json()["message"] == "Moved Permanently"
    followed = session.get(f"{server.github_url}/repos/{old}/pulls?state=all&per_page=5", timeout=10)
    direct = session.get(f"{server.github_url}/repos/{repo.full_name}/pulls?state=all&per_page=5", timeout=10)
    assert followed.status_code == 200 and followed.json() == direct.json()
    assert followed.links["next"]["url"].startswith(f"{server.github_url}/repositories/{repo.id}/pulls?")
    assert session.get(f"{server.github_url}/repositories/{repo.id}", timeout=10).json()["full_name"] == repo.full_name
    assert session.get(f"{server.github_url}/repositories/1", timeout=10).status_code == 404


def test_actions_runs_filters(server: SimulatorServer, session: requests.Session, org: Org) -> None:
    runs = org.workflow_runs["acme/ledger"]
    base = f"{server.github_url}/repos/acme/ledger/actions/runs"
    main_push = session.get(f"{base}?branch=main&per_page=100", timeout=10).json()
    assert main_push["total_count"] == sum(1 for run in runs if run.head_branch == "main")
    failures = session.get(f"{base}?status=failure&per_page=5", timeout=10)
    assert failures.json()["total_count"] == sum(1 for run in runs if run.conclusion == "failure")
    assert len(failures.json()["workflow_runs"]) == 5 and 'rel="next"' in failures.headers["Link"]
    window = session.get(f"{base}?created=2026-11-02..2026-11-06&per_page=100", timeout=10).json()
    expected = [run for run in runs if datetime(2026, 11, 2, tzinfo=UTC) <= run.created_at < datetime(2026, 11, 7, tzinfo=UTC)]
    assert window["total_count"] == len(expected) > 0
    since = session.get(f"{base}?created=>=2026-11-20&per_page=1", timeout=10).json()
    assert since["total_count"] == sum(1 for run in runs if run.created_at >= datetime(2026, 11, 20, tzinfo=UTC))
    assert session.get(f"{base}?created=last-week", timeout=10).status_code == 422


def test_artifact_zip_redirects_to_a_signed_download_with_real_reports(server: SimulatorServer,
                                                                        session: requests.Session, org: Org) -> None:
    import io
    import zipfile

    run = next(run for run in org.workflow_runs["acme/ledger"] if run.conclusion == "success")
    artifacts = session.get(f"{server.github_url}/repos/acme/ledger/actions/runs/{run.id}/artifacts",
                            timeout=10).json()["artifacts"]
    coverage = next(a for a in artifacts if a["name"] == "coverage-report")
    redirect = session.get(coverage["archive_download_url"], allow_redirects=False, timeout=10)
    assert redirect.status_code == 302
    download = requests.get(redirect.headers["Location"], timeout=10)  # no token: the URL is signed
    assert download.status_code == 200 and download.headers["Content-Type"] == "application/zip"
    assert len(download.content) == coverage["size_in_bytes"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        # acme/ledger's coverage tool writes lcov (each repository keeps one of the four formats)
        assert archive.namelist() == ["coverage/lcov.info"]
        report = archive.read("coverage/lcov.info")
        assert report.startswith(b"TN:") or report.startswith(b"SF:")
        assert b"end_of_record" in report
    tampered = redirect.headers["Location"].replace("sig=", "sig=0")
    assert requests.get(tampered, timeout=10).status_code == 404


def test_dependabot_alerts_use_cursor_pagination_and_filters(server: SimulatorServer, session: requests.Session,
                                                            org: Org) -> None:
    expected = [a for a in org.security_alerts["acme/ledger"] if a.kind == "dependabot"]
    items, pages = crawl(session, f"{server.github_url}/repos/acme/ledger/dependabot/alerts?per_page=2")
    assert sorted(item["number"] for item in items) == sorted(a.number for a in expected)
    assert pages == -(-len(expected) // 2)
    severe = session.get(f"{server.github_url}/repos/acme/ledger/dependabot/alerts?severity=high,critical&state=open,fixed",
                         timeout=10).json()
    assert {(a["number"]) for a in severe} == {a.number for a in expected if a.severity in ("high", "critical")
                                               and a.state in ("open", "fixed")}
    closed = session.get(f"{server.github_url}/repos/acme/ledger/code-scanning/alerts?state=closed", timeout=10).json()
    assert {a["state"] for a in closed} <= {"fixed", "dismissed"}


def test_admin_truth_endpoints_serve_every_truth_with_iso_dates() -> None:
    from datetime import date

    from simulator.gitlab import gitlab_pipeline_facts
    from simulator.jenkins import jenkins_build_facts
    from simulator.simulation import Credentials, build_simulation
    from simulator.truth import deployment_frequency, incidents

    simulation = build_simulation("small", seed=7, anchor=ANCHOR)
    with simulation.server(Credentials()) as server:
        index = requests.get(f"{server.base_url}/_sim/truth", timeout=10).json()["truths"]
        assert {"deployment-frequency", "jenkins-builds", "gitlab-pipelines", "incidents"} <= set(index)
        for name in index:
            assert requests.get(f"{server.base_url}/_sim/truth/{name}", timeout=30).status_code == 200
        assert requests.get(f"{server.base_url}/_sim/truth/nope", timeout=10).status_code == 404

        def expected(rows: list[dict]) -> list[dict]:
            return [{key: (value.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime)
                           else value.isoformat() if isinstance(value, date) else value)
                     for key, value in row.items()} for row in rows]
        for name, rows in (("jenkins-builds", jenkins_build_facts(simulation.jenkins)),
                           ("gitlab-pipelines", gitlab_pipeline_facts(simulation.gitlab)),
                           ("deployment-frequency", deployment_frequency(simulation.org)),
                           ("incidents", incidents(simulation.org))):
            served = requests.get(f"{server.base_url}/_sim/truth/{name}", timeout=30).json()
            assert served == expected(rows) and served, name
        served = requests.get(f"{server.base_url}/_sim/truth/jenkins-builds", timeout=30).json()
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", served[0]["week_start"])
        # Truth follows time travel: computed from the models on every request.
        before = requests.get(f"{server.base_url}/_sim/truth/gitlab-pipelines", timeout=30).json()
        simulation.advance(7)
        after = requests.get(f"{server.base_url}/_sim/truth/gitlab-pipelines", timeout=30).json()
        assert after == expected(gitlab_pipeline_facts(simulation.gitlab)) != before
