"""GitHub REST routing, pagination, auth, rate limiting and response shapes.

Independent of any socket: `GitHubApi.handle(ApiRequest)` returns an
`ApiResponse`, so the behaviour is unit-testable and the HTTP server is a thin
adapter. Payload shapes follow api.github.com's OpenAPI description
(`minimal-repository`, `full-repository`, `pull-request-simple`, `deployment`,
`deployment-status`, `commit`, `pull-request-review`, `release`, `issue`,
`milestone`, `workflow-run`, `job`, `artifact`, `code-scanning-alert-items`,
`dependabot-alert`).

GitHub behaviours reproduced: Link pagination (cursor-based for Dependabot
alerts), conditional requests (a 304 does not spend the rate limit), the
`core` rate limit, `since` on /issues, and renamed repositories (301 to
/repositories/{id}/..., which is served for every repository route).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import random
import re
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from urllib.parse import urlencode

from simulator.generator import churn_pull_requests
from simulator.model import (
    Commit,
    Deployment,
    DeploymentStatus,
    Issue,
    Milestone,
    Org,
    PullRequest,
    Release,
    Repository,
    Review,
    SecurityAlert,
    WorkflowRun,
)
from simulator.route_counts import RouteCounts

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
    "incident": ("e11d21", "Production incident"),
    "refactor": ("fbca04", "Code change that neither fixes a bug nor adds a feature"),
}


@dataclass
class ApiRequest:
    method: str
    path: str  # without the /github prefix and without the query string
    query: list[tuple[str, str]]  # in request order, so Link URLs keep it
    headers: dict[str, str]  # lower-cased names
    base_url: str  # scheme://host[:port] as the client addressed us
    body: bytes = b""  # request body (POST searches of other sources); GitHub reads ignore it

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


def git_date(moment: datetime, offset_minutes: int) -> str:
    """A Git date in the committer's own zone (GitHub shows Z for UTC)."""
    if offset_minutes == 0:
        return iso(moment) or ""
    return moment.astimezone(timezone(timedelta(minutes=offset_minutes))).isoformat()


def commit_json(org: Org, repo_full_name: str, commit: Commit, parent_sha: str | None, base: str) -> dict[str, Any]:
    """`commit` as listed by /pulls/{n}/commits."""
    api_repo = f"{base}{API_PREFIX}/repos/{repo_full_name}"
    git_user = {"name": commit.author, "email": f"{commit.author.replace('[bot]', '')}@users.noreply.example",
                "date": git_date(commit.committed_at, commit.tz_offset_minutes)}
    tree_sha = hashlib.sha1(commit.sha.encode()).hexdigest()
    return {
        "url": f"{api_repo}/commits/{commit.sha}", "sha": commit.sha, "node_id": node_id("Commit", int(commit.sha[:8], 16)),
        "html_url": f"{base}/{repo_full_name}/commit/{commit.sha}",
        "comments_url": f"{api_repo}/commits/{commit.sha}/comments",
        "commit": {"url": f"{api_repo}/git/commits/{commit.sha}", "author": git_user, "committer": dict(git_user),
                   "message": commit.message, "comment_count": 0,
                   "tree": {"sha": tree_sha, "url": f"{api_repo}/git/trees/{tree_sha}"},
                   "verification": {"verified": False, "reason": "unsigned", "payload": None, "signature": None,
                                    "verified_at": None}},
        "author": user_json(org, commit.author, base), "committer": user_json(org, commit.author, base),
        "parents": [] if parent_sha is None else [{"sha": parent_sha, "url": f"{api_repo}/commits/{parent_sha}",
                                                   "html_url": f"{base}/{repo_full_name}/commit/{parent_sha}"}],
    }


def review_json(org: Org, pr: PullRequest, review: Review, base: str) -> dict[str, Any]:
    pull_url = f"{base}{API_PREFIX}/repos/{pr.repo}/pulls/{pr.number}"
    html_url = f"{base}/{pr.repo}/pull/{pr.number}#pullrequestreview-{review.id}"
    return {
        "id": review.id, "node_id": node_id("PullRequestReview", review.id), "user": user_json(org, review.user, base),
        "body": review.body, "state": review.state, "html_url": html_url, "pull_request_url": pull_url,
        "_links": {"html": {"href": html_url}, "pull_request": {"href": pull_url}},
        "submitted_at": iso(review.submitted_at), "commit_id": review.commit_id,
        "author_association": "CONTRIBUTOR" if review.user.endswith("[bot]") else "MEMBER",
    }


def release_json(org: Org, release: Release, base: str) -> dict[str, Any]:
    api_repo = f"{base}{API_PREFIX}/repos/{release.repo}"
    url = f"{api_repo}/releases/{release.id}"
    return {
        "url": url, "html_url": f"{base}/{release.repo}/releases/tag/{release.tag_name}",
        "assets_url": f"{url}/assets", "upload_url": f"{base}/uploads/repos/{release.repo}/releases/{release.id}"
                                                     "/assets{?name,label}",
        "tarball_url": f"{api_repo}/tarball/{release.tag_name}", "zipball_url": f"{api_repo}/zipball/{release.tag_name}",
        "id": release.id, "node_id": node_id("Release", release.id), "tag_name": release.tag_name,
        "target_commitish": release.target_commitish, "name": release.name, "body": release.body, "draft": False,
        "prerelease": release.prerelease, "created_at": iso(release.created_at),
        "published_at": iso(release.published_at), "author": user_json(org, release.author, base), "assets": [],
        "reactions": reactions_json(url),
    }


