"""Where secrets come from: Airflow connections first, then environment variables.

Never from config files (kpi.config refuses them) and never into logs or errors: this
module returns the token to the HTTP client and nothing else keeps it.
"""

from __future__ import annotations

import os
from typing import Any


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
