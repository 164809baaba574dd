"""Security: tokens never leak, secrets stay out of configuration, hostile names stay data,
published files are read-only, TLS is verified and plain http is refused off this machine.

The leak check runs the whole pipeline in-process (`run_all`: extract, audit, load, dbt
build, mart audit, publish, dashboard) over one repository of a tiny slice of the small
org with a known token, then a second night whose requests to one stream are refused
(403), so an error travels from the HTTP core to the exception and the logs. Every file
under the data directory, the captured logs, stdout and stderr, and the exception with
its traceback are searched for the token's bytes.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import ssl
import stat
import subprocess
import threading
import traceback
from dataclasses import replace
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import duckdb
import pytest

from extractors import jql
from extractors.errors import ExtractError
from extractors.http import HttpClient
from kpi import pipeline
from kpi.config import ConfigError, check_transport, load_config
from kpi.credentials import get_connection_endpoint
from kpi.pipeline import ExtractionFailed
from simulator.generator import SCALES, generate_org
from simulator.jira_jql import tokenize
from simulator.server import SimulatorServer

ANCHOR = datetime(2026, 11, 23, tzinfo=timezone.utc)
TOKEN = "ghs_securityKnownToken0123456789abcdefAB"
TINY = "tiny-security"
REPOSITORY = "acme/platform-core"
HOSTILE_SQL = "x'); drop table raw.github__workflow_runs; --"
HOSTILE_JQL = 'ABC" OR project != "ABC'


@pytest.fixture(scope="module")
def leak_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("security")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("KPI_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("KPI_GITHUB_DEFAULT_TOKEN", TOKEN)  # the credential path the CLI uses
    monkeypatch.delenv("AIRFLOW_CONN_GITHUB_DEFAULT", raising=False)
    monkeypatch.setenv("KPI_AS_OF", ANCHOR.isoformat())
    small = SCALES["small"]
    monkeypatch.setitem(SCALES, TINY, replace(small, teams=(("platform", ("platform-core",)),),
                                              pull_requests=small.pull_requests // 8 * 14 // small.days, days=14))
    org = generate_org(TINY, seed=11, anchor=ANCHOR)
    # A hostile branch name in the data: it must arrive in raw and the marts as a value.
    hostile_run = max(org.workflow_runs[REPOSITORY], key=lambda run: run.id)
    hostile_run.head_branch = HOSTILE_SQL
    # Importing Airflow (for the connection lookup) configures logging and drops the root
    # logger's handlers: look a connection up once before attaching the capturing handler.
    get_connection_endpoint("github_default", "https://api.github.com")
    log_path = root / "pipeline.log"
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root_logger = logging.getLogger()
    previous_level = root_logger.level
    root_logger.addHandler(handler)
    root_logger.setLevel(logging.DEBUG)
    captured_out, captured_err = io.StringIO(), io.StringIO()
    outcome: dict = {"root": root, "log": log_path, "hostile_run": hostile_run.id}
    try:
        with SimulatorServer(org, token=TOKEN, rate_limit=1_000_000) as simulator, \
                contextlib.redirect_stdout(captured_out), contextlib.redirect_stderr(captured_err):
            config_path = root / "pipeline.yaml"
            config_path.write_text(f"""
sources:
  github:
    base_url: {simulator.github_url}
    repositories: [{REPOSITORY}]
    detail_backfill_days: null
    max_rate_limit_wait_seconds: 5
deployments:
  production_environments: [production]
teams:
  - name: platform
    repositories: ["acme/*"]
