"""Real HTTP on 127.0.0.1 around the simulated APIs, using the stdlib threading server.

Several sources are mounted by path prefix (GitHub at `/github`, others such as
`/jira` passed in `extra_apis`); `/_sim/...` is the admin surface (health,
stats, ground truth, fault plan). Stdlib keeps start/stop fast and
dependency-free: port 0 picks a free port, `stop()` returns within a poll
interval, and HTTP/1.1 keep-alive lets a `requests.Session` crawl without
reconnecting for every page.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, Self, runtime_checkable
from urllib.parse import parse_qsl, urlsplit

from simulator.corruption import CorruptionPlan, with_new_etag
from simulator.faults import FaultConfigError, FaultPlan, fault_response, rule_from_json
from simulator.github_api import API_PREFIX, ApiRequest, ApiResponse, GitHubApi
from simulator.gitlab import GitLabApi, gitlab_merge_request_facts, gitlab_pipeline_facts
from simulator.jenkins import JenkinsApi, jenkins_build_facts
from simulator.model import Org
from simulator.truth import deployment_frequency, incidents, production_deployments, rollbacks

ADMIN_PREFIX = "/_sim"
MAX_REQUEST_BODY = 10 * 1024 * 1024


@runtime_checkable
class SourceApi(Protocol):
    """What a mounted source must provide; `GitHubApi` is the reference implementation.

    Optionally a source may define `route_template(method, path) -> str | None`
    (path without the prefix) so the server's counters group by template; without
    it, numeric path segments are replaced by `{id}`.
    """

    @property
    def request_count(self) -> int: ...

    def handle(self, request: ApiRequest) -> ApiResponse: ...

    def stats(self) -> dict[str, Any]: ...


Mutation = Callable[[Mapping[str, Any]], object]


class ApiServer:
    """Real HTTP on 127.0.0.1 for any set of source APIs, each mounted under its prefix,
    with fault injection (`faults`), request counters and the `/_sim` admin routes."""

    def __init__(self, apis: Mapping[str, SourceApi], host: str = "127.0.0.1", port: int = 0,
                 fault_seed: int = 0) -> None:
        self.host = host
        self.apis: dict[str, SourceApi] = {}
        for prefix, api in apis.items():
            self.mount(prefix, api)
        self.faults = FaultPlan(seed=fault_seed)
        # Bad records served on purpose (simulator.corruption); empty: clean data.
        self.corruptions = CorruptionPlan(seed=fault_seed)
        # Named mutations for `mutate_while_paging` rules posted as JSON.
        self.mutations: dict[str, Mutation] = {}
        self._counts: Counter[tuple[str, str, str]] = Counter()  # (source, "METHOD template", status)
        self._counts_lock = threading.Lock()
        self._requested_port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def mount(self, prefix: str, api: SourceApi) -> None:
        normalised = _normalise_prefix(prefix)
        if normalised in self.apis or normalised == ADMIN_PREFIX:
            raise ValueError(f"prefix {normalised!r} is already mounted or reserved")
        self.apis[normalised] = api

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> Self:
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

    def __enter__(self) -> Self:
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

    def url_for(self, prefix: str) -> str:
        """Root URL of a mounted source, e.g. `url_for("jira")` -> `http://127.0.0.1:PORT/jira`."""
        normalised = _normalise_prefix(prefix)
        if normalised not in self.apis:
            raise KeyError(f"no source mounted at {normalised!r}; mounted: {sorted(self.apis)}")
        return self.base_url + normalised

    def count(self, source: str | None = None, route: str | None = None, status: int | str | None = None) -> int:
        """Requests seen by the server, optionally narrowed by source prefix, "METHOD template" and status.

        Status is the HTTP status sent, or "connection_reset" / "truncated" for broken responses.
        """
        wanted_source = _normalise_prefix(source) if source is not None else None
        with self._counts_lock:
            return sum(n for (src, rte, sts), n in self._counts.items()
                       if (wanted_source is None or src == wanted_source) and (route is None or rte == route)
                       and (status is None or sts == str(status)))

    def stats(self) -> dict[str, Any]:
        with self._counts_lock:
            counts = sorted(self._counts.items())
        sources: dict[str, Any] = {}
        for prefix, api in sorted(self.apis.items()):
            sources[prefix] = {"requests": 0, "routes": {}, "api": api.stats()}
        for (source, route, status), n in counts:
            entry = sources[source]
            entry["requests"] += n
            entry["routes"].setdefault(route, {})[status] = n
        return {"requests": sum(n for _, n in counts), "sources": sources, "faults": self.faults.stats()}

    def reset_counters(self) -> None:
        with self._counts_lock:
            self._counts.clear()

    def _record(self, source: str, route: str, status: int | str) -> None:
        with self._counts_lock:
            self._counts[(source, route, str(status))] += 1

    def _mount_for(self, path: str) -> str | None:
        for prefix in self.apis:
            if path == prefix or path.startswith(prefix + "/"):
                return prefix
        return None

    def _route_of(self, prefix: str, method: str, path: str) -> str:
        template_of = getattr(self.apis[prefix], "route_template", None)
        template = template_of(method, path) if callable(template_of) else _generic_template(path)
        return f"{method} {template or '<unmatched>'}"

    # -- admin -----------------------------------------------------------------

    def admin(self, method: str, path: str, body: bytes = b"", query: str = "") -> tuple[int, Any]:
        if path == f"{ADMIN_PREFIX}/faults":
            if method == "GET":
                return 200, self.faults.stats()
            if method == "DELETE":
                self.faults.clear()
                return 200, self.faults.stats()
            if method == "POST":
                try:
                    payload = json.loads(body or b"null")
                    # Build and validate every rule before adding any, so a bad batch adds nothing.
                    rules = [rule_from_json(item) for item in (payload if isinstance(payload, list) else [payload])]
                    for rule in rules:
                        if rule.fault == "mutate_while_paging" and rule.callback is None:
                            rule.callback = self._named_mutation(rule.mutation, rule.params)
                except (FaultConfigError, ValueError) as problem:
                    return 422, {"message": str(problem)}
                added = [self.faults.add_rule(rule) for rule in rules]
                return 201, {"added": [rule.to_json() for rule in added]}
            return 405, {"message": "Method Not Allowed"}
        if method not in ("GET", "HEAD"):
            return 405, {"message": "Method Not Allowed"}
        if path == f"{ADMIN_PREFIX}/stats":
            return 200, self.stats()
        if path == f"{ADMIN_PREFIX}/health":
            return 200, {"status": "ok", "sources": sorted(self.apis)}
        return 404, {"message": "Not Found"}

    def _named_mutation(self, name: str | None, params: Mapping[str, Any]) -> Callable[[], object]:
        if name not in self.mutations:
            raise FaultConfigError(f"unknown mutation {name!r}; known: {sorted(self.mutations)}")
        mutation = self.mutations[name]
        return lambda: mutation(params)


class SimulatorServer(ApiServer):
    """The simulated organisation's server: GitHub at /github (from `org`), any extra
    sources, and the organisation's ground truth at /_sim/truth/<name>."""

    def __init__(self, org: Org, host: str = "127.0.0.1", port: int = 0, token: str | None = None,
                 rate_limit: int = 5000, extra_apis: Mapping[str, SourceApi] | None = None,
                 fault_seed: int = 0, advance: Callable[[int], object] | None = None) -> None:
        self.org = org
        # Moves every source's clock forward (`Simulation.advance`); None: GitHub's org only.
        self._advance = advance or org.advance
        self._advance_lock = threading.Lock()
        self.token = token if token is not None else f"ghs_sim_{secrets.token_hex(16)}"
        self.api = GitHubApi(org, self.token, rate_limit=rate_limit)
        super().__init__({API_PREFIX: self.api}, host=host, port=port, fault_seed=fault_seed)
        for prefix, api in (extra_apis or {}).items():
            self.mount(prefix, api)
        self.corruptions.clock = lambda: self.org.anchor  # "the future" is after the simulated now
        self.mutations["github_pull_requests"] = lambda params: self.api.churn_pull_requests(params.get("repo"))

    @property
    def github_url(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def request_count(self) -> int:
        """GitHub API requests served (admin requests and injected faults excluded)."""
        return self.api.request_count

    def stats(self) -> dict[str, Any]:
        github = self.api.stats()
        # Kept from the single-source server: GitHub requests the API itself answered.
        return {"github_requests": github["github_requests"], "routes": github["routes"], **super().stats()}

    def admin(self, method: str, path: str, body: bytes = b"", query: str = "") -> tuple[int, Any]:
        if path == f"{ADMIN_PREFIX}/advance":
            return self._advance_days(method, query)
        if method in ("GET", "HEAD"):
            if path == f"{ADMIN_PREFIX}/health":
                return 200, {"status": "ok", "org": self.org.login, "seed": self.org.seed, "scale": self.org.scale,
                             "anchor": self.org.anchor.strftime("%Y-%m-%dT%H:%M:%SZ"), "sources": sorted(self.apis)}
            if path == f"{ADMIN_PREFIX}/truth" or path == f"{ADMIN_PREFIX}/truth/":
                return 200, {"truths": sorted(self.truths())}
            if path.startswith(f"{ADMIN_PREFIX}/truth/"):
                compute = self.truths().get(path[len(f"{ADMIN_PREFIX}/truth/"):])
                if compute is None:
                    return 404, {"message": "Not Found", "truths": sorted(self.truths())}
                return 200, _jsonable(compute())
        return super().admin(method, path, body, query)

    def _advance_days(self, method: str, query: str) -> tuple[int, Any]:
        """`POST /_sim/advance?days=N`: move the simulated clock N days (default 1) forward, so
        a simulator running in another process can be stepped night by night."""
        if method != "POST":
            return 405, {"message": "Method Not Allowed: POST /_sim/advance?days=N"}
        values = dict(parse_qsl(query, keep_blank_values=True))
        text = values.get("days", "1")
        if not text.isdigit():
            return 422, {"message": f"days must be a whole number of days >= 0, got {text!r}"}
        with self._advance_lock:
            self._advance(int(text))
        return 200, {"advanced_days": int(text), "anchor": self.org.anchor.strftime("%Y-%m-%dT%H:%M:%SZ")}

    def truths(self) -> dict[str, Callable[[], Any]]:
        """Ground-truth tables served at /_sim/truth/<name>, computed from the models on request."""
        org = self.org
        found: dict[str, Callable[[], Any]] = {
            "deployment-frequency": lambda: deployment_frequency(org),
            "production-deployments": lambda: production_deployments(org),
            "incidents": lambda: incidents(org),
            "rollbacks": lambda: rollbacks(org),
        }
        for api in self.apis.values():
            if isinstance(api, JenkinsApi):
                found["jenkins-builds"] = lambda site=api.site: jenkins_build_facts(site)
            elif isinstance(api, GitLabApi):
                found["gitlab-pipelines"] = lambda site=api.site: gitlab_pipeline_facts(site)
                found["gitlab-merge-requests"] = lambda site=api.site: gitlab_merge_request_facts(site)
            elif type(api).__name__ == "JiraApi":
                from simulator import jira  # imported lazily: the Jira model is large

                for name, function in (("jira-production-bugs", "production_bugs"),
                                       ("jira-release-delays", "release_delays")):
                    if callable(getattr(jira, function, None)):
                        found[name] = lambda site=api.site, f=getattr(jira, function): f(site)
        return found


def _jsonable(value: Any) -> Any:
    """Rows as JSON: dates as `YYYY-MM-DD`, datetimes as ISO 8601 UTC (`...Z`)."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _generic_template(path: str) -> str:
    # Numeric segments are ids, except API versions such as Jira's /rest/api/2/.
    return re.sub(r"(?<!/api)/\d+(?=/|$)", "/{id}", path)


def _normalise_prefix(prefix: str) -> str:
    cleaned = "/" + prefix.strip("/")
    if cleaned == "/":
        raise ValueError("a source needs a non-empty prefix")
    return cleaned


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    simulator: ApiServer


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

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        simulator = self.server.simulator
        parts = urlsplit(self.path)
        # Always read the body so the keep-alive connection stays in sync.
        length = min(int(self.headers.get("Content-Length") or 0), MAX_REQUEST_BODY)
        body = self.rfile.read(length) if length else b""
        prefix = simulator._mount_for(parts.path)
        if prefix is None:
            status, payload = simulator.admin(method, parts.path, body, parts.query)
            encoded = json.dumps(payload, separators=(",", ":")).encode()
            self._write(status, encoded, [("Content-Type", "application/json; charset=utf-8")], method)
            return
        route = simulator._route_of(prefix, method, parts.path[len(prefix):] or "/")
        decision = simulator.faults.decide(method, parts.path, prefix)
        if decision.delay_seconds:
            time.sleep(decision.delay_seconds)
        for rule in decision.mutations:
            if rule.callback is not None:
                rule.callback()
        kind = decision.kind
        if kind == "connection_reset":
            simulator._record(prefix, route, "connection_reset")
            self._reset_connection()
            return
        if kind in ("status", "rate_limited", "revoke_token"):
            status, headers, encoded = fault_response(decision.terminal)
            simulator._record(prefix, route, status)
            self._write(status, encoded, headers, method)
            return
        host = self.headers.get("Host") or f"{simulator.host}:{simulator.port}"
        corrupting = bool(simulator.corruptions.for_path(parts.path))
        request = ApiRequest(
            method=method,
            path=parts.path[len(prefix):] or "/",
            query=parse_qsl(parts.query, keep_blank_values=True),
            # A 304 would hide a corrupted body: while corrupting, answer in full.
            headers={name.lower(): value for name, value in self.headers.items()
                     if not (corrupting and name.lower() == "if-none-match")},
            base_url=f"http://{host}",
            body=body,
        )
        response = simulator.apis[prefix].handle(request)
        if corrupting and response.status == 200:
            corrupted = simulator.corruptions.corrupt(parts.path, response.body)
            if corrupted is not None:
                response = ApiResponse(response.status, corrupted, with_new_etag(response.headers, corrupted))
        if kind == "truncated_body" and decision.terminal is not None:
            simulator._record(prefix, route, "truncated")
            self._write(response.status, response.body, response.headers, method,
                        send_bytes=int(len(response.body) * decision.terminal.fraction))
            return
        simulator._record(prefix, route, response.status)
        self._write(response.status, response.body, response.headers, method)

    def _write(self, status: int, body: bytes, headers: list[tuple[str, str]], method: str,
               send_bytes: int | None = None) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if send_bytes is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(body if send_bytes is None else body[:send_bytes])
        if send_bytes is not None:
            # Promised Content-Length but closed early: the client sees an incomplete read.
            self.close_connection = True

    def _reset_connection(self) -> None:
        # SO_LINGER 0 makes close() send RST instead of FIN: "connection reset by peer".
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet by default: a crawl makes thousands of requests.
        pass
