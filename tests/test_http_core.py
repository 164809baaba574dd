"""HttpClient against a scripted server on 127.0.0.1: paging, retries, limits, auth."""

from __future__ import annotations

import logging

import pytest

from extractors.errors import (
    AuthenticationError,
    ForeignUrlRefused,
    HttpError,
    PermissionDenied,
    RateLimitDeferred,
    RetriesExhausted,
)
from extractors.http import HttpClient
from tests.support.scripted_server import FakeClock, Scripted, ScriptedServer, link_header

TOKEN = "ghp_s3cr3t-token-value-0123456789"


@pytest.fixture
def server():
    with ScriptedServer() as srv:
        yield srv


@pytest.fixture
def clock():
    return FakeClock()


def make_client(server: ScriptedServer, clock: FakeClock, **kwargs) -> HttpClient:
    kwargs.setdefault("backoff_base", 0.01)
    return HttpClient(server.base_url, TOKEN, sleep=clock.sleep, clock=clock.time, **kwargs)


def test_paginate_follows_link_next_across_three_pages(server, clock):
    # given three pages chained by Link rel="next"
    server.add("/items", Scripted(body=[{"id": 1}, {"id": 2}], headers=link_header(server.base_url, next="/items?page=2")))
    server.add("/items?page=2", Scripted(body=[{"id": 3}], headers=link_header(server.base_url, next="/items?page=3", prev="/items")))
    server.add("/items?page=3", Scripted(body=[{"id": 4}], headers=link_header(server.base_url, prev="/items?page=2")))
    client = make_client(server, clock)
    # when
    pages = list(client.paginate("/items", {"per_page": 2}))
    # then
    assert [[r["id"] for r in p.records] for p in pages] == [[1, 2], [3], [4]]
    assert client.request_count == 3
    assert server.received[0].path == "/items?per_page=2"


def test_paginate_reads_records_path_of_wrapped_listing(server, clock):
    server.add("/runs", Scripted(body={"total_count": 2, "workflow_runs": [{"id": 7}, {"id": 8}]}))
    pages = list(make_client(server, clock).paginate("/runs", records_path="workflow_runs"))
    assert [r["id"] for r in pages[0].records] == [7, 8]


def test_base_url_path_prefix_is_kept_for_relative_paths(server, clock):
    server.add("/api/v3/repos/a/b", Scripted(body={"ok": True}))
    client = HttpClient(server.base_url + "/api/v3/", TOKEN, sleep=clock.sleep, clock=clock.time)
    assert client.get("/repos/a/b").json() == {"ok": True}


def test_sends_bearer_token_and_user_agent(server, clock):
    server.add("/x", Scripted(body=[]))
    make_client(server, clock).get("/x")
    headers = server.received[0].headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["User-Agent"] == "kpi-warehouse/0.1"


def test_retries_502_then_succeeds(server, clock, caplog):
    server.add("/flaky", Scripted(502, {"message": "bad gateway"}), Scripted(body=[{"id": 1}]))
    client = make_client(server, clock)
    with caplog.at_level(logging.WARNING, logger="extractors.http"):
        response = client.get("/flaky")
    assert response.json() == [{"id": 1}]
    assert client.request_count == 2
    assert len(clock.sleeps) == 1 and 0 <= clock.sleeps[0] <= 0.01  # full jitter within base
    assert "/flaky" in caplog.text and "HTTP 502" in caplog.text
    assert TOKEN not in caplog.text


@pytest.mark.parametrize("failure", ["reset", "truncate"])
def test_connection_reset_or_truncated_body_is_retried(server, clock, failure):
    server.add("/unstable", Scripted(body=[{"id": 1}, {"id": 2}], action=failure), Scripted(body=[{"id": 1}]))
    client = make_client(server, clock)
    assert client.get("/unstable").json() == [{"id": 1}]
    assert client.request_count == 2


def test_invalid_json_body_is_retried(server, clock):
    server.add("/garbled", Scripted(body=b'[{"id": 1}, {"id'), Scripted(body=[{"id": 1}]))
    client = make_client(server, clock)
    assert client.get("/garbled").json() == [{"id": 1}]
    assert client.request_count == 2


def test_primary_rate_limit_sleeps_until_reset_then_succeeds(server, clock):
    reset = int(clock.now) + 5
    limited = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
    server.add("/limited", Scripted(403, {"message": "API rate limit exceeded"}, limited), Scripted(body=[]))
    client = make_client(server, clock)
    client.get("/limited")
    assert clock.sleeps == [pytest.approx(6.0)]  # until reset, +1 s safety
    assert client.request_count == 2


