"""A tiny scripted HTTP server on 127.0.0.1 for exercising the HTTP client for real.

Tests queue responses per path; each request pops the next one for its path (the last
response repeats once the queue is down to one). Special actions simulate a connection
reset and a body cut short of its Content-Length.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Scripted:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes sent verbatim
    headers: dict[str, str] = field(default_factory=dict)
    action: str = "respond"  # respond | reset | truncate


@dataclass
class Received:
    path: str  # path + query as sent
    headers: dict[str, str]
    method: str = "GET"


class ScriptedServer:
    def __init__(self) -> None:
        self._script: dict[str, deque[Scripted]] = defaultdict(deque)
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        # A short poll interval keeps shutdown (and so each test) fast.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, path: str, *responses: Scripted) -> None:
        """Queue responses for a path; a path with a query matches that query exactly."""
        with self._lock:
            self._script[path].extend(responses)

    def requests_to(self, path: str) -> list[Received]:
        return [r for r in self.received if urlsplit(r.path).path == path]

    def _next_for(self, raw_path: str) -> Scripted | None:
        with self._lock:
            for key in (raw_path, urlsplit(raw_path).path):
                queue = self._script.get(key)
                if queue:
                    return queue.popleft() if len(queue) > 1 else queue[0]
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self.do_GET(method="POST")

            def do_GET(self, method: str = "GET") -> None:
                server.received.append(Received(self.path, dict(self.headers.items()), method))
                scripted = server._next_for(self.path)
                if scripted is None:
                    scripted = Scripted(404, {"message": "Not Found (unscripted)"})
                if scripted.action == "reset":
                    self.close_connection = True
                    self.connection.close()
                    return
                body = scripted.body
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                if scripted.status == 304 and body is None:
                    payload = b""  # a 304 has no body (HTTP/1.1 would read "null" as the next status line)
                self.send_response(scripted.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                for name, value in scripted.headers.items():
                    self.send_header(name, value)
                if scripted.action == "truncate":
                    self.send_header("Content-Length", str(len(payload) + 100))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(payload)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler

    def __enter__(self) -> "ScriptedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def link_header(base_url: str, **rels: str) -> dict[str, str]:
    """{'Link': '<base/path>; rel="next", ...'} from rel=path pairs."""
    value = ", ".join(f'<{base_url}{path}>; rel="{rel}"' for rel, path in rels.items())
    return {"Link": value}


class FakeClock:
    """Injected clock + sleep: sleeping advances time instantly and is recorded."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
