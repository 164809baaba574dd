"""Failure alerts: a Slack-style webhook or an e-mail, configured by an Airflow connection.

The connection (default id `kpi_alerts`, see `alerts.connection_id` in config/pipeline.yaml):

- conn_type `http` (or `https`, `slackwebhook`): the webhook URL is the connection's host
  (a full URL, e.g. https://hooks.slack.com/services/T000/B000/XXXX); the alert is POSTed
  as JSON `{"text": ...}`, which Slack, Mattermost, Rocket.Chat and Teams' workflow
  webhooks accept. A password, when set, is sent as `Authorization: Bearer`.
- conn_type `smtp` (or `email`): host, port, login/password (optional), extra
  `{"to": ["team@example.com"], "from": "kpi@example.com", "starttls": true}`.

No connection: the alert is only logged. The webhook URL is itself a secret (Slack's is),
so it is never logged; an alert's text is scrubbed of anything shaped like a token.
"""

from __future__ import annotations

import logging
import re
import smtplib
from email.message import EmailMessage
from typing import Any

import requests

from kpi.config import check_transport

log = logging.getLogger(__name__)

DEFAULT_CONNECTION_ID = "kpi_alerts"
WEBHOOK_TYPES = {"http", "https", "slackwebhook", "slack_webhook", "webhook"}
EMAIL_TYPES = {"smtp", "email"}
SAMPLE_LINE = "    e.g. "  # how expectations.runner.Failure.describe shows a sample row
MAX_TEXT = 3500  # Slack truncates longer messages; the Airflow log keeps the whole error

# Token shapes (GitHub, GitLab, Slack, Atlassian, JWTs, Bearer/Basic headers): an error that
# quotes a header or a URL with a key must not carry it into a chat channel.
_TOKEN_SHAPES = re.compile(
    r"(gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,}|glpat-[A-Za-z0-9_\-]{16,}|xox[bap]-[A-Za-z0-9-]{10,}"
    r"|ATATT[A-Za-z0-9_\-=]{16,}|eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"
    r"|(?i:(?:bearer|basic|token)\s+)[A-Za-z0-9._~+/=\-]{12,})"
)


class AlertFailed(RuntimeError):
    """The alert could not be delivered (the message names the connection, never its URL)."""


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _TOKEN_SHAPES.sub("[redacted]", text)


def _connection(connection_id: str) -> Any | None:
    from kpi.credentials import _airflow_connection

    return _airflow_connection(connection_id)


def send_alert(subject: str, body: str, connection_id: str = DEFAULT_CONNECTION_ID) -> bool:
    """Deliver one alert; False when no connection is defined (logged instead)."""
    connection = _connection(connection_id)
    if connection is None:
        log.warning("no alert connection %r defined; alert logged only:\n%s\n%s", connection_id, subject, body)
        return False
    secrets = tuple(filter(None, (connection.password, connection.host)))
    subject, body = scrub(subject, secrets), scrub(body, secrets)
    if len(body) > MAX_TEXT:
        # Sample rows of failed expectations go first: the names of what failed matter more.
        without_samples = "\n".join(line for line in body.splitlines() if not line.startswith(SAMPLE_LINE))
        if len(without_samples) < len(body):
            body = without_samples + "\n(sample rows left out; the task log has them)"
    if len(body) > MAX_TEXT:
        body = body[:MAX_TEXT] + "\n… (truncated; the task log has the whole message)"
    kind = (connection.conn_type or "").lower()
    if kind in WEBHOOK_TYPES:
        _post_webhook(connection, connection_id, subject, body)
    elif kind in EMAIL_TYPES:
        _send_email(connection, connection_id, subject, body)
    else:
        raise AlertFailed(f"alert connection {connection_id!r} has conn_type {connection.conn_type!r}; "
                          f"expected one of {sorted(WEBHOOK_TYPES | EMAIL_TYPES)}")
    return True


def _post_webhook(connection: Any, connection_id: str, subject: str, body: str) -> None:
    url = connection.host or ""
    if "://" not in url:
        url = f"https://{url}"
    extra = connection.extra_dejson or {}
    try:
        check_transport(url, bool(extra.get("allow_insecure_http")))
    except ValueError:
        raise AlertFailed(f"alert connection {connection_id!r}: plain http to a non-loopback host is refused; "
                          "use https or set extra allow_insecure_http") from None
    headers = {"Authorization": f"Bearer {connection.password}"} if connection.password else {}
    try:
        response = requests.post(url, json={"text": f"{subject}\n{body}"}, headers=headers, timeout=15)
    except requests.RequestException as error:
        raise AlertFailed(f"alert connection {connection_id!r}: webhook unreachable ({type(error).__name__})") from None
    if response.status_code >= 300:
        raise AlertFailed(f"alert connection {connection_id!r}: webhook answered {response.status_code}")


def _send_email(connection: Any, connection_id: str, subject: str, body: str) -> None:
    extra = connection.extra_dejson or {}
    recipients = extra.get("to") or []
    recipients = [recipients] if isinstance(recipients, str) else list(recipients)
    if not recipients:
        raise AlertFailed(f"alert connection {connection_id!r}: extra 'to' names no recipient")
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = extra.get("from") or connection.login or "kpi-warehouse@localhost"
    message["To"] = ", ".join(recipients)
    message.set_content(body)
    try:
        with smtplib.SMTP(connection.host, connection.port or 25, timeout=15) as smtp:
            if extra.get("starttls"):
                smtp.starttls()
            if connection.login and connection.password:
                smtp.login(connection.login, connection.password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise AlertFailed(f"alert connection {connection_id!r}: mail not sent ({type(error).__name__})") from None


def describe_failure(context: Any) -> tuple[str, str]:
    """(subject, body) of a failed task from its Airflow context."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or "kpi_nightly"
    task_id = getattr(ti, "task_id", "?")
    map_index = getattr(ti, "map_index", -1)
    label = f"{task_id}[{map_index}]" if map_index not in (None, -1) else task_id
    run_id = context.get("run_id") or getattr(ti, "run_id", "?")
    error = context.get("exception")
    cause = f"{type(error).__name__}: {error}" if error is not None else "see the task log"
    subject = f"[kpi-warehouse] {dag_id}: task {label} failed (run {run_id})"
    body = (f"{cause}\n\nThe published warehouse was not replaced by this run unless the log says "
            "'published'; readers keep the previous one.")
    return subject, body


def notify_task_failure(context: Any) -> None:
    """Airflow `on_failure_callback`: never raises (a broken alert must not hide the failure)."""
    from kpi.config import load_config

    try:
        connection_id = load_config().alerts.connection_id
    except Exception:  # the configuration itself may be what failed
        connection_id = DEFAULT_CONNECTION_ID
    subject, body = describe_failure(context)
    try:
        send_alert(subject, body, connection_id)
    except Exception as error:
        log.error("alert not delivered: %s", error)