def reactions_json(subject_url: str) -> dict[str, Any]:
    """GitHub's `reaction-rollup`: nobody reacts in the simulation."""
    return {"url": f"{subject_url}/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
            "confused": 0, "heart": 0, "rocket": 0, "eyes": 0}


def issue_json(org: Org, item: Issue | PullRequest, base: str) -> dict[str, Any]:
    """`issue`; pull requests appear with a `pull_request` key, exactly as GitHub's /issues lists them."""
    repo = org.repository(item.repo)
    if repo is None:
        raise KeyError(item.repo)
    api_repo = f"{base}{API_PREFIX}/repos/{item.repo}"
    url = f"{api_repo}/issues/{item.number}"
    is_pull = isinstance(item, PullRequest)
    html_url = f"{base}/{item.repo}/{'pull' if is_pull else 'issues'}/{item.number}"
    payload: dict[str, Any] = {
        "id": item.id, "node_id": node_id("PullRequest" if is_pull else "Issue", item.id), "url": url,
        "repository_url": api_repo, "labels_url": f"{url}/labels{{/name}}", "comments_url": f"{url}/comments",
        "events_url": f"{url}/events", "html_url": html_url, "number": item.number, "state": item.state,
        "state_reason": None if is_pull else item.state_reason, "title": item.title, "body": item.body,
        "user": user_json(org, item.user, base), "labels": [_label_json(repo, name, base) for name in item.labels],
        "assignee": None, "assignees": [], "milestone": None, "locked": False, "active_lock_reason": None,
        "comments": 0, "closed_at": iso(item.closed_at), "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at), "timeline_url": f"{url}/timeline",
        "author_association": item.author_association if is_pull else "MEMBER",
        "reactions": reactions_json(url), "performed_via_github_app": None,
    }
    if is_pull:
        payload["draft"] = item.draft
        payload["pull_request"] = {"url": f"{api_repo}/pulls/{item.number}", "html_url": html_url,
                                   "diff_url": f"{html_url}.diff", "patch_url": f"{html_url}.patch",
                                   "merged_at": iso(item.merged_at)}
    return payload


def milestone_json(org: Org, milestone: Milestone, base: str) -> dict[str, Any]:
    api_repo = f"{base}{API_PREFIX}/repos/{milestone.repo}"
    url = f"{api_repo}/milestones/{milestone.number}"
    milestone_id = _stable_child_id(org, milestone.repo, 4_000_000_000, milestone.number)
    return {
        "url": url, "html_url": f"{base}/{milestone.repo}/milestone/{milestone.number}", "labels_url": f"{url}/labels",
        "id": milestone_id, "node_id": node_id("Milestone", milestone_id), "number": milestone.number,
        "state": milestone.state, "title": milestone.title, "description": milestone.description,
        "creator": user_json(org, milestone.creator, base), "open_issues": milestone.open_issues,
        "closed_issues": milestone.closed_issues, "created_at": iso(milestone.created_at),
        "updated_at": iso(milestone.updated_at), "closed_at": iso(milestone.closed_at), "due_on": iso(milestone.due_on),
    }


def _stable_child_id(org: Org, repo_full_name: str, offset: int, number: int) -> int:
    repo = org.repository(repo_full_name)
    return offset + ((repo.id if repo else 0) % 100_000) * 10_000 + number


CODE_SCANNING_RULES = {  # rule id -> (name, description, security severity)
    "py/sql-injection": ("SqlInjection", "SQL query built from user-controlled sources", "high"),
    "py/path-injection": ("PathInjection", "Uncontrolled data used in path expression", "high"),
    "py/clear-text-logging": ("CleartextLogging", "Clear-text logging of sensitive information", "medium"),
    "js/xss": ("Xss", "Client-side cross-site scripting", "medium"),
    "go/unsafe-quoting": ("UnsafeQuoting", "Potentially unsafe quoting", "critical"),
}


def code_scanning_alert_json(org: Org, alert: SecurityAlert, base: str) -> dict[str, Any]:
    api_repo = f"{base}{API_PREFIX}/repos/{alert.repo}"
    url = f"{api_repo}/code-scanning/alerts/{alert.number}"
    name, description, security = CODE_SCANNING_RULES.get(alert.subject, (alert.subject, alert.subject, None))
    repo = org.repository(alert.repo)
    return {
        "number": alert.number, "created_at": iso(alert.created_at), "updated_at": iso(alert.updated_at), "url": url,
        "html_url": f"{base}/{alert.repo}/security/code-scanning/{alert.number}", "instances_url": f"{url}/instances",
        "state": alert.state, "fixed_at": iso(alert.fixed_at),
        "dismissed_by": user_json(org, alert.dismissed_by, base) if alert.dismissed_by else None,
        "dismissed_at": iso(alert.dismissed_at), "dismissed_reason": alert.dismissed_reason,
        "dismissed_comment": None, "dismissal_approved_by": None,
        "rule": {"id": alert.subject, "name": name, "severity": alert.severity, "security_severity_level": security,
                 "description": description, "tags": ["security"]},
        "tool": {"name": "CodeQL", "version": "2.19.0", "guid": None},
        "most_recent_instance": {
            "ref": f"refs/heads/{repo.default_branch if repo else 'main'}", "analysis_key": ".github/workflows/codeql.yml:analyze",
            "environment": "{}", "category": ".github/workflows/codeql.yml:analyze", "state": alert.state,
            "commit_sha": alert.commit_sha, "message": {"text": description},
            "location": {"path": alert.path, "start_line": 10 + alert.number, "end_line": 10 + alert.number,
                         "start_column": 5, "end_column": 40},
            "classifications": []},
    }


