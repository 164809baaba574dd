"""Jira REST (Cloud `/rest/api/3` and Server/DC `/rest/api/2`) over a `JiraSite`.

Socket-free like `GitHubApi`: `JiraApi.handle(ApiRequest) -> ApiResponse`, with
the mount prefix (`/jira` by default) already stripped from `request.path`.

Served (GET unless noted; `{v}` is 2 or 3):
  * `/rest/api/{v}/search/jql` (GET and POST)  Cloud enhanced search: `nextPageToken`/`isLast`, no `total`.
  * `/rest/api/2/search` (GET and POST)         Server/DC search: `startAt`/`maxResults`/`total`.
  * `/rest/api/3/search`                        410 Gone, as on Cloud since the enhanced search replaced it.
  * `/rest/api/{v}/issue/{idOrKey}`             moved keys answer with the issue under its new key.
  * `/rest/api/{v}/issue/{idOrKey}/changelog`   paged `values`, `isLast`.
  * `/rest/api/{v}/project`, `/project/search`, `/project/{key}`, `/project/{key}/versions`, `/project/{key}/version`
  * `/rest/api/{v}/field`, `/rest/api/{v}/myself`, `/rest/api/{v}/serverInfo`
POST bodies are read from `request.body` (bytes) when the server provides it.

Defaults: search `maxResults` 50, capped at 100; inline changelog (`expand=changelog`)
carries the first 100 histories with `maxResults`/`total` so clients page the
rest through `/changelog`. Fields: `*all`, `*navigable`, a list, `-name` to drop;
`id`, `key`, `self` always. Default field set: `*navigable` for `/rest/api/2/search`,
none (only id/key/self) for the Cloud enhanced search, `*all` for a single issue.
Without ORDER BY, results are sorted by key DESC (ties always by id ascending). JQL dates are taken as UTC.

Searches run over `JiraSite.index` (numpy masks; a cached sorted permutation per sort key;
a date range on the single sort field is answered by bisection), results are cached as
position arrays per (jql, site generation), and only the ≤ 100 issues of a page are
materialised. Requests hold `site.lock`, so `JiraSite.advance` never interleaves with one;
it bumps `generation`, which invalidates cached results and outstanding page tokens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import threading
import time
from datetime import UTC, date, datetime
from typing import Any, Callable
from urllib.parse import urlencode

from simulator.github_api import ApiRequest, ApiResponse
import numpy as np

from simulator.jira import (
    ENVIRONMENT_FIELD,
    ISSUE_TYPES,
    PRIORITIES,
    RESOLUTIONS,
    SEVERITY_FIELD,
    STATUS_CATEGORIES,
    STATUSES,
    TEAM_FIELD,
    History,
    JiraIssue,
    JiraProject,
    JiraSite,
    JiraVersion,
    STATUS_CODES,
    TYPE_CODES,
    account_id,
    to_ms,
)
from simulator.jira_jql import DATE_FIELDS, JqlError, Query, parse, parse_date
from simulator.route_counts import RouteCounts

JIRA_PREFIX = "/jira"
DEFAULT_EMAIL = "sim@example.com"
DEFAULT_MAX_RESULTS = 50
MAX_RESULTS = 100
CHANGELOG_PAGE = 100
RATE_LIMIT_WINDOW_SECONDS = 60
NON_NAVIGABLE = {"comment"}
OPTION_IDS = {"S1": "10100", "S2": "10101", "S3": "10102", "S4": "10103",
              "production": "10200", "staging": "10201"}


class _HttpError(Exception):
    def __init__(self, status: int, messages: list[str], headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(status, messages)
        self.status = status
        self.messages = messages
        self.headers = headers or []


def jira_time(moment: datetime | None) -> str | None:
    """Jira's timestamp format: 2026-11-02T10:15:30.000+0000."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_jira_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


def _user_release_date(day: date | None) -> str | None:
    return None if day is None else f"{day.day}/{day.strftime('%b')}/{day.year}"


# -- serialisers ------------------------------------------------------------------


