"""Where secrets come from: Airflow connections first, then environment variables.

Never from config files (kpi.config refuses them) and never into logs or errors: this
module returns the token to the HTTP client and nothing else keeps it.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from extractors.auth import Credentials, GitHubAppAuth, TokenPool, basic_credentials


class MissingCredentials(RuntimeError):
    pass


def token_env_var(connection_id: str) -> str:
    """github_default -> KPI_GITHUB_DEFAULT_TOKEN (for use outside Airflow)."""
    return f"KPI_{connection_id.upper().replace('-', '_').replace('.', '_')}_TOKEN"


def _airflow_connection(connection_id: str) -> Any | None:
    try:
        from airflow.sdk import Connection
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:  # running without Airflow installed
        return None
    try:
        return Connection.get(connection_id)
    except AirflowNotFoundException:
        return None


def _connection_url(connection: Any) -> str | None:
    if connection is None or not connection.host:
        return None
    if "://" in connection.host:
        return connection.host
    port = f":{connection.port}" if connection.port else ""
    path = f"/{connection.schema.strip('/')}" if connection.schema else ""
    return f"https://{connection.host}{port}{path}"


def get_connection_endpoint(connection_id: str, default_url: str) -> tuple[str, str]:
    """(base URL, token) for a source.

    The token is the connection's password, else $KPI_<CONN>_TOKEN. The connection's host,
    when set, overrides the configured base URL, so an Airflow deployment can repoint a
    source (e.g. at the simulator) without a config change.
    """
    connection = _airflow_connection(connection_id)
    env_name = token_env_var(connection_id)
    token = (connection.password if connection is not None else None) or os.environ.get(env_name)
    if not token:
        raise MissingCredentials(
            f"no token for connection {connection_id!r}: define the Airflow connection "
            f"(AIRFLOW_CONN_{connection_id.upper()} or `airflow connections add {connection_id} "
            f"--conn-type http --conn-host <api url> --conn-password <token>`) or set {env_name}"
        )
    return (_connection_url(connection) or default_url).rstrip("/"), token


def _extras(connection: Any) -> dict[str, Any]:
    if connection is None:
        return {}
    try:
        extras = connection.extra_dejson
    except Exception:  # an unparsable extra is reported as "no extras", never echoed
        return {}
    return extras if isinstance(extras, dict) else {}


def get_github_credentials(connection_id: str, default_url: str) -> tuple[str, Credentials]:
    """(base URL, credentials) for GitHub from an Airflow connection or the environment.

    In order of preference, from the connection:
    - a GitHub App: extras `app_id`, `installation_id` and `private_key` (PEM; the
      password field may hold the key instead) -> installation tokens, refreshed on expiry;
    - several tokens: extras `{"tokens": ["...", "..."]}` (plus the password if set),
      used by remaining budget / round-robin;
    - one token: the password.
    Outside Airflow: $KPI_<CONN>_TOKEN, which may list several tokens separated by commas.
    """
    connection = _airflow_connection(connection_id)
    extras = _extras(connection)
    base_url = (_connection_url(connection) or default_url).rstrip("/")
    if extras.get("app_id") or extras.get("installation_id"):
        private_key = extras.get("private_key") or (connection.password if connection is not None else None)
        missing = [name for name, value in (("app_id", extras.get("app_id")),
                                            ("installation_id", extras.get("installation_id")),
                                            ("private_key", private_key)) if not value]
        if missing:
            raise MissingCredentials(
                f"connection {connection_id!r} configures a GitHub App but lacks {', '.join(missing)} in its extras"
            )
        return base_url, GitHubAppAuth(extras["app_id"], str(private_key).replace("\\n", "\n"),
                                       extras["installation_id"], base_url)
    tokens: list[str] = []
    listed = extras.get("tokens")
    if isinstance(listed, str):
        try:
            listed = json.loads(listed)
        except ValueError:
            listed = re.split(r"[\s,]+", listed)
    if isinstance(listed, list):
        tokens += [str(token) for token in listed if token]
    if connection is not None and connection.password:
        tokens.insert(0, connection.password)
    if not tokens:
        env_name = token_env_var(connection_id)
        tokens = [token for token in re.split(r"[\s,]+", os.environ.get(env_name, "")) if token]
    if not tokens:
        get_connection_endpoint(connection_id, default_url)  # raises MissingCredentials with the how-to
    return base_url, TokenPool(tokens)


def user_env_var(connection_id: str) -> str:
    """jira_default -> KPI_JIRA_DEFAULT_USER (the Basic-auth user outside Airflow)."""
    return token_env_var(connection_id).removesuffix("_TOKEN") + "_USER"


def get_token_credentials(connection_id: str, default_url: str, scheme: str = "Bearer") -> tuple[str, Credentials]:
    """(base URL, credentials) for a bearer-token source (GitLab, Jira Server/DC PAT)."""
    base_url, token = get_connection_endpoint(connection_id, default_url)
    return base_url, TokenPool([token], scheme)


def get_basic_credentials(connection_id: str, default_url: str) -> tuple[str, Credentials]:
    """(base URL, credentials) for HTTP Basic `user:token` (Jira Cloud: e-mail + API token;
    Jenkins: user + API token). The user is the connection's login, else $KPI_<CONN>_USER."""
    base_url, token = get_connection_endpoint(connection_id, default_url)
    connection = _airflow_connection(connection_id)
    user = (connection.login if connection is not None else None) or os.environ.get(user_env_var(connection_id))
    if not user:
        raise MissingCredentials(
            f"connection {connection_id!r} has no login: set the Airflow connection's login "
            f"(the Jira e-mail or Jenkins user) or {user_env_var(connection_id)}"
        )
    return base_url, basic_credentials(user, token)