DEPENDABOT_ECOSYSTEMS = {"requirements.txt": "pip", "package-lock.json": "npm", "go.sum": "go"}


def dependabot_alert_json(org: Org, alert: SecurityAlert, base: str) -> dict[str, Any]:
    api_repo = f"{base}{API_PREFIX}/repos/{alert.repo}"
    package = {"ecosystem": DEPENDABOT_ECOSYSTEMS.get(alert.path, "pip"), "name": alert.subject}
    digest = hashlib.sha1(f"{alert.repo}:{alert.number}".encode()).hexdigest()
    ghsa = f"GHSA-{digest[0:4]}-{digest[4:8]}-{digest[8:12]}"
    cve = f"CVE-2026-{int(digest[12:17], 16) % 90000 + 10000}"
    vulnerability = {"package": package, "severity": alert.severity, "vulnerable_version_range": "< 2.0.0",
                     "first_patched_version": {"identifier": "2.0.0"}}
    return {
        "number": alert.number, "state": alert.state,
        "dependency": {"package": package, "manifest_path": alert.path, "scope": "runtime", "relationship": "direct"},
        "security_advisory": {
            "ghsa_id": ghsa, "cve_id": cve, "summary": f"Vulnerability in {alert.subject}",
            "description": f"{alert.subject} before 2.0.0 is vulnerable.", "vulnerabilities": [vulnerability],
            "severity": alert.severity, "cvss": {"score": {"low": 3.1, "medium": 5.3, "high": 7.5, "critical": 9.8}[
                alert.severity], "vector_string": None},
            "cwes": [{"cwe_id": "CWE-20", "name": "Improper Input Validation"}],
            "identifiers": [{"value": ghsa, "type": "GHSA"}, {"value": cve, "type": "CVE"}],
            "references": [{"url": f"https://nvd.nist.gov/vuln/detail/{cve}"}],
            "published_at": iso(alert.created_at), "updated_at": iso(alert.created_at), "withdrawn_at": None},
        "security_vulnerability": vulnerability,
        "url": f"{api_repo}/dependabot/alerts/{alert.number}",
        "html_url": f"{base}/{alert.repo}/security/dependabot/{alert.number}",
        "created_at": iso(alert.created_at), "updated_at": iso(alert.updated_at),
        "dismissed_at": iso(alert.dismissed_at),
        "dismissed_by": user_json(org, alert.dismissed_by, base) if alert.dismissed_by else None,
        "dismissed_reason": alert.dismissed_reason, "dismissed_comment": None, "fixed_at": iso(alert.fixed_at),
        "auto_dismissed_at": None,
    }


# -- GitHub Actions -------------------------------------------------------------------

WORKFLOW_NAME = "CI"
WORKFLOW_PATH = ".github/workflows/ci.yml"
JOB_NAMES = ("lint", "test", "build")
# Appending keeps existing artifact ids stable (id = run id * 10 + index).
ARTIFACT_NAMES = ("coverage-report", "code-scanning-sarif", "openapi-spec", "benchmark-results")
ARTIFACT_RETENTION_DAYS = 90
BLOB_PREFIX = "/_blobs/artifacts/"  # unauthenticated, signed download URLs, like GitHub's blob storage


def workflow_id(repo: Repository) -> int:
    return 160_000_000 + repo.id % 1_000_000


def workflow_run_json(org: Org, run: WorkflowRun, base: str, repo_payload: dict[str, Any]) -> dict[str, Any]:
    repo = org.repository(run.repo)
    assert repo is not None
    api_repo = f"{base}{API_PREFIX}/repos/{run.repo}"
    url = f"{api_repo}/actions/runs/{run.id}"
    pr = None
    if run.pull_request_number is not None:
        pr = next((p for p in org.pull_requests.get(run.repo, []) if p.number == run.pull_request_number), None)
    minimal_repo = {"id": repo.id, "url": api_repo, "name": repo.name}
    pulls = [] if pr is None else [{
        "id": pr.id, "number": pr.number, "url": f"{api_repo}/pulls/{pr.number}",
        "head": {"ref": pr.head_ref, "sha": pr.head_sha, "repo": minimal_repo},
        "base": {"ref": pr.base_ref, "sha": pr.base_sha, "repo": minimal_repo}}]
    git_user = {"name": run.actor, "email": f"{run.actor.replace('[bot]', '')}@users.noreply.example"}
    return {
        "id": run.id, "name": WORKFLOW_NAME, "node_id": node_id("WorkflowRun", run.id),
        "check_suite_id": run.id + 1, "check_suite_node_id": node_id("CheckSuite", run.id + 1),
        "head_branch": run.head_branch, "head_sha": run.head_sha, "path": WORKFLOW_PATH,
        "run_number": run.run_number, "run_attempt": 1, "event": run.event, "status": run.status,
        "conclusion": run.conclusion, "workflow_id": workflow_id(repo), "url": url,
        "html_url": f"{base}/{run.repo}/actions/runs/{run.id}", "pull_requests": pulls,
        "created_at": iso(run.created_at), "updated_at": iso(run.updated_at),
        "actor": user_json(org, run.actor, base), "triggering_actor": user_json(org, run.actor, base),
        "run_started_at": iso(run.created_at), "jobs_url": f"{url}/jobs", "logs_url": f"{url}/logs",
        "check_suite_url": f"{api_repo}/check-suites/{run.id + 1}",
        "artifacts_url": f"{url}/artifacts", "cancel_url": f"{url}/cancel", "rerun_url": f"{url}/rerun",
        "previous_attempt_url": None, "referenced_workflows": [], "workflow_url": f"{api_repo}/actions/workflows/{workflow_id(repo)}",
        "head_commit": {"id": run.head_sha, "tree_id": hashlib.sha1(run.head_sha.encode()).hexdigest(),
                        "message": f"{WORKFLOW_NAME} for {run.head_sha[:7]}", "timestamp": iso(run.created_at),
                        "author": git_user, "committer": git_user},
        "repository": repo_payload, "head_repository": repo_payload, "display_title": f"{WORKFLOW_NAME} #{run.run_number}",
    }