class _Serialiser:
    def __init__(self, site: JiraSite, root: str, api: str) -> None:
        self.site = site
        self.root = root  # scheme://host[:port]/prefix
        self.api = api  # "2" or "3"
        self.rest = f"{root}/rest/api/{api}"
        self.today = site.anchor.astimezone(UTC).date()

    def user(self, login: str | None) -> dict[str, Any] | None:
        if login is None:
            return None
        known = self.site.users.get(login)
        account = known.account_id if known else account_id(login)
        avatar = f"https://avatar-management.example/initials/{login[:2].upper()}-0.png"
        payload: dict[str, Any] = {
            "self": f"{self.rest}/user?accountId={account}", "accountId": account,
            "emailAddress": known.email if known else f"{login}@example.com",
            "avatarUrls": {size: f"{avatar}?size={size.split('x')[0]}" for size in ("48x48", "24x24", "16x16", "32x32")},
            "displayName": known.display_name if known else login, "active": True, "timeZone": "Etc/UTC",
            "accountType": "atlassian",
        }
        if self.api == "2":  # Server/DC identify users by name/key
            payload.update(name=login, key=login)
        return payload

    def status(self, name: str) -> dict[str, Any]:
        status = STATUSES[name]
        category_id, category_name, color = STATUS_CATEGORIES[status.category]
        return {"self": f"{self.rest}/status/{status.id}", "description": "", "iconUrl": f"{self.root}/",
                "name": status.name, "id": status.id,
                "statusCategory": {"self": f"{self.rest}/statuscategory/{category_id}", "id": category_id,
                                   "key": status.category, "colorName": color, "name": category_name}}

    def issuetype(self, name: str) -> dict[str, Any]:
        type_id, description = ISSUE_TYPES[name]
        return {"self": f"{self.rest}/issuetype/{type_id}", "id": type_id, "description": description,
                "iconUrl": f"{self.rest}/universal_avatar/view/type/issuetype/avatar/{type_id}?size=medium",
                "name": name, "subtask": False, "avatarId": int(type_id), "hierarchyLevel": 0}

    def priority(self, name: str) -> dict[str, Any]:
        priority_id = PRIORITIES[name]
        return {"self": f"{self.rest}/priority/{priority_id}",
                "iconUrl": f"{self.root}/images/icons/priorities/{name.lower()}.svg", "name": name, "id": priority_id}

    def resolution(self, name: str | None) -> dict[str, Any] | None:
        if name is None:
            return None
        resolution_id, description = RESOLUTIONS[name]
        return {"self": f"{self.rest}/resolution/{resolution_id}", "id": resolution_id,
                "description": description, "name": name}

    def project(self, project: JiraProject, full: bool = False) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "self": f"{self.rest}/project/{project.id}", "id": str(project.id), "key": project.key,
            "name": project.name, "projectTypeKey": "software", "simplified": False,
            "avatarUrls": {size: f"{self.rest}/universal_avatar/view/type/project/avatar/10400?size=small"
                           for size in ("48x48", "24x24", "16x16", "32x32")},
        }
        if full:
            payload.update({
                "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
                "description": f"Work of the {project.team} team", "lead": self.user(project.lead),
                "style": "classic", "isPrivate": False, "properties": {},
                "issueTypes": [self.issuetype(name) for name in ISSUE_TYPES],
                "versions": [self.version(v) for v in self.site.project_versions(project.key)],
            })
        return payload

    def version(self, version: JiraVersion, brief: bool = False) -> dict[str, Any]:
        description = (f"Release train {version.name}; released: {version.actual_release_date.isoformat()}"
                       if version.actual_release_date else f"Release train {version.name}")
        payload: dict[str, Any] = {
            "self": f"{self.rest}/version/{version.id}", "id": str(version.id), "description": description,
            "name": version.name, "archived": version.archived, "released": version.released,
            "releaseDate": version.planned_release_date.isoformat(),
        }
        if brief:
            return payload
        project = self.site.projects_by_key[version.project_key]
        payload.update({
            "startDate": version.start_date.isoformat() if version.start_date else None,
            "overdue": not version.released and version.planned_release_date < self.today,
            "userStartDate": _user_release_date(version.start_date),
            "userReleaseDate": _user_release_date(version.planned_release_date),
            "projectId": project.id,
        })
        if payload["startDate"] is None:
            del payload["startDate"], payload["userStartDate"]
        return payload

    def option(self, field_id: str, value: str | None) -> dict[str, Any] | None:
        if value is None:
            return None
        option_id = OPTION_IDS.get(value, str(10300 + sum(value.encode()) % 700))
        return {"self": f"{self.rest}/customFieldOption/{option_id}", "value": value, "id": option_id}

    def description(self, issue: JiraIssue) -> Any:
        if self.api == "2":
            return issue.description
        return {"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}]}
            for line in issue.description.split("\n") if line]}

    def fields(self, issue: JiraIssue) -> dict[str, Any]:
        last_category_change = issue.created
        for history in issue.histories:
            for item in history.items:
                if item.field == "status" and STATUSES[item.from_string].category != STATUSES[item.to_string].category:
                    last_category_change = history.created
        return {
            "statuscategorychangedate": jira_time(last_category_change),
            "issuetype": self.issuetype(issue.issue_type),
            "project": self.project(self.site.projects_by_key[issue.project_key]),
            "fixVersions": [self.version(self.site.versions_by_id[vid], brief=True) for vid in issue.fix_version_ids],
            "resolution": self.resolution(issue.resolution),
            "resolutiondate": jira_time(issue.resolution_date),
            "workratio": -1,
            "lastViewed": None,
            "watches": {"self": f"{self.rest}/issue/{issue.key}/watchers", "watchCount": 1, "isWatching": False},
            "created": jira_time(issue.created),
            "priority": self.priority(issue.priority),
            "labels": list(issue.labels),
            "versions": [],
            "issuelinks": [],
            "assignee": self.user(issue.assignee),
            "updated": jira_time(issue.updated),
            "status": self.status(issue.status),
            "components": [],
            "description": self.description(issue),
            SEVERITY_FIELD: self.option(SEVERITY_FIELD, issue.severity),
            ENVIRONMENT_FIELD: self.option(ENVIRONMENT_FIELD, issue.environment),
            TEAM_FIELD: self.option(TEAM_FIELD, issue.team),
            "security": None,
            "environment": None,
            "duedate": None,
            "summary": issue.summary,
            "creator": self.user(issue.reporter),
            "subtasks": [],
            "reporter": self.user(issue.reporter),
            "progress": {"progress": 0, "total": 0},
            "votes": {"self": f"{self.rest}/issue/{issue.key}/votes", "votes": 0, "hasVoted": False},
            "comment": {"comments": [], "self": f"{self.rest}/issue/{issue.id}/comment", "maxResults": 0,
                        "total": 0, "startAt": 0},
        }

    def history(self, history: History) -> dict[str, Any]:
        items = []
        for item in history.items:
            entry: dict[str, Any] = {"field": item.field, "fieldtype": item.fieldtype}
            if item.field_id:
                entry["fieldId"] = item.field_id
            entry.update({"from": item.from_, "fromString": item.from_string, "to": item.to,
                          "toString": item.to_string})
            items.append(entry)
        return {"id": str(history.id), "author": self.user(history.author), "created": jira_time(history.created),
                "items": items}

    def issue(self, issue: JiraIssue, wanted: Callable[[str], bool], changelog: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
            "id": str(issue.id), "self": f"{self.rest}/issue/{issue.id}", "key": issue.key,
        }
        if changelog:
            shown = issue.histories[:CHANGELOG_PAGE]
            payload["changelog"] = {"startAt": 0, "maxResults": len(shown), "total": len(issue.histories),
                                    "histories": [self.history(h) for h in shown]}
        payload["fields"] = {name: value for name, value in self.fields(issue).items() if wanted(name)}
        return payload


