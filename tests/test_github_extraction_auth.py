"""Credentials: GitHub App JWT + installation token exchange, token pools, redirects."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from extractors.auth import GitHubAppAuth, TokenPool
from extractors.errors import AuthenticationError
from extractors.http import HttpClient
from kpi.credentials import get_github_credentials
from tests.support.scripted_server import FakeClock, Scripted, ScriptedServer

TOKEN_PATH = "/app/installations/42/access_tokens"


@pytest.fixture(scope="module")
def key_pair():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return pem, private.public_key()


@pytest.fixture
def server():
    with ScriptedServer() as srv:
        yield srv


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_app_jwt_is_rs256_signed_with_issuer_and_ten_minute_bound(key_pair):
    pem, public = key_pair
    clock = FakeClock()
    auth = GitHubAppAuth(1234, pem, 42, "https://ghe.example.com/api/v3", clock=clock.time)
    claims = jwt.decode(auth.app_jwt(), public, algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False})
    assert claims["iss"] == "1234"
    assert claims["iat"] == int(clock.now) - 60 and claims["exp"] - claims["iat"] <= 600


def test_installation_token_is_exchanged_once_cached_and_refreshed_before_expiry(server, key_pair):
    pem, public = key_pair
    clock = FakeClock()
    server.add(TOKEN_PATH, Scripted(201, {"token": "ghs_first", "expires_at": iso(clock.now + 3600)}),
               Scripted(201, {"token": "ghs_second", "expires_at": iso(clock.now + 7200)}))
    server.add("/repos/a/b/pulls", Scripted(body=[]))
    auth = GitHubAppAuth("1234", pem, "42", server.base_url, clock=clock.time)
    client = HttpClient(server.base_url, auth, sleep=clock.sleep, clock=clock.time)
    client.get("/repos/a/b/pulls")
    client.get("/repos/a/b/pulls")
    assert auth.exchanges == 1
    [exchange] = [r for r in server.received if r.method == "POST"]
    assert exchange.path == TOKEN_PATH
    app_jwt = exchange.headers["Authorization"].removeprefix("Bearer ")
    assert jwt.decode(app_jwt, public, algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False})["iss"] == "1234"
    assert [r.headers["Authorization"] for r in server.requests_to("/repos/a/b/pulls")] == ["Bearer ghs_first"] * 2
    clock.now += 3600 - 200  # inside the 5-minute margin: refresh
    client.get("/repos/a/b/pulls")
    assert auth.exchanges == 2
    assert server.requests_to("/repos/a/b/pulls")[-1].headers["Authorization"] == "Bearer ghs_second"
    assert "ghs_" not in repr(auth) and "PRIVATE" not in repr(auth)


def test_refused_token_exchange_names_the_url_not_the_key(server, key_pair):
    pem, _ = key_pair
    server.add(TOKEN_PATH, Scripted(401, {"message": "A JSON web token could not be decoded"}))
    auth = GitHubAppAuth("1234", pem, "42", server.base_url)
    with pytest.raises(AuthenticationError) as caught:
        auth.installation_token()
    assert TOKEN_PATH in str(caught.value) and "PRIVATE" not in str(caught.value)


def test_token_pool_round_robins_while_budgets_are_unknown_or_equal(server):
    clock = FakeClock()
    tokens = {"Bearer one", "Bearer two", "Bearer three"}
    server.add("/x", Scripted(body=[]))
    client = HttpClient(server.base_url, ["one", "two", "three"], sleep=clock.sleep, clock=clock.time)
    for _ in range(9):
        client.get("/x")
    used = [r.headers["Authorization"] for r in server.received]
    assert set(used) == tokens and all(used.count(token) == 3 for token in tokens)
    assert "one" not in repr(client) and "one" not in repr(client.credentials)


def test_token_pool_switches_tokens_instead_of_waiting_when_one_is_spent(server):
    clock = FakeClock()
    spent = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(clock.now) + 3600)}
    server.add("/x", Scripted(403, {"message": "API rate limit exceeded"}, spent), Scripted(body=[]))
    client = HttpClient(server.base_url, ["one", "two"], sleep=clock.sleep, clock=clock.time,
                        max_rate_limit_wait=60)
    client.get("/x")
    auths = [r.headers["Authorization"] for r in server.received]
    assert auths == ["Bearer one", "Bearer two"] and clock.sleeps == [0.0]
    client.get("/x")  # "one" is spent until its reset: keep using "two"
    assert server.received[-1].headers["Authorization"] == "Bearer two"


def test_same_origin_redirect_keeps_the_token_and_a_foreign_one_drops_it():
    with ScriptedServer() as origin, ScriptedServer() as foreign:
        origin.add("/repos/old/name/pulls", Scripted(301, {"message": "Moved Permanently"},
                                                     {"Location": f"{origin.base_url}/repositories/7/pulls"}))
        origin.add("/repositories/7/pulls", Scripted(body=[{"id": 1}]))
        origin.add("/elsewhere", Scripted(302, None, {"Location": f"{foreign.base_url}/blob"}))
        foreign.add("/blob", Scripted(body=[]))
        client = HttpClient(origin.base_url, "secret-token")
        assert client.get_json("/repos/old/name/pulls") == [{"id": 1}]
        assert origin.requests_to("/repositories/7/pulls")[0].headers["Authorization"] == "Bearer secret-token"
        client.get("/elsewhere")
        assert "Authorization" not in foreign.received[0].headers


def test_connection_extras_configure_an_app_or_several_tokens(monkeypatch, key_pair):
    pem, _ = key_pair
    app = {"conn_type": "http", "host": "https://ghe.example.com/api/v3",
           "extra": {"app_id": "9", "installation_id": "42", "private_key": pem}}
    monkeypatch.setenv("AIRFLOW_CONN_GITHUB_APPTEST", json.dumps(app))
    base_url, credentials = get_github_credentials("github_apptest", "https://api.github.com")
    assert base_url == "https://ghe.example.com/api/v3" and isinstance(credentials, GitHubAppAuth)
    assert credentials.token_url == "https://ghe.example.com/api/v3/app/installations/42/access_tokens"
    pool = {"conn_type": "http", "password": "t0", "extra": {"tokens": ["t1", "t2"]}}
    monkeypatch.setenv("AIRFLOW_CONN_GITHUB_POOLTEST", json.dumps(pool))
    _, credentials = get_github_credentials("github_pooltest", "https://api.github.com")
    assert isinstance(credentials, TokenPool) and credentials.slots == 3
    monkeypatch.setenv("KPI_GITHUB_ENVTEST_TOKEN", "a1, a2")
    _, credentials = get_github_credentials("github_envtest", "https://api.github.com")
    assert credentials.slots == 2


def test_tokens_never_reach_logs_on_retries(server, caplog):
    server.add("/flaky", Scripted(action="reset"), Scripted(body=[]))
    client = HttpClient(server.base_url, ["tok-aaa", "tok-bbb"], backoff_base=0.001)
    with caplog.at_level(logging.DEBUG):
        client.get("/flaky")
    assert "tok-aaa" not in caplog.text and "tok-bbb" not in caplog.text


def test_a_rejected_installation_token_is_reminted_once(server, key_pair):
    pem, _ = key_pair
    clock = FakeClock()
    server.add(TOKEN_PATH, Scripted(201, {"token": "ghs_revoked", "expires_at": iso(clock.now + 3600)}),
               Scripted(201, {"token": "ghs_fresh", "expires_at": iso(clock.now + 3600)}))
    server.add("/repos/a/b/pulls", Scripted(401, {"message": "Bad credentials"}), Scripted(body=[]))
    auth = GitHubAppAuth("1234", pem, "42", server.base_url, clock=clock.time)
    client = HttpClient(server.base_url, auth, sleep=clock.sleep, clock=clock.time)
    assert client.get_json("/repos/a/b/pulls") == []
    assert auth.exchanges == 2
    assert [r.headers["Authorization"] for r in server.requests_to("/repos/a/b/pulls")] == [
        "Bearer ghs_revoked", "Bearer ghs_fresh"]


def test_a_second_401_after_reminting_fails_naming_the_url(server, key_pair):
    pem, _ = key_pair
    clock = FakeClock()
    server.add(TOKEN_PATH, Scripted(201, {"token": "ghs_one", "expires_at": iso(clock.now + 3600)}),
               Scripted(201, {"token": "ghs_two", "expires_at": iso(clock.now + 3600)}))
    server.add("/repos/a/b/pulls", Scripted(401, {"message": "Bad credentials"}),
               Scripted(401, {"message": "Bad credentials"}))
    auth = GitHubAppAuth("1234", pem, "42", server.base_url, clock=clock.time)
    client = HttpClient(server.base_url, auth, sleep=clock.sleep, clock=clock.time)
    with pytest.raises(AuthenticationError) as caught:
        client.get_json("/repos/a/b/pulls")
    assert "/repos/a/b/pulls" in str(caught.value) and "ghs_" not in str(caught.value)
    assert auth.exchanges == 2


def test_a_personal_token_rejected_with_401_is_not_retried(server):
    server.add("/repos/a/b/pulls", Scripted(401, {"message": "Bad credentials"}))
    client = HttpClient(server.base_url, "ghp_wrong")
    with pytest.raises(AuthenticationError):
        client.get_json("/repos/a/b/pulls")
    assert len(server.requests_to("/repos/a/b/pulls")) == 1