def workflow_jobs(run: WorkflowRun) -> list[dict[str, Any]]:
    """lint, test, build in sequence; a failed run fails at `test`, later jobs are skipped."""
    jobs, moment = [], run.created_at
    span = max((run.updated_at - run.created_at).total_seconds(), 3.0)
    for index, name in enumerate(JOB_NAMES):
        started = moment
        completed = run.created_at + timedelta(seconds=span * (index + 1) / len(JOB_NAMES))
        if run.status != "completed":
            conclusion, status, completed_at = None, "in_progress" if index == 0 else "queued", None
        elif run.conclusion == "failure":
            conclusion = "success" if index == 0 else "failure" if index == 1 else "skipped"
            status, completed_at = "completed", completed
        else:
            conclusion, status, completed_at = run.conclusion, "completed", completed
        jobs.append({"id": run.id * 10 + index, "name": name, "status": status, "conclusion": conclusion,
                     "started_at": started, "completed_at": completed_at})
        moment = completed
    return jobs


def job_json(org: Org, run: WorkflowRun, job: dict[str, Any], base: str) -> dict[str, Any]:
    api_repo = f"{base}{API_PREFIX}/repos/{run.repo}"
    return {
        "id": job["id"], "run_id": run.id, "run_url": f"{api_repo}/actions/runs/{run.id}", "run_attempt": 1,
        "node_id": node_id("CheckRun", job["id"]), "head_sha": run.head_sha, "url": f"{api_repo}/actions/jobs/{job['id']}",
        "html_url": f"{base}/{run.repo}/actions/runs/{run.id}/job/{job['id']}", "status": job["status"],
        "conclusion": job["conclusion"], "created_at": iso(run.created_at), "started_at": iso(job["started_at"]),
        "completed_at": iso(job["completed_at"]), "name": job["name"],
        "steps": [{"name": f"Run {job['name']}", "status": job["status"], "conclusion": job["conclusion"],
                   "number": 1, "started_at": iso(job["started_at"]), "completed_at": iso(job["completed_at"])}],
        "check_run_url": f"{api_repo}/check-runs/{job['id']}", "labels": ["ubuntu-latest"],
        "runner_id": 1 + job["id"] % 50, "runner_name": f"GitHub Actions {1 + job['id'] % 50}",
        "runner_group_id": 1, "runner_group_name": "GitHub Actions", "workflow_name": WORKFLOW_NAME,
        "head_branch": run.head_branch,
    }


def run_artifacts(run: WorkflowRun) -> list[tuple[int, str]]:
    """(artifact id, name) for a completed, non-cancelled run."""
    if run.status != "completed" or run.conclusion == "cancelled":
        return []
    return [(run.id * 10 + index, name) for index, name in enumerate(ARTIFACT_NAMES)]


def artifact_json(org: Org, run: WorkflowRun, artifact_id: int, name: str, size: int, base: str) -> dict[str, Any]:
    repo = org.repository(run.repo)
    assert repo is not None
    api_repo = f"{base}{API_PREFIX}/repos/{run.repo}"
    expires = run.updated_at + timedelta(days=ARTIFACT_RETENTION_DAYS)
    return {
        "id": artifact_id, "node_id": node_id("Artifact", artifact_id), "name": name, "size_in_bytes": size,
        "url": f"{api_repo}/actions/artifacts/{artifact_id}",
        "archive_download_url": f"{api_repo}/actions/artifacts/{artifact_id}/zip",
        "expired": expires < org.anchor, "created_at": iso(run.updated_at), "expires_at": iso(expires),
        "updated_at": iso(run.updated_at), "digest": None,
        "workflow_run": {"id": run.id, "repository_id": repo.id, "head_repository_id": repo.id,
                         "head_branch": run.head_branch, "head_sha": run.head_sha},
    }


