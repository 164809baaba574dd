"""Replay recorded GitHub API exchanges over real HTTP on 127.0.0.1.

Sources: PyGithub ReplayData files (11-line records) and octokit/fixtures nock JSON. The
recorded origin (https://api.github.com, or a GitHub Enterprise host) is rewritten to the
replay server's address in headers and bodies so Link headers point back at us.
"""

from __future__ import annotations

import ast
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_HOP_BY_HOP = {"transfer-encoding", "content-length", "content-encoding", "connection", "keep-alive"}


@dataclass
class Exchange:
    method: str
    origin: str  # e.g. https://api.github.com
    path: str  # path + query as recorded
    status: int
    headers: list[tuple[str, str]]
    body: str

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None


def read_pygithub_replay(path: Path) -> list[Exchange]:
    lines = path.read_text(encoding="utf-8").split("\n")
    exchanges = []
    for start in range(0, len(lines) - 9, 11):
        protocol, verb, host, port, path_query, _req_headers, _req_body, status, headers, body = lines[start:start + 10]
        origin = f"{protocol}://{host}" + ("" if port == "None" else f":{port}")
        exchanges.append(Exchange(verb, origin, path_query, int(status), ast.literal_eval(headers), body))
    return exchanges


def read_nock_fixture(path: Path) -> list[Exchange]:
    exchanges = []
    for entry in json.loads(path.read_text(encoding="utf-8")):
        scope = entry["scope"].removesuffix(":443")
        if "headers" in entry:
            headers = [(k, str(v)) for k, v in entry["headers"].items()]
        else:
            raw = entry.get("rawHeaders", [])
            headers = list(zip(raw[::2], raw[1::2]))
        exchanges.append(Exchange(entry["method"].upper(), scope, entry["path"], entry["status"],
                                  headers, json.dumps(entry["response"])))
    return exchanges


class ReplayServer:
    """Answers each request with the first unused recorded exchange for its path.

    An exact path+query match wins; otherwise the first unused exchange with the same path
    answers (our streams send their own query parameters, recordings carry PyGithub's).
    `extra` adds composed answers for paths that were never recorded.
    """

    def __init__(self, exchanges: list[Exchange], extra: dict[str, Any] | None = None) -> None:
        self._exchanges = exchanges
        self._used: set[int] = set()
        self._extra = extra or {}
        self._lock = threading.Lock()
        self.served: list[Exchange] = []
        self.unmatched: list[str] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def _rewrite(self, text: str, origin: str) -> str:
        return text.replace(origin, self.base_url).replace("https://api.github.com", self.base_url)

    def _match(self, method: str, raw_path: str) -> Exchange | None:
        with self._lock:
            candidates = [(i, e) for i, e in enumerate(self._exchanges) if i not in self._used and e.method == method]
            for same in (lambda e: e.path == raw_path,
                         lambda e: urlsplit(e.path).path == urlsplit(raw_path).path):
                for index, exchange in candidates:
                    if same(exchange):
                        self._used.add(index)
                        return exchange
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path_only = urlsplit(self.path).path
                exchange = server._match("GET", self.path)
                if exchange is None and path_only in server._extra:
                    exchange = Exchange("GET", "", path_only, 200, [], json.dumps(server._extra[path_only]))
                if exchange is None:
                    server.unmatched.append(self.path)
                    exchange = Exchange("GET", "", self.path, 404, [], '{"message": "not recorded"}')
                else:
                    server.served.append(exchange)
                body = server._rewrite(exchange.body, exchange.origin or server.base_url).encode()
                self.send_response(exchange.status)
                for name, value in exchange.headers:
                    if name.lower() not in _HOP_BY_HOP:
                        self.send_header(name, server._rewrite(value, exchange.origin or server.base_url))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def __enter__(self) -> "ReplayServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