# -- rate limiting ----------------------------------------------------------------


class _MinuteLimiter:
    """Jira Cloud-style burst budget: `limit` requests per credential per 60-second window."""

    def __init__(self, limit: int, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # credential -> (reset epoch, used)

    def consume(self, credential: str) -> tuple[bool, int, float, float]:
        """(allowed, used, reset epoch, now)."""
        with self._lock:
            now = self.clock()
            reset, used = self._windows.get(credential, (0.0, 0))
            if now >= reset:
                reset, used = now + RATE_LIMIT_WINDOW_SECONDS, 0
            allowed = used < self.limit
            if allowed:
                used += 1
            self._windows[credential] = (reset, used)
            return allowed, used, reset, now


# -- routing ----------------------------------------------------------------------

_ROUTES: list[tuple[str, re.Pattern[str]]] = [(template, re.compile(pattern)) for template, pattern in (
    ("search/jql", r"^/rest/api/(?P<v>[23])/search/jql$"),
    ("search", r"^/rest/api/(?P<v>[23])/search$"),
    ("issue", r"^/rest/api/(?P<v>[23])/issue/(?P<key>[^/]+)$"),
    ("issue/changelog", r"^/rest/api/(?P<v>[23])/issue/(?P<key>[^/]+)/changelog$"),
    ("project", r"^/rest/api/(?P<v>[23])/project$"),
    ("project/search", r"^/rest/api/(?P<v>[23])/project/search$"),
    ("project/{key}", r"^/rest/api/(?P<v>[23])/project/(?P<key>[^/]+)$"),
    ("project/versions", r"^/rest/api/(?P<v>[23])/project/(?P<key>[^/]+)/versions$"),
    ("project/version", r"^/rest/api/(?P<v>[23])/project/(?P<key>[^/]+)/version$"),
    ("field", r"^/rest/api/(?P<v>[23])/field$"),
    ("myself", r"^/rest/api/(?P<v>[23])/myself$"),
    ("serverInfo", r"^/rest/api/(?P<v>[23])/serverInfo$"),
)]
_POST_ROUTES = {"search/jql", "search"}
_TEMPLATES = {  # route name -> path template (API version filled in)
    "search/jql": "/search/jql", "search": "/search", "issue": "/issue/{issueIdOrKey}",
    "issue/changelog": "/issue/{issueIdOrKey}/changelog", "project": "/project", "project/search": "/project/search",
    "project/{key}": "/project/{projectIdOrKey}", "project/versions": "/project/{projectIdOrKey}/versions",
    "project/version": "/project/{projectIdOrKey}/version", "field": "/field", "myself": "/myself",
    "serverInfo": "/serverInfo",
}


def _match(path: str) -> tuple[str, dict[str, str]] | None:
    path = path.rstrip("/") or "/"
    return next(((name, found.groupdict()) for name, pattern in _ROUTES if (found := pattern.match(path))), None)


class JiraApi:
    """Serves one JiraSite. Thread-safe: the model is read-only, counters and caches are locked."""

    def __init__(self, site: JiraSite, *, email: str = DEFAULT_EMAIL, token: str,
                 rate_limit_per_minute: int | None = None, clock: Callable[[], float] = time.time,
                 prefix: str = JIRA_PREFIX) -> None:
        self.site = site
        self.email = email
        self.token = token
        self.prefix = prefix
        self.clock = clock
        self.rate_limiter = _MinuteLimiter(rate_limit_per_minute, clock) if rate_limit_per_minute else None
        self.counts = RouteCounts("jira")
        self._lock = threading.Lock()
        self._query_cache: dict[tuple[str, int], np.ndarray] = {}  # (jql, generation) -> positions

    @property
    def request_count(self) -> int:
        return self.counts.total

    def stats(self) -> dict[str, Any]:
        return self.counts.stats()

    def auth_header(self, server: bool = False) -> str:
        """The Authorization header a client should send (Cloud basic auth, or Server bearer PAT)."""
        if server:
            return f"Bearer {self.token}"
        return "Basic " + base64.b64encode(f"{self.email}:{self.token}".encode()).decode()

    # -- request handling ----------------------------------------------------------

    def route_template(self, method: str, path: str) -> str | None:
        """`/rest/api/3/issue/{issueIdOrKey}` for `/rest/api/3/issue/PAY-1`; None when no route matches."""
        route = _match(path)
        return None if route is None else f"/rest/api/{route[1]['v']}{_TEMPLATES[route[0]]}"

    def handle(self, request: ApiRequest) -> ApiResponse:
        route = _match(request.path)
        self.counts.add(request.method, self.route_template(request.method, request.path))
        credential, problem = self._authenticate(request.headers.get("authorization", ""))
        if credential is None:
            return self._error(401, [problem], [("WWW-Authenticate", 'Basic realm="protected-area"'),
                                                ("X-Seraph-LoginReason", "AUTHENTICATED_FAILED")])
        limit_headers: list[tuple[str, str]] = []
        if self.rate_limiter is not None:
            allowed, used, reset, now = self.rate_limiter.consume(credential)
            limit = self.rate_limiter.limit
            reset_iso = datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            limit_headers = [("X-RateLimit-Limit", str(limit)), ("X-RateLimit-Remaining", str(max(limit - used, 0))),
                             ("X-RateLimit-Reset", reset_iso),
                             ("X-RateLimit-NearLimit", "true" if limit - used < limit * 0.2 else "false")]
            if not allowed:
                retry = max(1, math.ceil(reset - now))
                return self._error(429, ["Rate limit exceeded."],
                                   [("Retry-After", str(retry)), ("RateLimit-Reason", "jira-burst-based")]
                                   + [(k, "0" if k == "X-RateLimit-Remaining" else v) for k, v in limit_headers])
        try:
            if route is None:
                raise _HttpError(404, ["null for uri: " + request.base_url + self.prefix + request.path])
            if request.method not in ("GET", "HEAD") and not (request.method == "POST" and route[0] in _POST_ROUTES):
                raise _HttpError(405, ["Method Not Allowed"])
            with self.site.lock:  # `JiraSite.advance` never runs half-way through a request
                body = self._dispatch(route[0], route[1], request)
        except _HttpError as error:
            return self._error(error.status, error.messages, error.headers + limit_headers)
        return self._json(200, body, limit_headers)

    def _authenticate(self, header: str) -> tuple[str | None, str]:
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if not scheme:
            return None, "You are not authenticated. Authentication required to perform this operation."
        if scheme.lower() == "basic":
            try:
                email, _, token = base64.b64decode(value, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None, "Client must be authenticated to access this resource."
            if email.lower() == self.email.lower() and token == self.token:
                return f"basic:{email.lower()}", ""
        elif scheme.lower() == "bearer" and value == self.token:
            return "bearer", ""
        return None, "Client must be authenticated to access this resource."

    def _json(self, status: int, body: Any, extra: list[tuple[str, str]]) -> ApiResponse:
        encoded = json.dumps(body, separators=(",", ":")).encode()
        request_id = hashlib.sha1(encoded[:256] + str(status).encode()).hexdigest()[:16]
        headers = [("Content-Type", "application/json;charset=UTF-8"), ("X-AREQUESTID", request_id),
                   ("Cache-Control", "no-cache, no-store, no-transform")]
        return ApiResponse(status, encoded, headers + extra)

    def _error(self, status: int, messages: list[str], extra: list[tuple[str, str]]) -> ApiResponse:
        return self._json(status, {"errorMessages": messages, "errors": {}}, extra)

    # -- dispatch -------------------------------------------------------------------

    def _dispatch(self, template: str, params: dict[str, str], request: ApiRequest) -> Any:
        api = params["v"]
        out = _Serialiser(self.site, request.base_url + self.prefix, api)
        if template == "search/jql":
            return self._search(request, out, cloud=True)
        if template == "search":
            if api == "3":
                raise _HttpError(410, ["The requested API has been removed. Please migrate to the "
                                       "/rest/api/3/search/jql API. A full migration guideline is available at "
                                       "https://developer.atlassian.com/changelog/#CHANGE-2046"])
            return self._search(request, out, cloud=False)
        if template == "issue":
            issue = self._issue(params["key"])
            wanted = _field_filter(_multi(request, "fields") or ["*all"])
            return out.issue(issue, wanted, changelog="changelog" in _expand(request.param("expand")))
        if template == "issue/changelog":
            issue = self._issue(params["key"])
            start = _int(request.param("startAt"), 0, "startAt")
            size = min(_int(request.param("maxResults"), CHANGELOG_PAGE, "maxResults") or CHANGELOG_PAGE,
                       CHANGELOG_PAGE)
            page = issue.histories[start:start + size]
            body: dict[str, Any] = {"self": f"{out.rest}/issue/{issue.key}/changelog?"
                                            f"{urlencode({'startAt': start, 'maxResults': size})}"}
            if start + size < len(issue.histories):
                body["nextPage"] = (f"{out.rest}/issue/{issue.key}/changelog?"
                                    f"{urlencode({'startAt': start + size, 'maxResults': size})}")
            body.update({"maxResults": size, "startAt": start, "total": len(issue.histories),
                         "isLast": start + size >= len(issue.histories),
                         "values": [out.history(history) for history in page]})
            return body
        if template == "project":
            return [out.project(project) for project in self.site.projects]
        if template == "project/search":
            keys = {key.upper() for raw in _multi(request, "keys") for key in raw.split(",") if key}
            projects = [p for p in self.site.projects if not keys or p.key in keys]
            return self._paged(request, out, "project/search", projects, lambda p: out.project(p, full=True))
        project = self.site.project(params.get("key", ""))
        if template in ("project/{key}", "project/versions", "project/version") and project is None:
            raise _HttpError(404, [f"No project could be found with key '{params.get('key')}'."])
        if template == "project/{key}":
            return out.project(project, full=True)
        if template == "project/versions":
            return [out.version(v) for v in self.site.project_versions(project.key)]
        if template == "project/version":
            return self._paged(request, out, f"project/{project.key}/version",
                               self.site.project_versions(project.key), out.version)
        if template == "field":
            return _field_catalogue(self.site.custom_fields)
        if template == "myself":
            return {**(out.user(self.site.projects[0].lead) if self.site.projects else {}),
                    "emailAddress": self.email, "displayName": "Simulator Bot"}
        if template == "serverInfo":
            return {"baseUrl": out.root, "version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0],
                    "deploymentType": "Cloud", "buildNumber": 100300, "serverTime": jira_time(self.site.anchor),
                    "scmInfo": "simulator", "serverTitle": "Jira (simulator)"}
        raise _HttpError(404, ["Not Found"])

    def _issue(self, key_or_id: str) -> JiraIssue:
        position = _position(self.site, key_or_id)
        if position is None:
            raise _HttpError(404, ["Issue does not exist or you do not have permission to see it."])
        return self.site.issue_at(position)

    def _paged(self, request: ApiRequest, out: _Serialiser, path: str, items: list,
               serialise: Callable[[Any], dict]) -> dict[str, Any]:
        start = _int(request.param("startAt"), 0, "startAt")
        size = min(_int(request.param("maxResults"), DEFAULT_MAX_RESULTS, "maxResults") or DEFAULT_MAX_RESULTS,
                   MAX_RESULTS)
        body: dict[str, Any] = {"self": f"{out.rest}/{path}?{urlencode({'startAt': start, 'maxResults': size})}"}
        if start + size < len(items):
            body["nextPage"] = f"{out.rest}/{path}?{urlencode({'startAt': start + size, 'maxResults': size})}"
        body.update({"maxResults": size, "startAt": start, "total": len(items),
                     "isLast": start + size >= len(items), "values": [serialise(i) for i in items[start:start + size]]})
        return body

    # -- search ---------------------------------------------------------------------

    def _search(self, request: ApiRequest, out: _Serialiser, cloud: bool) -> dict[str, Any]:
        options = self._search_options(request)
        jql = options.get("jql") or ""
        issues = self._run_query(jql)
        size = _int(options.get("maxResults"), DEFAULT_MAX_RESULTS, "maxResults")
        size = min(size if size > 0 else DEFAULT_MAX_RESULTS, MAX_RESULTS)
        fields = options.get("fields")
        wanted = _field_filter(fields if fields else ([] if cloud else ["*navigable"]))
        changelog = "changelog" in _expand(options.get("expand"))
        digest = hashlib.sha256(f"{self.site.generation}|{jql}".encode()).hexdigest()[:16]
        if cloud:
            start = _decode_token(options.get("nextPageToken"), digest)
        else:
            start = _int(options.get("startAt"), 0, "startAt")
        page = issues[start:start + size]
        payload = [out.issue(self.site.issue_at(position), wanted, changelog) for position in page.tolist()]
        if cloud:
            body: dict[str, Any] = {"issues": payload}
            if start + size < len(issues):
                body["nextPageToken"] = _encode_token(start + size, digest)
            body["isLast"] = start + size >= len(issues)
            return body
        return {"expand": "schema,names", "startAt": start, "maxResults": size, "total": len(issues),
                "issues": payload}

    def _search_options(self, request: ApiRequest) -> dict[str, Any]:
        """Query parameters, overlaid by a JSON body on POST (Jira's body names match the parameter names)."""
        options: dict[str, Any] = {name: request.param(name)
                                   for name in ("jql", "nextPageToken", "startAt", "maxResults", "expand")}
        options["fields"] = _multi(request, "fields")
        raw = getattr(request, "body", b"") or b""
        if request.method == "POST" and raw:
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise _HttpError(400, ["Unexpected character in the request body: not valid JSON."]) from None
            if not isinstance(body, dict):
                raise _HttpError(400, ["The request body must be a JSON object."])
            for name in ("jql", "nextPageToken", "startAt", "maxResults"):
                if body.get(name) is not None:
                    options[name] = str(body[name])
            if body.get("fields") is not None:
                options["fields"] = body["fields"] if isinstance(body["fields"], list) else [str(body["fields"])]
            if body.get("expand") is not None:
                expand = body["expand"]
                options["expand"] = ",".join(expand) if isinstance(expand, list) else str(expand)
        return options

    def _run_query(self, jql: str) -> np.ndarray:
        key = (jql, self.site.generation)
        with self._lock:
            cached = self._query_cache.get(key)
        if cached is not None:
            return cached
        try:
            query = parse(jql)
            result = _evaluate(self.site, query)
        except JqlError as problem:
            raise _HttpError(400, [str(problem)]) from None
        with self._lock:
            if len(self._query_cache) > 32:
                self._query_cache.clear()
            self._query_cache[key] = result
        return result


# -- query evaluation ---------------------------------------------------------------
# Over the site's columnar index: numpy masks, a cached sorted permutation per sort key
# and bisection for a date range on the sort field, so a 1M-issue site answers in ms.

_COMPARE: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "=": lambda c, b: c == b, "!=": lambda c, b: c != b, ">": lambda c, b: c > b,
    ">=": lambda c, b: c >= b, "<": lambda c, b: c < b, "<=": lambda c, b: c <= b}
_FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">="}


