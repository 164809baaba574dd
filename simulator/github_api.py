"""GitHub REST routing, pagination, auth, rate limiting and response shapes.

Independent of any socket: `GitHubApi.handle(ApiRequest)` returns an
`ApiResponse`, so the behaviour is unit-testable and the HTTP server is a thin
adapter. Payload shapes follow api.github.com's OpenAPI description
(`minimal-repository`, `full-repository`, `pull-request-simple`, `deployment`,
`deployment-status`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable
from urllib.parse import urlencode

from simulator.model import Deployment, DeploymentStatus, Org, PullRequest, Repository

API_PREFIX = "/github"
DEFAULT_API_VERSION = "2022-11-28"
DOCS_URL = "https://docs.github.com/rest"
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
RATE_LIMIT_WINDOW_SECONDS = 3600
LABELS = {  # name -> (color, description), GitHub's defaults where they exist
    "bug": ("d73a4a", "Something isn't working"),
    "dependencies": ("0366d6", "Pull requests that update a dependency file"),
    "documentation": ("0075ca", "Improvements or additions to documentation"),
    "enhancement": ("a2eeef", "New feature or request"),
    "hotfix": ("b60205", "Urgent fix for production"),
    "refactor": ("fbca04", "Code change that neither fixes a bug nor adds a feature"),
}


@dataclass
class ApiRequest:
    method: str
    path: str  # without the /github prefix and without the query string
    query: list[tuple[str, str]]  # in request order, so Link URLs keep it
    headers: dict[str, str]  # lower-cased names
    base_url: str  # scheme://host[:port] as the client addressed us

    def param(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return default


@dataclass
class ApiResponse:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


class _NotFound(Exception):
    pass


class _ValidationFailed(Exception):
    pass


# -- serialisers ------------------------------------------------------------------


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(kind: str, number: int) -> str:
    # GitHub's legacy global node id: base64("<len>:<Type><id>").
    return base64.b64encode(f"{len(kind):03d}:{kind}{number}".encode()).decode()


def user_json(org: Org, login: str, base: str) -> dict[str, Any]:
    user = org.user(login)
    api = f"{base}{API_PREFIX}/users/{login}"
    return {
        "login": user.login, "id": user.id, "node_id": node_id(user.type, user.id),
        "avatar_url": f"{base}/avatars/u/{user.id}?v=4", "gravatar_id": "",
        "url": api, "html_url": f"{base}/{login}",
        "followers_url": f"{api}/followers", "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}", "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions", "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos", "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events", "type": user.type,
        "user_view_type": "public", "site_admin": False,
    }


def org_owner_json(org: Org, base: str) -> dict[str, Any]:
    owner = user_json(org, org.login, base)
    owner.update(type="Organization", url=f"{base}{API_PREFIX}/orgs/{org.login}")
    return owner


def repository_json(org: Org, repo: Repository, base: str, full: bool = False) -> dict[str, Any]:
    """`minimal-repository` (listing) or, with `full`, `full-repository` (single GET)."""
    api = f"{base}{API_PREFIX}/repos/{repo.full_name}"
    pushed_at = repo.commits[-1].committed_at if repo.commits else repo.created_at
    open_prs = sum(1 for pr in org.pull_requests.get(repo.full_name, []) if pr.state == "open")
    payload: dict[str, Any] = {
        "id": repo.id, "node_id": node_id("Repository", repo.id), "name": repo.name,
        "full_name": repo.full_name, "private": repo.private, "owner": org_owner_json(org, base),
        "html_url": f"{base}/{repo.full_name}", "description": repo.description, "fork": False,
        "url": api,
        "forks_url": f"{api}/forks", "keys_url": f"{api}/keys{{/key_id}}",
        "collaborators_url": f"{api}/collaborators{{/collaborator}}", "teams_url": f"{api}/teams",
        "hooks_url": f"{api}/hooks", "issue_events_url": f"{api}/issues/events{{/number}}",
        "events_url": f"{api}/events", "assignees_url": f"{api}/assignees{{/user}}",
        "branches_url": f"{api}/branches{{/branch}}", "tags_url": f"{api}/tags",
        "blobs_url": f"{api}/git/blobs{{/sha}}", "git_tags_url": f"{api}/git/tags{{/sha}}",
        "git_refs_url": f"{api}/git/refs{{/sha}}", "trees_url": f"{api}/git/trees{{/sha}}",
        "statuses_url": f"{api}/statuses/{{sha}}", "languages_url": f"{api}/languages",
        "stargazers_url": f"{api}/stargazers", "contributors_url": f"{api}/contributors",
        "subscribers_url": f"{api}/subscribers", "subscription_url": f"{api}/subscription",
        "commits_url": f"{api}/commits{{/sha}}", "git_commits_url": f"{api}/git/commits{{/sha}}",
        "comments_url": f"{api}/comments{{/number}}", "issue_comment_url": f"{api}/issues/comments{{/number}}",
        "contents_url": f"{api}/contents/{{+path}}", "compare_url": f"{api}/compare/{{base}}...{{head}}",
        "merges_url": f"{api}/merges", "archive_url": f"{api}/{{archive_format}}{{/ref}}",
        "downloads_url": f"{api}/downloads", "issues_url": f"{api}/issues{{/number}}",
        "pulls_url": f"{api}/pulls{{/number}}", "milestones_url": f"{api}/milestones{{/number}}",
        "notifications_url": f"{api}/notifications{{?since,all,participating}}",
        "labels_url": f"{api}/labels{{/name}}", "releases_url": f"{api}/releases{{/id}}",
        "deployments_url": f"{api}/deployments",
        "created_at": iso(repo.created_at), "updated_at": iso(pushed_at), "pushed_at": iso(pushed_at),
        "git_url": f"git://{base.split('://', 1)[-1]}/{repo.full_name}.git",
        "ssh_url": f"git@{base.split('://', 1)[-1].split(':')[0]}:{repo.full_name}.git",
        "clone_url": f"{base}/{repo.full_name}.git", "svn_url": f"{base}/{repo.full_name}",
        "homepage": None, "size": 1000 + len(repo.commits) * 7,
        "stargazers_count": 0, "watchers_count": 0, "language": repo.language,
        "has_issues": True, "has_projects": True, "has_downloads": True, "has_wiki": False,
        "has_pages": False, "has_discussions": False, "forks_count": 0, "mirror_url": None,
        "archived": False, "disabled": False, "open_issues_count": open_prs, "license": None,
        "allow_forking": False, "is_template": False, "web_commit_signoff_required": False,
        "topics": [org.team_of(repo.full_name)],
        "visibility": "private" if repo.private else "public",
        "forks": 0, "open_issues": open_prs, "watchers": 0, "default_branch": repo.default_branch,
        "permissions": {"admin": False, "maintain": False, "push": False, "triage": False, "pull": True},
    }
    if full:
        payload.update({
            "allow_squash_merge": True, "allow_merge_commit": True, "allow_rebase_merge": True,
            "allow_auto_merge": False, "delete_branch_on_merge": True, "allow_update_branch": False,
            "use_squash_pr_title_as_default": False, "organization": org_owner_json(org, base),
            "network_count": 0, "subscribers_count": _team_size(org, repo),
        })
    return payload


def _team_size(org: Org, repo: Repository) -> int:
    team_name = org.team_of(repo.full_name)
    return next((len(team.members) for team in org.teams if team.name == team_name), 0)


def _label_json(repo: Repository, name: str, base: str) -> dict[str, Any]:
    names = sorted(LABELS)
    label_id = repo.id * 10 + (names.index(name) if name in LABELS else 9)
    color, description = LABELS.get(name, ("ededed", ""))
    return {
        "id": label_id, "node_id": node_id("Label", label_id),
        "url": f"{base}{API_PREFIX}/repos/{repo.full_name}/labels/{name}",
        "name": name, "description": description, "color": color,
        "default": name in ("bug", "enhancement", "documentation"),
    }


def pull_request_json(org: Org, pr: PullRequest, base: str, repo_payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """`pull-request-simple`; pass `repo_payload` to reuse one repository object across a page."""
    repo = org.repository(pr.repo)
    if repo is None:
        raise KeyError(pr.repo)
    api_repo = f"{base}{API_PREFIX}/repos/{pr.repo}"
    url = f"{api_repo}/pulls/{pr.number}"
    html_url = f"{base}/{pr.repo}/pull/{pr.number}"
    issue_url = f"{api_repo}/issues/{pr.number}"
    repo_payload = repo_payload or repository_json(org, repo, base)
    links = {
        "self": url, "html": html_url, "issue": issue_url, "comments": f"{issue_url}/comments",
        "review_comments": f"{url}/comments", "review_comment": f"{api_repo}/pulls/comments{{/number}}",
        "commits": f"{url}/commits", "statuses": f"{api_repo}/statuses/{pr.head_sha}",
    }
    return {
        "url": url, "id": pr.id, "node_id": node_id("PullRequest", pr.id), "html_url": html_url,
        "diff_url": f"{html_url}.diff", "patch_url": f"{html_url}.patch", "issue_url": issue_url,
        "number": pr.number, "state": pr.state, "locked": False, "title": pr.title,
        "user": user_json(org, pr.user, base), "body": pr.body,
        "labels": [_label_json(repo, name, base) for name in pr.labels],
        "milestone": None, "active_lock_reason": None,
        "created_at": iso(pr.created_at), "updated_at": iso(pr.updated_at),
        "closed_at": iso(pr.closed_at), "merged_at": iso(pr.merged_at),
        "merge_commit_sha": pr.merge_commit_sha, "assignee": None, "assignees": [],
        "requested_reviewers": [user_json(org, login, base) for login in pr.requested_reviewers],
        "requested_teams": [],
        "commits_url": links["commits"], "review_comments_url": links["review_comments"],
        "review_comment_url": links["review_comment"], "comments_url": links["comments"],
        "statuses_url": links["statuses"],
        "head": {"label": f"{org.login}:{pr.head_ref}", "ref": pr.head_ref, "sha": pr.head_sha,
                 "user": org_owner_json(org, base), "repo": repo_payload},
        "base": {"label": f"{org.login}:{pr.base_ref}", "ref": pr.base_ref, "sha": pr.base_sha,
                 "user": org_owner_json(org, base), "repo": repo_payload},
        "_links": {name: {"href": href} for name, href in links.items()},
        "author_association": pr.author_association, "auto_merge": None, "draft": pr.draft,
    }


def deployment_json(org: Org, deployment: Deployment, base: str) -> dict[str, Any]:
    api_repo = f"{base}{API_PREFIX}/repos/{deployment.repo}"
    url = f"{api_repo}/deployments/{deployment.id}"
    return {
        "url": url, "id": deployment.id, "node_id": node_id("Deployment", deployment.id),
        "task": deployment.task, "original_environment": deployment.environment,
        "environment": deployment.environment, "description": deployment.description,
        "created_at": iso(deployment.created_at), "updated_at": iso(deployment.updated_at),
        "statuses_url": f"{url}/statuses", "repository_url": api_repo,
        "creator": user_json(org, deployment.creator, base), "sha": deployment.sha,
        "ref": deployment.ref, "payload": {},
        "transient_environment": deployment.transient_environment,
        "production_environment": deployment.production_environment,
        "performed_via_github_app": None,
    }


def deployment_status_json(org: Org, deployment: Deployment, status: DeploymentStatus, base: str) -> dict[str, Any]:
    api_repo = f"{base}{API_PREFIX}/repos/{deployment.repo}"
    deployment_url = f"{api_repo}/deployments/{deployment.id}"
    run_url = f"{base}/{deployment.repo}/actions/runs/{deployment.id}"
    return {
        "url": f"{deployment_url}/statuses/{status.id}", "id": status.id,
        "node_id": node_id("DeploymentStatus", status.id), "state": status.state,
        "creator": user_json(org, status.creator, base), "description": status.description,
        "environment": status.environment or deployment.environment,
        "target_url": run_url, "log_url": status.log_url or run_url, "environment_url": "",
        "created_at": iso(status.created_at), "updated_at": iso(status.updated_at),
        "deployment_url": deployment_url, "repository_url": api_repo,
        "performed_via_github_app": None,
    }


# -- rate limiting ----------------------------------------------------------------


class RateLimiter:
    """GitHub's `core` budget: `limit` requests per token per hour-long window."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}  # token -> (reset epoch, used)

    def _window(self, token: str) -> tuple[int, int]:
        now = self.clock()
        reset, used = self._windows.get(token, (0, 0))
        if now >= reset:
            reset, used = int(now) + RATE_LIMIT_WINDOW_SECONDS, 0
        return reset, used

    def consume(self, token: str) -> tuple[bool, int, int]:
        """Spend one request; returns (allowed, used, reset)."""
        with self._lock:
            reset, used = self._window(token)
            allowed = used < self.limit
            if allowed:
                used += 1
            self._windows[token] = (reset, used)
            return allowed, used, reset

    def peek(self, token: str) -> tuple[int, int]:
        with self._lock:
            reset, used = self._window(token)
            self._windows[token] = (reset, used)
            return used, reset