def test_primary_rate_limit_beyond_max_wait_defers(server, clock):
    reset = int(clock.now) + 3600
    limited = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
    server.add("/limited", Scripted(403, {"message": "API rate limit exceeded"}, limited))
    client = make_client(server, clock, max_rate_limit_wait=900)
    with pytest.raises(RateLimitDeferred) as caught:
        client.get("/limited")
    assert caught.value.reset_at.timestamp() == reset
    assert "/limited" in str(caught.value)
    assert clock.sleeps == [] and client.request_count == 1


def test_success_with_zero_remaining_waits_before_next_request(server, clock):
    reset = int(clock.now) + 10
    server.add("/a", Scripted(body=[], headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}))
    server.add("/b", Scripted(body=[]))
    client = make_client(server, clock)
    client.get("/a")
    assert clock.sleeps == []  # nothing to wait for until another request is due
    client.get("/b")
    assert clock.sleeps == [pytest.approx(11.0)]
    assert client.request_count == 2


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_sleeps_retry_after_then_retries(server, clock, status):
    server.add("/busy", Scripted(status, {"message": "secondary rate limit"}, {"Retry-After": "2"}), Scripted(body=[{"id": 1}]))
    client = make_client(server, clock)
    assert client.get("/busy").json() == [{"id": 1}]
    assert clock.sleeps == [2.0]
    assert client.request_count == 2


def test_401_raises_authentication_error_without_token(server, clock):
    server.add("/secret", Scripted(401, {"message": "Bad credentials"}))
    client = make_client(server, clock)
    with pytest.raises(AuthenticationError) as caught:
        client.get("/secret")
    error = caught.value
    assert error.status == 401 and "/secret" in str(error)
    for text in (str(error), repr(error), repr(client), str(error.args), str(vars(error))):
        assert TOKEN not in text
    assert client.request_count == 1  # never retried


def test_plain_403_is_permission_denied_without_retry(server, clock):
    server.add("/private", Scripted(403, {"message": "Resource not accessible by integration"}))
    client = make_client(server, clock)
    with pytest.raises(PermissionDenied, match="Resource not accessible"):
        client.get("/private")
    assert client.request_count == 1


def test_404_is_http_error_without_retry(server, clock):
    client = make_client(server, clock)
    with pytest.raises(HttpError) as caught:
        client.get("/missing")
    assert caught.value.status == 404 and client.request_count == 1


def test_retries_exhausted_names_the_url(server, clock):
    server.add("/down", Scripted(503, {"message": "unavailable"}))
    client = make_client(server, clock, max_retries=3)
    with pytest.raises(RetriesExhausted) as caught:
        client.get("/down")
    assert f"{server.base_url}/down" in str(caught.value)
    assert client.request_count == 4  # first try + 3 retries
    assert len(clock.sleeps) == 3
    assert TOKEN not in str(caught.value)


def test_foreign_origin_next_link_is_refused_before_any_request(server, clock):
    server.add("/items", Scripted(body=[{"id": 1}], headers={"Link": '<http://evil.example.com/items?page=2>; rel="next"'}))
    client = make_client(server, clock)
    pages = client.paginate("/items")
    assert next(pages).records == [{"id": 1}]
    with pytest.raises(ForeignUrlRefused, match="evil.example.com"):
        next(pages)
    assert client.request_count == 1


def test_same_host_other_port_is_a_foreign_origin(server, clock):
    client = make_client(server, clock)
    with pytest.raises(ForeignUrlRefused):
        client.get("http://127.0.0.1:1/x")


def test_rate_limit_resets_in_epoch_seconds_milliseconds_or_iso_8601():
    from extractors.auth import epoch_seconds

    assert epoch_seconds("1700000000") == 1_700_000_000
    assert epoch_seconds("1700000000000") == 1_700_000_000  # octokit recordings
    assert epoch_seconds("2023-11-14T22:13:20Z") == 1_700_000_000  # Jira Cloud
    assert epoch_seconds("2023-11-14T22:13:20.000+0000") == 1_700_000_000


def test_gitlab_unprefixed_rate_limit_headers_are_read():
    from requests.structures import CaseInsensitiveDict

    from extractors.auth import rate_limit_headers

    assert rate_limit_headers(CaseInsensitiveDict({"RateLimit-Remaining": "7", "RateLimit-Reset": "1700000000"})) == \
        ("7", "1700000000")
    assert rate_limit_headers(CaseInsensitiveDict({"X-RateLimit-Remaining": "3"})) == ("3", None)