def _position(site: JiraSite, key_or_id: str) -> int | None:
    """Position of a visible issue by id, key or former key; None if unknown or deleted."""
    if key_or_id.isdigit():
        position = site.position_of_id(int(key_or_id))
    else:
        found = site.position_of_key(key_or_id)
        position = None if found is None else found[0]
    if position is None or not site.index.deleted[position] > site.anchor_ms:
        return None
    return position


def _sort_column(site: JiraSite, name: str) -> np.ndarray:
    index = site.index
    if name == "key":
        return index.key_rank(site.project_rank)
    return index.ids if name == "id" else getattr(index, name)


def _sorted(site: JiraSite, name: str, descending: bool) -> tuple[np.ndarray, np.ndarray]:
    """(positions, ascending sort values) for ORDER BY name [DESC], ties by id ascending; cached per generation."""
    cache = site.index._orders
    cache_key = (f"{name}:{'desc' if descending else 'asc'}", site.generation)
    found = cache.get(cache_key)
    if found is None:
        column = _sort_column(site, name).astype(np.int64)
        if descending:
            column = -column
        order = np.argsort(column, kind="stable")  # positions are in id order: ties stay by id
        found = (order, column[order])
        if len(cache) > 8:
            cache.clear()
        cache[cache_key] = found
    return found


