"""Real HTTP on 127.0.0.1 around `GitHubApi`, using the stdlib threading server.

Stdlib keeps start/stop fast and dependency-free: port 0 picks a free port,
`stop()` returns within a poll interval, and HTTP/1.1 keep-alive lets a
`requests.Session` crawl without reconnecting for every page.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from simulator.github_api import API_PREFIX, ApiRequest, GitHubApi
from simulator.model import Org
from simulator.truth import deployment_frequency

ADMIN_PREFIX = "/_sim"


class SimulatorServer:
    def __init__(self, org: Org, host: str = "127.0.0.1", port: int = 0, token: str | None = None,
                 rate_limit: int = 5000) -> None:
        self.org = org
        self.host = host
        self.token = token if token is not None else f"ghs_sim_{secrets.token_hex(16)}"
        self.api = GitHubApi(org, self.token, rate_limit=rate_limit)
        self._requested_port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> SimulatorServer:
        if self._httpd is not None:
            return self
        self._httpd = _Server((self.host, self._requested_port), _Handler)
        self._httpd.simulator = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"simulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses and counters --------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server is not running")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def github_url(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def request_count(self) -> int:
        """GitHub API requests served (admin requests excluded)."""
        return self.api.request_count

    def admin(self, path: str) -> tuple[int, Any]:
        if path == f"{ADMIN_PREFIX}/stats":
            return 200, self.api.stats()
        if path == f"{ADMIN_PREFIX}/health":
            return 200, {"status": "ok", "org": self.org.login, "seed": self.org.seed, "scale": self.org.scale,
                         "anchor": self.org.anchor.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if path == f"{ADMIN_PREFIX}/truth/deployment-frequency":
            rows = deployment_frequency(self.org)
            return 200, [{**row, "week_start": row["week_start"].isoformat()} for row in rows]
        return 404, {"message": "Not Found"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    simulator: SimulatorServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GitHubSimulator/1.0"
    timeout = 30  # drop idle keep-alive connections so handler threads end
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle plus
    # delayed ACKs add ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        simulator = self.server.simulator
        parts = urlsplit(self.path)
        # Discard any request body so the keep-alive connection stays in sync.
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if parts.path == API_PREFIX or parts.path.startswith(API_PREFIX + "/"):
            host = self.headers.get("Host") or f"{simulator.host}:{simulator.port}"
            request = ApiRequest(
                method=method,
                path=parts.path[len(API_PREFIX):] or "/",
                query=parse_qsl(parts.query, keep_blank_values=True),
                headers={name.lower(): value for name, value in self.headers.items()},
                base_url=f"http://{host}",
            )
            response = simulator.api.handle(request)
            self._write(response.status, response.body, response.headers, method)
        else:
            status, payload = simulator.admin(parts.path)
            body = json.dumps(payload, separators=(",", ":")).encode()
            self._write(status, body, [("Content-Type", "application/json; charset=utf-8")], method)

    def _write(self, status: int, body: bytes, headers: list[tuple[str, str]], method: str) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet by default: a crawl makes thousands of requests.
        pass