""")
            config = load_config(config_path)
            outcome.update(data_dir=config.data_dir, published=config.published_warehouse,
                           working=config.working_warehouse)
            outcome["clean"] = pipeline.run_all(config, "night-1")
            # Night 2: one stream's requests are refused, so an HTTP error becomes the run's error.
            # The DAG's steps up to check_scopes, without dbt (nothing new would be built).
            simulator.faults.add(f"/github/repos/{REPOSITORY}/releases", "status", status=403)
            listings = pipeline.extract_listings(config, "night-2")
            results = [pipeline.extract_source_scope(config, scope, "night-2")
                       for scope in pipeline.plan_scopes(config, listings)]
            audited = pipeline.audit_batches(listings + pipeline.scope_manifests(results), data_dir=config.data_dir)
            pipeline.load_raw(config, audited)
            outcome["second"] = pipeline.publish(config, "night-2", results, audited)
            try:
                pipeline.check_scopes(results, audited)
            except ExtractionFailed as error:
                outcome["error"] = error
                outcome["traceback"] = "".join(traceback.format_exception(error))
        outcome["stdout"], outcome["stderr"] = captured_out.getvalue(), captured_err.getvalue()
    finally:
        root_logger.removeHandler(handler)
        root_logger.setLevel(previous_level)
        handler.close()
        monkeypatch.undo()
    yield outcome


def test_the_known_token_is_never_written_logged_or_raised(leak_run):
    token = TOKEN.encode()
    root = leak_run["root"]
    data_dir = leak_run["data_dir"]
    # the pipeline did write what it should: warehouse, published copy, data docs, dashboard, logs
    written = [path for path in root.rglob("*") if path.is_file()]
    names = {path.suffix for path in written}
    assert {".duckdb", ".parquet", ".html", ".jsonl", ".log"} <= names, names
    assert (data_dir / "dashboard" / "index.html").is_file()
    assert any("expectations" in path.parts for path in written)  # Great Expectations Data Docs
    # the error names the failure (so it did reach the exception and the log) ...
    error = leak_run["error"]
    assert "403" in str(error) and REPOSITORY in str(error) and "github_default" in str(error)
    log_text = leak_run["log"].read_text(encoding="utf-8")
    assert "403" in log_text and REPOSITORY in log_text
    # ... and the token is nowhere: files (warehouses, Parquet, docs, dashboard, landing,
    # quarantine, dbt logs and targets, the log), stdout, stderr, the exception and its traceback
    leaking = [str(path) for path in written if token in path.read_bytes()]
    assert leaking == []
    for text in (leak_run["stdout"], leak_run["stderr"], str(error), repr(error), leak_run["traceback"],
                 json.dumps(error.failures, default=str)):
        assert TOKEN not in text


def test_a_hostile_branch_name_is_stored_as_data_and_changes_no_sql(leak_run):
    warehouse = leak_run["working"]
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        stored = connection.execute(
            "select payload->>'head_branch' from raw.github__workflow_runs where record_key = ?",
            [str(leak_run["hostile_run"])]).fetchone()
        tables = {row[0] for row in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()}
    assert stored == (HOSTILE_SQL,)
    assert "github__workflow_runs" in tables  # the "drop table" stayed text
    assert leak_run["clean"]["published"] is True and leak_run["second"]["published"] is False


def test_published_files_are_read_only(leak_run):
    published = leak_run["published"]
    files = [published, *published.parent.rglob("*.parquet"), *published.parent.rglob("manifest.json")]
    assert any(path.suffix == ".parquet" for path in files) and any(path.name == "manifest.json" for path in files)
    writable = [str(path) for path in files if path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)]
    assert writable == []
    # the night that failed published nothing: the read-only copy is still night 1's
    with duckdb.connect(str(published), read_only=True) as connection:
        assert connection.execute("select run_id from meta.publication").fetchone() == ("night-1",)


# -- secrets in configuration ----------------------------------------------------------

BASE = """
sources:
  github:
    base_url: https://api.github.com
    orgs: [acme]
deployments:
  production_environments: [production]
teams:
  - name: payments
    repositories: [acme/payments-*]