def _evaluate(site: JiraSite, query: Query) -> np.ndarray:
    index = site.index
    now = site.anchor_ms
    mask = index.visible(now)
    order = query.order_by or [("key", "DESC")]
    ranges: list[tuple[str, int]] = []  # bounds on the single sort field, answered by bisection
    for clause in query.clauses:
        negate = clause.operator in ("!=", "not in")
        if clause.field == "project":
            codes = []
            for value in clause.values:
                project = site.project(value) or next((p for p in site.projects if p.name.lower() == value.lower()),
                                                      None)
                if project is None:
                    raise JqlError(f"The value '{value}' does not exist for the field 'project'.")
                codes.append(site.project_positions[project.key])
            matched = np.isin(index.project, codes)
        elif clause.field == "issuetype":
            codes = []
            for value in clause.values:
                name = next((n for n, (type_id, _) in ISSUE_TYPES.items()
                             if n.lower() == value.lower() or type_id == value), None)
                if name is None:
                    raise JqlError(f"The value '{value}' does not exist for the field 'issuetype'.")
                codes.append(TYPE_CODES[name])
            matched = np.isin(index.itype, codes)
        elif clause.field == "status":
            codes = []
            for value in clause.values:
                name = next((n for n, s in STATUSES.items() if n.lower() == value.lower() or s.id == value), None)
                if name is None:
                    raise JqlError(f"The value '{value}' does not exist for the field 'status'.")
                codes.append(STATUS_CODES[name])
            matched = np.isin(index.status, codes)
        elif clause.field == "key":
            matched = np.zeros(len(index), dtype=bool)
            for value in clause.values:
                position = _position(site, value)
                if position is None:
                    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*-\d+|\d+", value):
                        raise JqlError(f"The issue key '{value}' for field 'key' is invalid.")
                    raise JqlError(f"An issue with key '{value}' does not exist for field 'key'.")
                matched[position] = True
        elif clause.field in DATE_FIELDS:
            bound = to_ms(parse_date(clause.values[0], clause.field, site.anchor))
            if len(order) == 1 and order[0][0] == clause.field and clause.operator in _FLIP:
                ranges.append((clause.operator, bound))
                continue
            mask &= _COMPARE[clause.operator](getattr(index, clause.field), bound)
            continue
        else:  # pragma: no cover - the parser only yields the fields above
            raise JqlError(f"Field '{clause.field}' is not supported.")
        mask &= ~matched if negate else matched
    if len(order) == 1:
        name, direction = order[0]
        positions, values = _sorted(site, name, direction == "DESC")
        low, high = 0, len(positions)
        for operator, bound in ranges:
            if direction == "DESC":
                operator, bound = _FLIP[operator], -bound
            if operator == ">=":
                low = max(low, int(np.searchsorted(values, bound, "left")))
            elif operator == ">":
                low = max(low, int(np.searchsorted(values, bound, "right")))
            elif operator == "<":
                high = min(high, int(np.searchsorted(values, bound, "left")))
            else:
                high = min(high, int(np.searchsorted(values, bound, "right")))
        window = positions[low:max(low, high)]
        return window[mask[window]]
    selected = np.flatnonzero(mask)
    keys = [index.ids[selected]]  # the final tie-break
    for name, direction in reversed(order):
        column = _sort_column(site, name)[selected].astype(np.int64)
        keys.append(-column if direction == "DESC" else column)
    return selected[np.lexsort(keys)]