def artifact_files(org: Org, run: WorkflowRun, name: str) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The files inside an artifact and the facts they encode, from simulator.ci_reports."""
    from simulator import ci_reports  # owned by the CI-reports work; imported lazily

    rng = random.Random(f"{org.seed}:artifact:{run.id}:{name}")
    stem = run.repo.split("/", 1)[1].replace("-", "_")
    if name == "coverage-report":
        # Each repository keeps one coverage tool, so every real format is served somewhere.
        fmt = ci_reports.COVERAGE_FORMATS[int(hashlib.sha256(run.repo.encode()).hexdigest(), 16) % 4]
        files = [f"src/{stem}/{module}.py" for module in ("api", "models", "service", "storage", "util")]
        document, facts = ci_reports.coverage_report(fmt, rng, files, rng.uniform(0.55, 0.92),
                                                      generated_at=run.updated_at)
        return {ci_reports.COVERAGE_PATHS[fmt]: document}, facts
    if name == "code-scanning-sarif":
        document, facts = ci_reports.sarif_report(rng, rng.randint(0, 6))
        return {"results.sarif": document}, facts
    # A service's API surface and documentation habits belong to the repository; each run
    # drifts a little around them, so the KPI trend moves slowly as real ones do.
    service = random.Random(f"{org.seed}:service:{run.repo}")
    if name == "openapi-spec":
        operations = service.randint(8, 40)
        share = min(1.0, max(0.0, service.uniform(0.4, 0.95) + rng.uniform(-0.05, 0.05)))
        document, facts = ci_reports.openapi_spec(rng, stem, operations, share)
        return {"openapi.json": document}, facts
    if name == "benchmark-results":
        document, facts = ci_reports.benchmark_result(rng, stem)
        return {"k6-summary.json": document}, facts
    raise ValueError(f"unknown artifact {name!r}")


def artifact_zip(org: Org, run: WorkflowRun, name: str) -> bytes:
    files, _ = artifact_files(org, run, name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for filename, content in sorted(files.items()):
            # A fixed timestamp keeps the archive byte-identical between runs.
            info = zipfile.ZipInfo(filename, date_time=run.updated_at.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def _blob_signature(token: str, artifact_id: int) -> str:
    return hashlib.sha256(f"{token}:{artifact_id}".encode()).hexdigest()[:32]


def _created_filter(expression: str) -> Callable[[datetime], bool]:
    """GitHub's date search syntax for `created`: DATE, >=DATE, <=DATE, >DATE, <DATE, DATE..DATE."""
    def parse(text: str, end_of_day: bool = False) -> datetime:
        moment = _parse_timestamp(text)
        if end_of_day and len(text) == 10:
            moment += timedelta(days=1) - timedelta(seconds=1)
        return moment
    try:
        if ".." in expression:
            low, high = expression.split("..", 1)
            lower = parse(low) if low and low != "*" else None
            upper = parse(high, end_of_day=True) if high and high != "*" else None
            return lambda moment: (lower is None or moment >= lower) and (upper is None or moment <= upper)
        for operator in (">=", "<=", ">", "<"):
            if expression.startswith(operator):
                bound = parse(expression[len(operator):], end_of_day=operator in ("<=", ">"))
                return {">=": lambda m: m >= bound, "<=": lambda m: m <= bound,
                        ">": lambda m: m > bound, "<": lambda m: m < bound}[operator]
        low, high = parse(expression), parse(expression, end_of_day=True)
        return lambda moment: low <= moment <= high
    except _ValidationFailed:
        raise _ValidationFailed("created (expected GitHub date syntax, e.g. >=2026-01-01)") from None


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

    def refund(self, token: str) -> tuple[int, int]:
        """Give back one request of the current window (a 304); returns (used, reset)."""
        with self._lock:
            reset, used = self._window(token)
            used = max(used - 1, 0)
            self._windows[token] = (reset, used)
            return used, reset

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
    ("/repos/{owner}/{repo}/commits", re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/commits$")),
    ("/repos/{owner}/{repo}/pulls/{pull_number}/commits",
     re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/pulls/(?P<pull_number>\d+)/commits$")),
    ("/repos/{owner}/{repo}/pulls/{pull_number}/reviews",
     re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/pulls/(?P<pull_number>\d+)/reviews$")),
    ("/repos/{owner}/{repo}/releases", re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/releases$")),
    ("/repos/{owner}/{repo}/issues", re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/issues$")),
    ("/repos/{owner}/{repo}/milestones", re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/milestones$")),
    ("/repos/{owner}/{repo}/code-scanning/alerts",
     re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/code-scanning/alerts$")),
    ("/repos/{owner}/{repo}/dependabot/alerts",
     re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/dependabot/alerts$")),
    ("/repos/{owner}/{repo}/actions/runs", re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/actions/runs$")),
    ("/repos/{owner}/{repo}/actions/runs/{run_id}/jobs",
     re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/actions/runs/(?P<run_id>\d+)/jobs$")),
    ("/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts",
     re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/actions/runs/(?P<run_id>\d+)/artifacts$")),
    ("/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}",
     re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/actions/artifacts/(?P<artifact_id>\d+)/"
                r"(?P<archive_format>zip)$")),
    ("/repos/{owner}/{repo}/deployments",
     re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/deployments$")),
    ("/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
     re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/deployments/(?P<deployment_id>\d+)/statuses$")),
]


_REPOSITORY_BY_ID = re.compile(r"^/repositories/(?P<repository_id>\d+)(?P<rest>/.*)?$")


def match_route(path: str) -> tuple[str, dict[str, str]] | None:
    path = path.rstrip("/") or "/"
    by_id = _REPOSITORY_BY_ID.match(path)
    if by_id:
        # GitHub serves every /repos/{owner}/{repo}/... route under /repositories/{id}/... too.
        inner = match_route(f"/repos/_/_{by_id['rest'] or ''}")
        if inner is None:
            return None
        template, params = inner
        params = {**params, "repository_id": by_id["repository_id"]}
        return template.replace("/repos/{owner}/{repo}", "/repositories/{repository_id}", 1), params
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
        self.counts = RouteCounts("github")
        self._sorted_cache: dict[tuple, list] = {}
        self._deployments_by_id = {d.id: d for d in org.all_deployments()}
        self._cache_revision = org.revision

    @property
    def request_count(self) -> int:
        return self.counts.total

    def stats(self) -> dict[str, Any]:
        return self.counts.stats()

    def route_template(self, method: str, path: str) -> str | None:
        """The documented path template a request hits (for the server's counters)."""
        if path.startswith(BLOB_PREFIX):
            return f"{BLOB_PREFIX}{{artifact_id}}.zip"
        route = match_route(path) if method in ("GET", "HEAD") else None
        return route[0] if route else None

    def churn_pull_requests(self, repo_full_name: str | None = None) -> dict[str, Any]:
        """Mutate the model mid-crawl: one new PR plus one existing PR bumped to the newest updated_at."""
        return churn_pull_requests(self.org, repo_full_name)

    def handle(self, request: ApiRequest) -> ApiResponse:
        if request.path.startswith(BLOB_PREFIX) and request.method in ("GET", "HEAD"):
            self.counts.add(request.method, f"{BLOB_PREFIX}{{artifact_id}}.zip")
            self._sync_with_model()
            return self._serve_blob(request)
        route = match_route(request.path) if request.method in ("GET", "HEAD") else None
        self.counts.add(request.method, route[0] if route else None)
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
            moved = self._moved_repository(route[1], request)
            if moved is not None:
                return self._respond(301, {"message": "Moved Permanently", "url": moved,
                                           "documentation_url": DOCS_URL}, used, reset, api_version, request,
                                     extra_headers=[("Location", moved)])
            status, body, link = self._dispatch(route[0], route[1], request)
            if status == 302:
                return self._respond(302, None, used, reset, api_version, request,
                                     extra_headers=[("Location", body["location"])], body_bytes=b"")
        except _NotFound:
            status, body, link = 404, {"message": "Not Found", "documentation_url": DOCS_URL, "status": "404"}, None
        except _ValidationFailed as problem:
            status, body, link = 422, {"message": f"Validation Failed: {problem}", "documentation_url": DOCS_URL,
                                       "status": "422"}, None
        return self._respond(status, body, used, reset, api_version, request, link)

    def _moved_repository(self, params: dict[str, str], request: ApiRequest) -> str | None:
        """Location of the canonical /repositories/{id}/... URL when a request uses a former name."""
        if "owner" not in params or "repository_id" in params:
            return None
        if self.org.repository(f"{params['owner']}/{params['repo']}") is not None:
            return None
        repo = self.org.repository_by_former_name(f"{params['owner']}/{params['repo']}")
        if repo is None:
            return None
        rest = request.path.rstrip("/").split("/", 4)[4:]  # after /repos/{owner}/{repo}
        location = f"{request.base_url}{API_PREFIX}/repositories/{repo.id}" + ("/" + rest[0] if rest else "")
        return location + (f"?{urlencode(request.query)}" if request.query else "")

    def _respond(self, status: int, body: Any, used: int, reset: int, api_version: str,
                 request: ApiRequest, link: str | None = None,
                 extra_headers: list[tuple[str, str]] | None = None, body_bytes: bytes | None = None) -> ApiResponse:
        encoded = json.dumps(body, separators=(",", ":")).encode() if body_bytes is None else body_bytes
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
        headers.extend(extra_headers or [])
        if status == 200 and etag in _entity_tags(request.headers.get("if-none-match", "")):
            # GitHub: a 304 for a conditional request does not count against the primary rate limit.
            used, reset = self.rate_limiter.refund(_bearer_token(request.headers.get("authorization", "")) or "")
            headers = [(name, value) for name, value in headers if not name.startswith("X-RateLimit-R") and name != "X-RateLimit-Used"]
            headers += [("X-RateLimit-Remaining", str(max(self.rate_limiter.limit - used, 0))),
                        ("X-RateLimit-Reset", str(reset)), ("X-RateLimit-Used", str(used)),
                        ("X-RateLimit-Resource", "core")]
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
        self._sync_with_model()
        if template == "/orgs/{org}/repos":
            if params["org"].lower() != self.org.login.lower():
                raise _NotFound
            repos = self._sorted_repositories(request)
            return self._page(request, repos, lambda repo: repository_json(self.org, repo, base))
        # /repositories/{id}/... serves exactly what /repos/{owner}/{repo}/... serves.
        template = template.replace("/repositories/{repository_id}", "/repos/{owner}/{repo}", 1)
        if "repository_id" in params:
            repo = self.org.repository_by_id(int(params["repository_id"]))
        else:
            repo = self.org.repository(f"{params['owner']}/{params['repo']}")
        if repo is None:
            raise _NotFound
        if template == "/repos/{owner}/{repo}":
            return 200, repository_json(self.org, repo, base, full=True), None
        if template == "/repos/{owner}/{repo}/pulls":
            pulls = self._filtered_pulls(repo, request)
            repo_payload = repository_json(self.org, repo, base)
            return self._page(request, pulls, lambda pr: pull_request_json(self.org, pr, base, repo_payload))
        if template == "/repos/{owner}/{repo}/commits":
            return self._page(request, self._branch_commits(repo, request),
                              lambda pair: commit_json(self.org, repo.full_name, *pair, base))
        if template.endswith("/pulls/{pull_number}/commits") or template.endswith("/pulls/{pull_number}/reviews"):
            pr = self._pull_by_number(repo, int(params["pull_number"]))
            if template.endswith("/commits"):
                # GitHub lists at most 250 commits, oldest first.
                parents = [pr.base_sha or None] + [commit.sha for commit in pr.commits[:-1]]
                pairs = list(zip(pr.commits, parents))[:250]
                return self._page(request, pairs, lambda pair: commit_json(self.org, repo.full_name, *pair, base))
            reviews = sorted(pr.reviews, key=lambda review: (review.submitted_at, review.id))
            return self._page(request, reviews, lambda review: review_json(self.org, pr, review, base))
        if template.endswith("/releases"):
            releases = self._cached(("releases", repo.full_name), lambda: sorted(
                self.org.releases.get(repo.full_name, []), key=lambda r: (r.published_at, r.id), reverse=True))
            return self._page(request, releases, lambda release: release_json(self.org, release, base))
        if template.endswith("/milestones"):
            return self._page(request, self._filtered_milestones(repo, request),
                              lambda milestone: milestone_json(self.org, milestone, base))
        if template.endswith("/code-scanning/alerts"):
            return self._page(request, self._filtered_alerts(repo, request, "code_scanning"),
                              lambda alert: code_scanning_alert_json(self.org, alert, base))
        if template.endswith("/dependabot/alerts"):
            return self._cursor_page(request, self._filtered_alerts(repo, request, "dependabot"),
                                     lambda alert: dependabot_alert_json(self.org, alert, base))
        if "/actions/" in template:
            return self._actions(template, params, repo, request)
        if template.endswith("/issues"):
            return self._page(request, self._filtered_issues(repo, request), lambda item: issue_json(self.org, item, base))
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

    def _sync_with_model(self) -> None:
        if self._cache_revision != self.org.revision:
            # The model changed (fault-plan mutation, Org.advance): drop everything derived from it.
            self._sorted_cache = {}
            self._deployments_by_id = {d.id: d for d in self.org.all_deployments()}
            self._cache_revision = self.org.revision

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

    def _branch_commits(self, repo: Repository, request: ApiRequest) -> list[tuple[Commit, str | None]]:
        """GET /commits: the history of `sha` (a branch name or commit; default: the default
        branch), newest first, as (commit, parent sha); `since`/`until` filter on the commit date.
        The simulated default branch is linear: each commit's parent is the one before it."""
        ref = request.param("sha") or repo.default_branch
        history = repo.commits
        if ref != repo.default_branch:
            tip = next((index for index, commit in enumerate(history) if commit.sha == ref), None)
            if tip is None:
                raise _NotFound
            history = history[:tip + 1]
        pairs = self._cached(("commits", repo.full_name, len(history)), lambda: [
            (commit, history[index - 1].sha if index else None) for index, commit in enumerate(history)][::-1])
        since_text, until_text = request.param("since"), request.param("until")
        if since_text:
            since = _parse_timestamp(since_text)
            pairs = [pair for pair in pairs if pair[0].committed_at >= since]
        if until_text:
            until = _parse_timestamp(until_text)
            pairs = [pair for pair in pairs if pair[0].committed_at <= until]
        return pairs

    def _filtered_milestones(self, repo: Repository, request: ApiRequest) -> list[Milestone]:
        state = request.param("state", "open")
        sort = request.param("sort", "due_on")
        if state not in ("open", "closed", "all"):
            raise _ValidationFailed("state")
        if sort not in ("due_on", "completeness"):
            raise _ValidationFailed("sort")
        direction = _direction(request, default="asc")

        def completeness(m: Milestone) -> float:
            return m.closed_issues / max(m.open_issues + m.closed_issues, 1)
        key_of = ((lambda m: (m.due_on or m.created_at, m.number)) if sort == "due_on"
                  else (lambda m: (completeness(m), m.number)))
        wanted = [m for m in self.org.milestones.get(repo.full_name, []) if state == "all" or m.state == state]
        return sorted(wanted, key=key_of, reverse=direction == "desc")

    def _filtered_alerts(self, repo: Repository, request: ApiRequest, kind: str) -> list[SecurityAlert]:
        sort = request.param("sort", "created")
        if sort not in ("created", "updated"):
            raise _ValidationFailed("sort")
        direction = _direction(request, default="desc")
        states = {value for value in (request.param("state") or "").split(",") if value}
        if kind == "code_scanning" and "closed" in states:
            states |= {"fixed", "dismissed"}
        severities = {value for value in (request.param("severity") or "").split(",") if value}
        alerts = [alert for alert in self.org.security_alerts.get(repo.full_name, []) if alert.kind == kind
                  and (not states or alert.state in states) and (not severities or alert.severity in severities)]
        key_of = (lambda a: (a.created_at, a.number)) if sort == "created" else (lambda a: (a.updated_at, a.number))
        return sorted(alerts, key=key_of, reverse=direction == "desc")

    def _cursor_page(self, request: ApiRequest, items: list, serialise: Callable[[Any], dict]) -> tuple[int, list, str | None]:
        """Cursor pagination (`after`/`before` plus Link rel=next/prev), as Dependabot alerts use."""
        per_page = min(_positive_int(request.param("per_page"), DEFAULT_PER_PAGE), MAX_PER_PAGE)
        positions = {_cursor(item.number): index for index, item in enumerate(items)}
        after, before = request.param("after"), request.param("before")
        if after:
            if after not in positions:
                raise _ValidationFailed("after")
            start = positions[after] + 1
        elif before:
            if before not in positions:
                raise _ValidationFailed("before")
            start = max(positions[before] - per_page, 0)
        else:
            start = 0
        chunk = items[start:start + per_page]
        links = []

        def url(name: str, cursor: str) -> str:
            query = [(k, v) for k, v in request.query if k not in ("after", "before")] + [(name, cursor)]
            return f"<{request.base_url}{API_PREFIX}{request.path}?{urlencode(query)}>"
        if chunk and start > 0:
            links.append(f'{url("before", _cursor(chunk[0].number))}; rel="prev"')
        if chunk and start + per_page < len(items):
            links.append(f'{url("after", _cursor(chunk[-1].number))}; rel="next"')
        return 200, [serialise(item) for item in chunk], ", ".join(links) or None

    def _runs_by_id(self) -> dict[int, WorkflowRun]:
        return self._cached(("runs-by-id",), lambda: [{run.id: run for runs in self.org.workflow_runs.values()
                                                       for run in runs}])[0]

    def _actions(self, template: str, params: dict[str, str], repo: Repository,
                 request: ApiRequest) -> tuple[int, Any, str | None]:
        base = request.base_url
        if template.endswith("/actions/runs"):
            runs = self._cached(("runs", repo.full_name), lambda: sorted(
                self.org.workflow_runs.get(repo.full_name, []), key=lambda run: (run.created_at, run.id), reverse=True))
            created, status = request.param("created"), request.param("status")
            keep_created = _created_filter(created) if created else None
            filters = {"head_branch": request.param("branch"), "event": request.param("event"),
                       "head_sha": request.param("head_sha"), "actor": request.param("actor")}
            runs = [run for run in runs
                    if all(not wanted or getattr(run, name) == wanted for name, wanted in filters.items())
                    and (not status or status in (run.status, run.conclusion))
                    and (keep_created is None or keep_created(run.created_at))]
            repo_payload = repository_json(self.org, repo, base)
            _, page, link = self._page(request, runs, lambda run: workflow_run_json(self.org, run, base, repo_payload))
            return 200, {"total_count": len(runs), "workflow_runs": page}, link
        if "artifact_id" in params:
            artifact_id = int(params["artifact_id"])
            run = self._runs_by_id().get(artifact_id // 10)
            if run is None or run.repo != repo.full_name or artifact_id not in dict(run_artifacts(run)):
                raise _NotFound
            location = (f"{base}{API_PREFIX}{BLOB_PREFIX}{artifact_id}.zip"
                        f"?sig={_blob_signature(self.token, artifact_id)}")
            return 302, {"location": location}, None
        run = self._runs_by_id().get(int(params["run_id"]))
        if run is None or run.repo != repo.full_name:
            raise _NotFound
        if template.endswith("/jobs"):
            jobs = workflow_jobs(run)
            _, page, link = self._page(request, jobs, lambda job: job_json(self.org, run, job, base))
            return 200, {"total_count": len(jobs), "jobs": page}, link
        artifacts = run_artifacts(run)
        name = request.param("name")
        artifacts = [(artifact_id, artifact) for artifact_id, artifact in artifacts if not name or artifact == name]
        _, page, link = self._page(request, artifacts, lambda item: artifact_json(
            self.org, run, item[0], item[1], len(self._artifact_zip(run, item[1])), base))
        return 200, {"total_count": len(artifacts), "artifacts": page}, link

    def _artifact_zip(self, run: WorkflowRun, name: str) -> bytes:
        return self._cached(("artifact-zip", run.id, name), lambda: [artifact_zip(self.org, run, name)])[0]

    def _serve_blob(self, request: ApiRequest) -> ApiResponse:
        """The signed download URL a 302 from /actions/artifacts/{id}/zip points at (no token needed)."""
        match = re.fullmatch(r"(\d+)\.zip", request.path[len(BLOB_PREFIX):])
        artifact_id = int(match.group(1)) if match else -1
        run = self._runs_by_id().get(artifact_id // 10) if match else None
        names = dict(run_artifacts(run)) if run else {}
        if run is None or artifact_id not in names or request.param("sig") != _blob_signature(self.token, artifact_id):
            return ApiResponse(404, b"Not Found", [("Content-Type", "text/plain")])
        return ApiResponse(200, self._artifact_zip(run, names[artifact_id]),
                           [("Content-Type", "application/zip"),
                            ("Content-Disposition", f"attachment; filename={names[artifact_id]}.zip")])

    def _pull_by_number(self, repo: Repository, number: int) -> PullRequest:
        by_number = self._cached(("pull-index", repo.full_name),
                                 lambda: [{pr.number: pr for pr in self.org.pull_requests.get(repo.full_name, [])}])
        pr = by_number[0].get(number)
        if pr is None:
            raise _NotFound
        return pr

    def _filtered_issues(self, repo: Repository, request: ApiRequest) -> list[Issue | PullRequest]:
        """GET /issues: real issues and pull requests together, like GitHub."""
        state = request.param("state", "open")
        sort = request.param("sort", "created")
        if state not in ("open", "closed", "all"):
            raise _ValidationFailed("state")
        if sort not in ("created", "updated", "comments"):
            raise _ValidationFailed("sort")
        direction = _direction(request, default="desc")
        since_text = request.param("since")
        since = _parse_timestamp(since_text) if since_text else None
        wanted_labels = {name.strip() for name in (request.param("labels") or "").split(",") if name.strip()}

        def build() -> list[Issue | PullRequest]:
            items: list[Issue | PullRequest] = [*self.org.issues.get(repo.full_name, []),
                                                *self.org.pull_requests.get(repo.full_name, [])]
            key_of = ((lambda item: (item.updated_at, item.number)) if sort == "updated"
                      else (lambda item: (item.created_at, item.number)))
            wanted = [item for item in items if state == "all" or item.state == state]
            return sorted(wanted, key=key_of, reverse=direction == "desc")
        items = self._cached(("issues", repo.full_name, state, sort, direction), build)
        if since is not None:
            items = [item for item in items if item.updated_at >= since]
        if wanted_labels:
            items = [item for item in items if wanted_labels <= set(item.labels)]
        return items

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


def _cursor(number: int) -> str:
    return base64.urlsafe_b64encode(f"alert:{number}".encode()).decode().rstrip("=")


def _parse_timestamp(text: str) -> datetime:
    """ISO 8601 as GitHub accepts it in `since`: YYYY-MM-DDTHH:MM:SSZ (a bare date is midnight UTC)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _ValidationFailed("since (expected ISO 8601)") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _entity_tags(if_none_match: str) -> set[str]:
    return {tag.strip() for tag in if_none_match.split(",") if tag.strip()}


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