# -- routing ----------------------------------------------------------------------

_ROUTES: list[tuple[str, re.Pattern[str]]] = [
    ("/rate_limit", re.compile(r"^/rate_limit$")),
    ("/orgs/{org}/repos", re.compile(r"^/orgs/(?P<org>[^/]+)/repos$")),
    ("/repos/{owner}/{repo}", re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)$")),
    ("/repos/{owner}/{repo}/pulls", re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/pulls$")),
    ("/repos/{owner}/{repo}/deployments",
     re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/deployments$")),
    ("/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
     re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/deployments/(?P<deployment_id>\d+)/statuses$")),
]


def match_route(path: str) -> tuple[str, dict[str, str]] | None:
    path = path.rstrip("/") or "/"
    for template, pattern in _ROUTES:
        found = pattern.match(path)
        if found:
            return template, found.groupdict()
    return None


class GitHubApi:
    """Serves one Org. Thread-safe: the model is read-only, counters are locked."""

    def __init__(self, org: Org, token: str, rate_limit: int = 5000,
                 clock: Callable[[], float] = time.time) -> None:
        self.org = org
        self.token = token
        self.rate_limiter = RateLimiter(rate_limit, clock)
        self.route_counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self._sorted_cache: dict[tuple, list] = {}
        self._deployments_by_id = {d.id: d for d in org.all_deployments()}

    @property
    def request_count(self) -> int:
        with self._counts_lock:
            return sum(self.route_counts.values())

    def stats(self) -> dict[str, Any]:
        with self._counts_lock:
            routes = dict(sorted(self.route_counts.items()))
        return {"github_requests": sum(routes.values()), "routes": routes}

    def handle(self, request: ApiRequest) -> ApiResponse:
        route = match_route(request.path) if request.method in ("GET", "HEAD") else None
        with self._counts_lock:
            self.route_counts[f"{request.method} {route[0] if route else '<unmatched>'}"] += 1
        api_version = request.headers.get("x-github-api-version", DEFAULT_API_VERSION)
        token = _bearer_token(request.headers.get("authorization", ""))
        if token is None:
            return _error(401, "Requires authentication", api_version)
        if token != self.token:
            return _error(401, "Bad credentials", api_version)
        if route is not None and route[0] == "/rate_limit":
            # Like GitHub, asking for the rate limit does not spend it.
            used, reset = self.rate_limiter.peek(token)
            return self._respond(200, self._rate_limit_body(used, reset), used, reset, api_version, request)
        allowed, used, reset = self.rate_limiter.consume(token)
        if not allowed:
            body = {"message": "API rate limit exceeded for installation. If you reach out to GitHub Support "
                               "for help, please include the request ID.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                    "status": "403"}
            return self._respond(403, body, used, reset, api_version, request)
        try:
            if route is None:
                raise _NotFound
            status, body, link = self._dispatch(route[0], route[1], request)
        except _NotFound:
            status, body, link = 404, {"message": "Not Found", "documentation_url": DOCS_URL, "status": "404"}, None
        except _ValidationFailed as problem:
            status, body, link = 422, {"message": f"Validation Failed: {problem}", "documentation_url": DOCS_URL,
                                       "status": "422"}, None
        return self._respond(status, body, used, reset, api_version, request, link)

    def _respond(self, status: int, body: Any, used: int, reset: int, api_version: str,
                 request: ApiRequest, link: str | None = None) -> ApiResponse:
        encoded = json.dumps(body, separators=(",", ":")).encode()
        etag = f'W/"{hashlib.md5(encoded).hexdigest()}"'
        headers = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("X-GitHub-Api-Version", api_version),
            ("X-RateLimit-Limit", str(self.rate_limiter.limit)),
            ("X-RateLimit-Remaining", str(max(self.rate_limiter.limit - used, 0))),
            ("X-RateLimit-Reset", str(reset)),
            ("X-RateLimit-Used", str(used)),
            ("X-RateLimit-Resource", "core"),
            ("ETag", etag),
            ("Cache-Control", "private, max-age=60, s-maxage=60"),
            ("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP"),
        ]
        if link:
            headers.append(("Link", link))
        if status == 200 and request.headers.get("if-none-match") == etag:
            return ApiResponse(304, b"", headers)
        return ApiResponse(status, encoded, headers)

    def _rate_limit_body(self, used: int, reset: int) -> dict[str, Any]:
        core = {"limit": self.rate_limiter.limit, "used": used,
                "remaining": max(self.rate_limiter.limit - used, 0), "reset": reset}
        # Only `core` is simulated; the other required buckets report an untouched budget.
        search = {"limit": 30, "used": 0, "remaining": 30, "reset": reset}
        graphql = {"limit": 5000, "used": 0, "remaining": 5000, "reset": reset}
        return {"resources": {"core": core, "search": search, "graphql": graphql}, "rate": core}

    # -- endpoint handlers ---------------------------------------------------------

    def _dispatch(self, template: str, params: dict[str, str], request: ApiRequest) -> tuple[int, Any, str | None]:
        base = request.base_url
        if template == "/orgs/{org}/repos":
            if params["org"].lower() != self.org.login.lower():
                raise _NotFound
            repos = self._sorted_repositories(request)
            return self._page(request, repos, lambda repo: repository_json(self.org, repo, base))
        repo = self.org.repository(f"{params['owner']}/{params['repo']}")
        if repo is None:
            raise _NotFound
        if template == "/repos/{owner}/{repo}":
            return 200, repository_json(self.org, repo, base, full=True), None
        if template == "/repos/{owner}/{repo}/pulls":
            pulls = self._filtered_pulls(repo, request)
            repo_payload = repository_json(self.org, repo, base)
            return self._page(request, pulls, lambda pr: pull_request_json(self.org, pr, base, repo_payload))
        if template == "/repos/{owner}/{repo}/deployments":
            deployments = self._filtered_deployments(repo, request)
            return self._page(request, deployments, lambda d: deployment_json(self.org, d, base))
        if template == "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses":
            deployment = self._deployments_by_id.get(int(params["deployment_id"]))
            if deployment is None or deployment.repo != repo.full_name:
                raise _NotFound
            statuses = sorted(deployment.statuses, key=lambda s: (s.created_at, s.id), reverse=True)
            return self._page(request, statuses,
                              lambda status: deployment_status_json(self.org, deployment, status, base))
        raise _NotFound

    def _cached(self, key: tuple, build: Callable[[], list]) -> list:
        # Benign race: two threads may build the same list; both results are equal.
        cached = self._sorted_cache.get(key)
        if cached is None:
            cached = self._sorted_cache[key] = build()
        return cached

    def _sorted_repositories(self, request: ApiRequest) -> list[Repository]:
        repo_type = request.param("type", "all")
        sort = request.param("sort", "created")
        if repo_type not in ("all", "public", "private", "forks", "sources", "member"):
            raise _ValidationFailed("type")
        if sort not in ("created", "updated", "pushed", "full_name"):
            raise _ValidationFailed("sort")
        direction = _direction(request, default="asc" if sort == "full_name" else "desc")

        def build() -> list[Repository]:
            def last_push(repo: Repository) -> datetime:
                return repo.commits[-1].committed_at if repo.commits else repo.created_at
            key_of = {"created": lambda r: (r.created_at, r.id), "full_name": lambda r: (r.full_name.lower(), r.id),
                      "updated": lambda r: (last_push(r), r.id), "pushed": lambda r: (last_push(r), r.id)}[sort]
            wanted = [r for r in self.org.repositories
                      if repo_type in ("all", "sources", "member")
                      or (repo_type == "public" and not r.private) or (repo_type == "private" and r.private)]
            return sorted(wanted, key=key_of, reverse=direction == "desc")
        return self._cached(("repos", repo_type, sort, direction), build)

    def _filtered_pulls(self, repo: Repository, request: ApiRequest) -> list[PullRequest]:
        state = request.param("state", "open")
        sort = request.param("sort", "created")
        if state not in ("open", "closed", "all"):
            raise _ValidationFailed("state")
        if sort not in ("created", "updated"):
            raise _ValidationFailed("sort (supported: created, updated)")
        # GitHub: "Default: desc when sort is created or sort is not specified, otherwise asc."
        direction = _direction(request, default="desc" if sort == "created" else "asc")

        def build() -> list[PullRequest]:
            key_of = {"created": lambda pr: (pr.created_at, pr.number),
                      "updated": lambda pr: (pr.updated_at, pr.number)}[sort]
            wanted = [pr for pr in self.org.pull_requests.get(repo.full_name, [])
                      if state == "all" or pr.state == state]
            return sorted(wanted, key=key_of, reverse=direction == "desc")
        pulls = self._cached(("pulls", repo.full_name, state, sort, direction), build)
        head, base_ref = request.param("head"), request.param("base")
        if base_ref:
            pulls = [pr for pr in pulls if pr.base_ref == base_ref]
        if head:
            pulls = [pr for pr in pulls if f"{self.org.login}:{pr.head_ref}" == head]
        return pulls

    def _filtered_deployments(self, repo: Repository, request: ApiRequest) -> list[Deployment]:
        newest_first = self._cached(("deployments", repo.full_name), lambda: sorted(
            self.org.deployments.get(repo.full_name, []), key=lambda d: d.id, reverse=True))
        filters = {name: request.param(name) for name in ("sha", "ref", "task", "environment")}
        if not any(filters.values()):
            return newest_first
        return [d for d in newest_first
                if all(not wanted or getattr(d, name) == wanted for name, wanted in filters.items())]

    def _page(self, request: ApiRequest, items: list, serialise: Callable[[Any], dict]) -> tuple[int, list, str | None]:
        per_page = min(_positive_int(request.param("per_page"), DEFAULT_PER_PAGE), MAX_PER_PAGE)
        page = _positive_int(request.param("page"), 1)
        start = (page - 1) * per_page
        body = [serialise(item) for item in items[start:start + per_page]]
        return 200, body, link_header(request, page, per_page, len(items))


def link_header(request: ApiRequest, page: int, per_page: int, total: int) -> str | None:
    """GitHub's Link header: prev, next, last, first; no next on the last page, no prev on the first."""
    last_page = max(math.ceil(total / per_page), 1)
    if last_page == 1 and page == 1:
        return None

    def url(target: int) -> str:
        query = [(key, value) for key, value in request.query if key != "page"] + [("page", str(target))]
        return f"<{request.base_url}{API_PREFIX}{request.path}?{urlencode(query)}>"
    links = []
    if page > 1:
        links.append(f'{url(min(page - 1, last_page))}; rel="prev"')
    if page < last_page:
        links.append(f'{url(page + 1)}; rel="next"')
        links.append(f'{url(last_page)}; rel="last"')
    if page > 1:
        links.append(f'{url(1)}; rel="first"')
    return ", ".join(links)


def _bearer_token(authorization: str) -> str | None:
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return None


def _positive_int(raw: str | None, default: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return value if value >= 1 else default


def _direction(request: ApiRequest, default: str) -> str:
    direction = request.param("direction", default)
    if direction not in ("asc", "desc"):
        raise _ValidationFailed("direction")
    return direction


def _error(status: int, message: str, api_version: str) -> ApiResponse:
    body = json.dumps({"message": message, "documentation_url": DOCS_URL, "status": str(status)},
                      separators=(",", ":")).encode()
    return ApiResponse(status, body, [("Content-Type", "application/json; charset=utf-8"),
                                      ("X-GitHub-Api-Version", api_version)])