"""


@pytest.mark.parametrize("before, after, where", [
    ("    orgs: [acme]", "    orgs: [acme]\n    password: hunter2-literal", "sources.github.password"),
    ("    orgs: [acme]", "    orgs: [acme]\n    client_secret: s3cr3t-literal", "sources.github.client_secret"),
    ("teams:", "alerts:\n  webhook_token: xoxb-literal-value\nteams:", "alerts.webhook_token"),
    ("teams:", "warehouse:\n  data_dir: data\n  secret: literal-value\nteams:", "warehouse.secret"),
])
def test_a_secret_in_the_configuration_is_refused_and_points_at_the_connection(tmp_path, before, after, where):
    path = tmp_path / "pipeline.yaml"
    path.write_text(BASE.replace(before, after))
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    message = str(refused.value)
    assert "secrets are not allowed in configuration files" in message and where in message
    assert "Airflow connection" in message and "environment variable" in message
    assert "literal" not in message and "hunter2" not in message  # the value is never echoed


# -- hostile names -----------------------------------------------------------------------

@pytest.mark.parametrize("before, after, where", [
    ("    orgs: [acme]", f"    orgs: [acme]\n    repositories: [\"acme/{HOSTILE_SQL}\"]", "sources.github.repositories"),
    ("deployments:", f"  jira:\n    base_url: https://jira.example.com\n    projects: ['{HOSTILE_JQL}']\ndeployments:",
     "sources.jira.projects"),
    ("[acme/payments-*]", f"[acme/payments-*]\n    jira_projects: ['{HOSTILE_JQL}']", "teams[0].jira_projects"),
])
def test_hostile_repository_names_and_project_keys_are_refused_by_the_configuration(tmp_path, before, after, where):
    path = tmp_path / "pipeline.yaml"
    path.write_text(BASE.replace(before, after))
    with pytest.raises(ConfigError, match=where.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        load_config(path)


@pytest.mark.parametrize("value", [HOSTILE_JQL, HOSTILE_SQL])
def test_hostile_text_cannot_change_jql(value):
    with pytest.raises(ValueError, match="invalid Jira project key"):
        jql.project_issues(value)
    # as a value (a branch, a version name) it is one quoted string token, whatever it holds
    assert [(token.kind, token.text) for token in tokenize(f"fixVersion = {jql.literal(value)}")] == \
        [("word", "fixVersion"), ("op", "="), ("string", value)]


def test_a_hostile_scope_reaching_the_loader_is_a_value(tmp_path):
    """The loader's SQL names tables from stream declarations only; scopes, keys and payloads
    travel as parameters. A batch whose scope and payload hold SQL is stored verbatim."""
    from extractors.extract import BatchManifest
    from extractors.loader import WarehouseLoader

    batch = tmp_path / "landing" / "run" / "github__releases" / "hostile.jsonl"
    batch.parent.mkdir(parents=True)
    record = {"record_key": HOSTILE_SQL, "scope": HOSTILE_SQL, "updated_at": "2026-11-20T00:00:00Z",
              "payload": {"id": 1, "tag_name": HOSTILE_SQL}}
    batch.write_text(json.dumps(record) + "\n")
    manifest = BatchManifest(stream="github__releases", scope=HOSTILE_SQL, run_id="run", path=str(batch),
                             records=1, previous_cursor=None, new_cursor="2026-11-20T00:00:00Z",
                             extracted_at="2026-11-20T00:00:00Z", requests=1, complete=True)
    warehouse = tmp_path / "work.duckdb"
    WarehouseLoader(warehouse).load([manifest])
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute("select record_key, scope, payload->>'tag_name' from raw.github__releases").fetchall()
    assert rows == [(HOSTILE_SQL, HOSTILE_SQL, HOSTILE_SQL)]


# -- transport ---------------------------------------------------------------------------

class _Recorder(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self):  # noqa: N802
        type(self).seen.append(self.headers.get("Authorization") or "")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def self_signed_https(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    _Recorder.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_port}", cert
    server.shutdown()


def test_an_https_server_with_a_self_signed_certificate_is_refused_by_default(self_signed_https, monkeypatch):
    url, cert = self_signed_https
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(variable, raising=False)
    client = HttpClient(url, TOKEN, max_retries=1, backoff_base=0.01, backoff_max=0.01)
    with pytest.raises(ExtractError) as refused:
        client.get_json("/repos/acme/x")
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value) or "certificate" in str(refused.value).lower()
    assert TOKEN not in str(refused.value)
    assert _Recorder.seen == []  # the handshake failed: no request, no token, reached the server
    # the same server is accepted once its certificate is trusted: the refusal was verification
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    assert HttpClient(url, TOKEN, max_retries=1).get_json("/repos/acme/x") == {}
    assert _Recorder.seen == [f"Bearer {TOKEN}"]


@pytest.mark.parametrize("url", [
    "http://ghe.example.com/api/v3", "http://10.0.0.5:8080/github", "http://127.0.0.1.nip.io/github",
    "http://localhost.example.com/", "http://0.0.0.0:8080/",
])
def test_plain_http_to_a_non_loopback_host_is_refused_unless_allowed(url):
    with pytest.raises(ValueError, match="plain http to a non-loopback host"):
        check_transport(url, allow_insecure_http=False)
    check_transport(url, allow_insecure_http=True)  # explicitly allowed: accepted


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765/github", "http://localhost:8765/", "http://[::1]:8765/",
                                 "https://ghe.example.com/api/v3"])
def test_loopback_http_and_any_https_are_accepted(url):
    check_transport(url, allow_insecure_http=False)


def test_allow_insecure_http_is_an_explicit_configuration_choice(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text(BASE.replace("https://api.github.com", "http://ghe.example.com/api/v3"))
    with pytest.raises(ConfigError, match="plain http to a non-loopback host"):
        load_config(path)
    path.write_text(BASE.replace("https://api.github.com", "http://ghe.example.com/api/v3\n    allow_insecure_http: true"))
    assert load_config(path).sources.github.allow_insecure_http is True