# -- parameters ---------------------------------------------------------------------


def _multi(request: ApiRequest, name: str) -> list[str]:
    values = [value for key, value in request.query if key == name]
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _expand(raw: str | None) -> set[str]:
    return {part.strip() for part in (raw or "").split(",") if part.strip()}


def _int(raw: str | None, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _HttpError(400, [f"The value '{raw}' is not valid for the parameter '{name}'."]) from None
    if value < 0:
        raise _HttpError(400, [f"The value '{raw}' is not valid for the parameter '{name}'."])
    return value


def _field_filter(spec: list[str]) -> Callable[[str], bool]:
    include_all = "*all" in spec
    navigable = "*navigable" in spec
    named = {name for name in spec if not name.startswith(("*", "-"))}
    excluded = {name[1:] for name in spec if name.startswith("-")}

    def wanted(name: str) -> bool:
        if name in excluded:
            return False
        return include_all or (navigable and name not in NON_NAVIGABLE) or name in named
    return wanted


def _encode_token(offset: int, digest: str) -> str:
    raw = json.dumps({"o": offset, "s": digest}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str | None, digest: str) -> int:
    if not token:
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset, snapshot = int(decoded["o"]), decoded["s"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _HttpError(400, ["The provided next page token is invalid or expired."]) from None
    if snapshot != digest or offset < 0:
        raise _HttpError(400, ["The provided next page token is invalid or expired."])
    return offset


_SYSTEM_FIELDS = (  # id, name, schema type, items type
    ("summary", "Summary", "string", None), ("issuetype", "Issue Type", "issuetype", None),
    ("status", "Status", "status", None), ("priority", "Priority", "priority", None),
    ("labels", "Labels", "array", "string"), ("project", "Project", "project", None),
    ("created", "Created", "datetime", None), ("updated", "Updated", "datetime", None),
    ("resolutiondate", "Resolved", "datetime", None), ("resolution", "Resolution", "resolution", None),
    ("fixVersions", "Fix versions", "array", "version"), ("versions", "Affects versions", "array", "version"),
    ("assignee", "Assignee", "user", None), ("reporter", "Reporter", "user", None),
    ("creator", "Creator", "user", None), ("description", "Description", "string", None),
    ("statuscategorychangedate", "Status Category Changed", "datetime", None),
    ("components", "Components", "array", "component"), ("duedate", "Due date", "date", None),
    ("environment", "Environment", "string", None), ("issuelinks", "Linked Issues", "array", "issuelinks"),
    ("subtasks", "Sub-tasks", "array", "issuelinks"), ("comment", "Comment", "comments-page", None),
)


def _field_catalogue(custom_fields: dict[str, str]) -> list[dict[str, Any]]:
    fields = []
    for field_id, name, kind, items in _SYSTEM_FIELDS:
        schema: dict[str, Any] = {"type": kind, "system": field_id}
        if items:
            schema["items"] = items
        fields.append({"id": field_id, "key": field_id, "name": name, "custom": False, "orderable": True,
                       "navigable": field_id not in NON_NAVIGABLE, "searchable": True,
                       "clauseNames": [field_id] + (["resolved"] if field_id == "resolutiondate" else []),
                       "schema": schema})
    for field_id, name in custom_fields.items():
        custom_id = int(field_id.removeprefix("customfield_"))
        fields.append({
            "id": field_id, "key": field_id, "name": name, "custom": True,
            "orderable": True, "navigable": True, "searchable": True,
            "clauseNames": [f"cf[{custom_id}]", name],
            "schema": {"type": "option", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:select",
                       "customId": custom_id},
        })
    return fields
