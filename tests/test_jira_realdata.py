"""Real Jira Cloud issues (recorded with `expand=changelog`) replayed over HTTP on 127.0.0.1
through both search flavours, with their changelogs cut short inline so they must be paged:
every issue and every history reaches the warehouse."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest

from extractors.extract import extract_scope
from extractors.http import HttpClient
from extractors.loader import WarehouseLoader
from extractors.streams.jira import ISSUES, JiraFieldMapping, streams_for
from simulator.jira_jql import parse, parse_date

SEARCH_PAGE = 2  # real servers cap pages too; small pages exercise paging on a few issues
INLINE_HISTORIES = 2  # as Cloud inlines at most 100 histories
CHANGELOG_PAGE = 3


def recorded_issues(realdata: Path) -> list[dict[str, Any]]:
    issues = []
    for path in sorted((realdata / "jira").rglob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(body, dict) and {"id", "key", "fields", "changelog"} <= body.keys():
            issues.append(body)
    if not issues:
        pytest.skip("no recorded Jira issues in the real-data corpus")
    return issues


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


class JiraReplay:
    """Serves recorded issues as Jira Cloud (`/rest/api/3/search/jql`) or Server/DC
    (`/rest/api/2/search`) search results, and their changelogs from `/issue/{id}/changelog`."""

    def __init__(self, issues: list[dict[str, Any]]) -> None:
        self.issues = issues
        self.requests: Counter[str] = Counter()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01},
                                        daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "JiraReplay":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def answer(self, path: str, query: dict[str, str]) -> Any:
        parts = path.strip("/").split("/")  # rest, api, {v}, route...
        route = "/".join(parts[3:])
        self.requests["changelog" if route.endswith("/changelog") else route.split("/")[0]] += 1
        if route in ("search", "search/jql"):
            return self.search(query, cloud=route == "search/jql")
        if route.startswith("issue/") and route.endswith("/changelog"):
            issue = next(i for i in self.issues if i["id"] == parts[4])
            histories = sorted(issue["changelog"]["histories"], key=lambda h: _time(h["created"]))
            start = int(query.get("startAt", 0))
            page = histories[start:start + CHANGELOG_PAGE]
            return {"startAt": start, "maxResults": CHANGELOG_PAGE, "total": len(histories),
                    "isLast": start + len(page) >= len(histories), "values": page}
        if route.endswith("/versions"):
            return []
        raise LookupError(path)

    def search(self, query: dict[str, str], cloud: bool) -> dict[str, Any]:
        parsed = parse(query["jql"])
        found = list(self.issues)
        for clause in parsed.clauses:
            if clause.field in ("updated", "created"):
                bound = parse_date(clause.values[0], clause.field, datetime.now(UTC))
                found = [i for i in found if _time(i["fields"][clause.field]) >= bound]
        for name, direction in reversed(parsed.order_by):
            found.sort(key=lambda i: int(i["key"].split("-")[1]) if name == "key" else _time(i["fields"][name]),
                       reverse=direction == "DESC")
        start = int(query.get("nextPageToken" if cloud else "startAt") or 0)
        page = [self.shown(issue) for issue in found[start:start + SEARCH_PAGE]]
        if cloud:
            body: dict[str, Any] = {"issues": page, "isLast": start + SEARCH_PAGE >= len(found)}
            if not body["isLast"]:
                body["nextPageToken"] = str(start + SEARCH_PAGE)
            return body
        return {"startAt": start, "maxResults": SEARCH_PAGE, "total": len(found), "issues": page}

    @staticmethod
    def shown(issue: dict[str, Any]) -> dict[str, Any]:
        """The issue with its newest histories inline only, like a long changelog on Cloud."""
        histories = issue["changelog"]["histories"]
        return {**issue, "changelog": {"startAt": 0, "maxResults": INLINE_HISTORIES, "total": len(histories),
                                       "histories": histories[:INLINE_HISTORIES]}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {name: values[-1] for name, values in parse_qs(url.query).items()}
                try:
                    status, body = 200, replay.answer(url.path, query)
                except LookupError:
                    status, body = 404, {"errorMessages": ["Not Found"], "errors": {}}
                encoded = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

        return Handler


@pytest.mark.parametrize("flavour", ["cloud", "server"])
def test_recorded_issues_load_with_every_history(realdata, flavour, tmp_path):
    issues = recorded_issues(realdata)
    projects = sorted({issue["fields"]["project"]["key"] for issue in issues})
    assert any(len(issue["changelog"]["histories"]) > INLINE_HISTORIES for issue in issues)
    loader = WarehouseLoader(tmp_path / "warehouse.duckdb")
    with JiraReplay(issues) as replay:
        client = HttpClient(replay.base_url, "recorded")
        manifests = []
        for project in projects:
            manifests += extract_scope(client, streams_for(flavour, JiraFieldMapping(), reconcile=True), project,
                                       watermarks={}, run_id="replay", landing_dir=tmp_path / "landing")
        loader.load(manifests)
    assert replay.requests["changelog"] >= sum(
        1 for issue in issues if len(issue["changelog"]["histories"]) > INLINE_HISTORIES)

    with duckdb.connect(str(loader.db_path), read_only=True) as con:
        rows = {key: (json.loads(payload), deleted_at) for key, payload, deleted_at in con.execute(
            f"SELECT record_key, payload, _deleted_at FROM raw.{ISSUES}").fetchall()}
    assert set(rows) == {issue["id"] for issue in issues}
    for issue in issues:
        payload, deleted_at = rows[issue["id"]]
        recorded = issue["changelog"]["histories"]
        assert deleted_at is None
        assert payload["key"] == issue["key"]
        assert payload["fields"]["updated"] == issue["fields"]["updated"]
        assert payload["fields"]["status"]["name"] == issue["fields"]["status"]["name"]
        assert payload["fields"]["resolutiondate"] == issue["fields"].get("resolutiondate")
        assert [v["id"] for v in payload["fields"]["fixVersions"]] == [v["id"] for v in issue["fields"]["fixVersions"]]
        stored = payload["changelog"]["histories"]
        assert sorted(h["id"] for h in stored) == sorted(h["id"] for h in recorded)
        assert [h["created"] for h in stored] == sorted((h["created"] for h in recorded), key=_time)
        kept_items = {(h["id"], item["field"], item.get("toString")) for h in stored for item in h["items"]}
        assert kept_items == {(h["id"], item["field"], item.get("toString")) for h in recorded
                              for item in h["items"] if item["field"] not in ("assignee", "reporter", "creator")}
