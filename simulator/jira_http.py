"""A standalone stdlib HTTP server for `JiraApi`, until `SimulatorServer` mounts it.

Unlike `simulator.server` today, it hands POST bodies to the API (as
`request.body`), so the Cloud `POST /rest/api/3/search/jql` works.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from simulator.github_api import ApiRequest
from simulator.jira_api import JiraApi


class JiraHttpServer:
    """`with JiraHttpServer(api) as server: requests.get(server.url + "/rest/api/3/field", ...)`."""

    def __init__(self, api: JiraApi, host: str = "127.0.0.1", port: int = 0) -> None:
        self.api = api
        self.host = host
        self._requested_port = port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> JiraHttpServer:
        if self._httpd is None:
            self._httpd = _Server((self.host, self._requested_port), _Handler)
            self._httpd.api = self.api
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="jira-simulator", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> JiraHttpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server is not running")
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    @property
    def url(self) -> str:
        """Where the Jira site lives (base URL + the API's mount prefix)."""
        return self.base_url + self.api.prefix


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    api: JiraApi


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "JiraSimulator/1.0"
    timeout = 30
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        api = self.server.api
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        prefix = api.prefix
        if parts.path == prefix or parts.path.startswith(prefix + "/"):
            request = ApiRequest(
                method=method, path=parts.path[len(prefix):] or "/",
                query=parse_qsl(parts.query, keep_blank_values=True),
                headers={name.lower(): value for name, value in self.headers.items()},
                base_url=f"http://{self.headers.get('Host') or self.server.server_address[0]}",
            )
            request.body = body  # type: ignore[attr-defined]
            response = api.handle(request)
            status, payload, headers = response.status, response.body, response.headers
        else:
            status, payload, headers = 404, b'{"errorMessages":["Not Found"],"errors":{}}', [
                ("Content-Type", "application/json;charset=UTF-8")]
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass
