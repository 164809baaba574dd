"""Failure alerts through the `kpi_alerts` Airflow connection, against local receivers."""

from __future__ import annotations

import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest

from kpi.alerts import AlertFailed, describe_failure, notify_task_failure, scrub, send_alert

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"path": self.path, "json": json.loads(body),
                                    "authorization": self.headers.get("Authorization")})
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(monkeypatch):
    _Webhook.received, _Webhook.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), _Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hooks/T000/B000"
    monkeypatch.setenv("AIRFLOW_CONN_KPI_ALERTS", json.dumps({"conn_type": "http", "host": url}))
    yield _Webhook
    server.shutdown()


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP to accept one message."""

    messages: list[str] = []

    def handle(self):
        self.wfile.write(b"220 localhost ESMTP test\r\n")
        while line := self.rfile.readline():
            command = line.decode().strip().upper()
            if command.startswith(("EHLO", "HELO")):
                self.wfile.write(b"250 localhost\r\n")
            elif command == "DATA":
                self.wfile.write(b"354 go ahead\r\n")
                data = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(chunk.decode())
                type(self).messages.append("".join(data))
                self.wfile.write(b"250 queued\r\n")
            elif command == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


def failed_context(error: Exception) -> dict:
    ti = SimpleNamespace(dag_id="kpi_nightly", task_id="check_scopes", map_index=-1, run_id="scheduled__2026-11-23")
    return {"ti": ti, "run_id": "scheduled__2026-11-23", "exception": error}


def test_a_failed_task_posts_one_webhook_alert_naming_task_run_and_cause(webhook):
    notify_task_failure(failed_context(RuntimeError("batch github__pull_requests acme/api quarantined: merged_at")))
    [alert] = webhook.received
    text = alert["json"]["text"]
    assert alert["path"] == "/hooks/T000/B000"
    assert "kpi_nightly: task check_scopes failed (run scheduled__2026-11-23)" in text
    assert "RuntimeError: batch github__pull_requests acme/api quarantined: merged_at" in text
    assert alert["authorization"] is None


def test_a_token_in_the_cause_never_reaches_the_channel(webhook):
    notify_task_failure(failed_context(RuntimeError(f"GET /repos failed with header Authorization: Bearer {TOKEN}")))
    text = webhook.received[0]["json"]["text"]
    assert TOKEN not in text and "[redacted]" in text


def test_a_webhook_that_refuses_is_an_error_naming_the_connection_not_its_url(webhook):
    webhook.status = 500
    with pytest.raises(AlertFailed) as caught:
        send_alert("subject", "body")
    assert "'kpi_alerts'" in str(caught.value) and "500" in str(caught.value)
    assert "/hooks/" not in str(caught.value)


def test_the_callback_never_raises_when_the_alert_cannot_be_delivered(webhook, caplog):
    webhook.status = 503
    notify_task_failure(failed_context(RuntimeError("boom")))  # no exception escapes
    assert "alert not delivered" in caplog.text


def test_plain_http_to_a_remote_webhook_is_refused(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_KPI_ALERTS", json.dumps({"conn_type": "http", "host": "http://hooks.example.com/x"}))
    with pytest.raises(AlertFailed, match="plain http"):
        send_alert("subject", "body")


def test_without_a_connection_the_alert_is_logged_only(monkeypatch, caplog):
    monkeypatch.delenv("AIRFLOW_CONN_KPI_ALERTS", raising=False)
    assert send_alert("the subject", "the body") is False
    assert "the subject" in caplog.text


def test_an_smtp_connection_mails_the_alert_to_its_recipients(monkeypatch):
    _Smtp.messages = []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("AIRFLOW_CONN_KPI_ALERTS", json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": server.server_address[1],
            "extra": {"to": ["team@example.com"], "from": "kpi@example.com"}}))
        notify_task_failure(failed_context(RuntimeError("mart kpi_security failed its audit")))
    finally:
        server.shutdown()
        server.server_close()
    [message] = _Smtp.messages
    assert "To: team@example.com" in message and "From: kpi@example.com" in message
    assert "task check_scopes failed" in message and "mart kpi_security failed its audit" in message


def test_describe_failure_names_the_map_index_of_a_mapped_task():
    ti = SimpleNamespace(dag_id="kpi_nightly", task_id="extract_scope", map_index=3, run_id="r")
    subject, _ = describe_failure({"ti": ti, "run_id": "r", "exception": None})
    assert "task extract_scope[3] failed" in subject


def test_scrub_removes_known_secrets_and_token_shapes():
    assert scrub(f"x {TOKEN} y") == "x [redacted] y"
    assert scrub("url https://hooks.slack.com/services/T/B/s3cr3t", ("https://hooks.slack.com/services/T/B/s3cr3t",)) \
        == "url [redacted]"
