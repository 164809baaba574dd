"""The simulator's internal model of a GitHub organisation.

Everything the HTTP layer serves and everything the ground truth computes is
derived from these objects, so they carry the facts (who, when, which commit)
and leave presentation details (URLs, node ids, nested user objects) to the
serialisers. New sources (Jira, Jenkins, releases, incidents, ...) are meant to
be added as further entity collections on `Org`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class User:
    login: str
    id: int
    type: str = "User"  # "User" or "Bot", as in GitHub's simple-user


@dataclass
class Team:
    name: str
    members: list[str]
    repositories: list[str]  # repository names (not full names)


@dataclass
class Commit:
    sha: str
    committed_at: datetime  # UTC
    author: str
    message: str = ""
    # The committer's local UTC offset; Git records it, so commit dates carry several zones.
    tz_offset_minutes: int = 0


@dataclass
class Repository:
    id: int
    owner: str
    name: str
    full_name: str
    team: str
    default_branch: str
    created_at: datetime
    description: str | None = None
    language: str | None = None
    private: bool = True
    # Linear history of the default branch, oldest first.
    commits: list[Commit] = field(default_factory=list)
    # Former full names; GitHub answers them with 301 to /repositories/{id}/...
    previous_names: list[str] = field(default_factory=list)

    def commit_shas(self) -> set[str]:
        return {commit.sha for commit in self.commits}


@dataclass
class PullRequest:
    id: int
    number: int
    repo: str  # full_name of the repository
    title: str
    user: str  # login of the author
    state: str  # "open" or "closed"
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merge_commit_sha: str | None = None
    draft: bool = False
    body: str | None = None
    head_ref: str = ""
    head_sha: str = ""
    base_ref: str = "main"
    base_sha: str = ""
    labels: list[str] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    author_association: str = "MEMBER"
    # A reopened PR was closed at `first_closed_at` and reopened at `reopened_at`.
    first_closed_at: datetime | None = None
    reopened_at: datetime | None = None
    merge_method: str | None = None  # "merge" or "squash" once merged; the result lands on main either way
    commits: list[Commit] = field(default_factory=list)  # the PR branch, oldest first; last is head_sha
    reviews: list[Review] = field(default_factory=list)

    @property
    def merged(self) -> bool:
        return self.merged_at is not None


@dataclass
class Review:
    id: int
    user: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED
    submitted_at: datetime
    commit_id: str
    body: str = ""


@dataclass
class Issue:
    """A real issue (not a PR). Incidents are issues labelled `incident`."""
    id: int
    number: int
    repo: str
    title: str
    user: str
    state: str  # open or closed
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    labels: list[str] = field(default_factory=list)
    body: str | None = None
    state_reason: str | None = None  # completed / not_planned when closed
    # Ground truth for incidents: the production deployment that caused it (named in the body).
    caused_by_deployment: int | None = None


@dataclass
class Release:
    id: int
    repo: str
    tag_name: str
    name: str
    target_commitish: str  # the released commit sha
    created_at: datetime
    published_at: datetime
    author: str
    body: str = ""
    prerelease: bool = False


@dataclass(slots=True)
class WorkflowRun:
    """One GitHub Actions run of the `CI` workflow; jobs and artifacts derive from it deterministically."""
    id: int
    repo: str
    run_number: int
    event: str  # pull_request or push
    head_branch: str
    head_sha: str
    created_at: datetime
    updated_at: datetime
    status: str  # queued, in_progress, completed
    conclusion: str | None  # success, failure, cancelled when completed
    actor: str
    pull_request_number: int | None = None


@dataclass
class Milestone:
    number: int
    repo: str
    title: str
    state: str  # open or closed
    created_at: datetime
    updated_at: datetime
    due_on: datetime | None
    closed_at: datetime | None
    creator: str
    description: str | None = None
    open_issues: int = 0
    closed_issues: int = 0


@dataclass(slots=True)
class SecurityAlert:
    """A code-scanning alert (`kind="code_scanning"`) or a Dependabot alert (`kind="dependabot"`)."""
    kind: str
    number: int
    repo: str
    created_at: datetime
    updated_at: datetime
    state: str  # code scanning: open/fixed/dismissed; dependabot: open/fixed/dismissed/auto_dismissed
    severity: str  # code scanning rule severity (note/warning/error); dependabot: low/medium/high/critical
    subject: str  # code scanning rule id, or the vulnerable package name
    path: str  # file of the finding, or the manifest
    commit_sha: str
    fixed_at: datetime | None = None
    dismissed_at: datetime | None = None
    dismissed_by: str | None = None
    dismissed_reason: str | None = None


@dataclass
class DeploymentStatus:
    id: int
    state: str  # queued, in_progress, pending, success, failure, error, inactive
    created_at: datetime
    creator: str = "github-actions[bot]"
    description: str = ""
    environment: str = ""
    log_url: str = ""

    @property
    def updated_at(self) -> datetime:
        return self.created_at


@dataclass
class Deployment:
    id: int
    repo: str  # full_name of the repository
    sha: str
    ref: str
    environment: str
    created_at: datetime
    updated_at: datetime
    creator: str
    statuses: list[DeploymentStatus] = field(default_factory=list)
    task: str = "deploy"
    description: str | None = None
    transient_environment: bool = False
    production_environment: bool = False

    def latest_status(self) -> DeploymentStatus | None:
        if not self.statuses:
            return None
        return max(self.statuses, key=lambda status: (status.created_at, status.id))


@dataclass
class Org:
    login: str
    teams: list[Team]
    repositories: list[Repository]
    pull_requests: dict[str, list[PullRequest]]  # repo full_name -> PRs
    deployments: dict[str, list[Deployment]]  # repo full_name -> deployments
    anchor: datetime  # the simulated "now"; every timestamp is before it
    seed: int
    scale: str
    users: dict[str, User] = field(default_factory=dict)  # login -> user
    issues: dict[str, list[Issue]] = field(default_factory=dict)  # repo full_name -> real issues
    releases: dict[str, list[Release]] = field(default_factory=dict)  # repo full_name -> releases
    time_zones: dict[str, int] = field(default_factory=dict)  # login -> UTC offset in minutes
    workflow_runs: dict[str, list[WorkflowRun]] = field(default_factory=dict)  # repo full_name -> runs
    milestones: dict[str, list[Milestone]] = field(default_factory=dict)  # repo full_name -> milestones
    security_alerts: dict[str, list[SecurityAlert]] = field(default_factory=dict)  # repo -> both alert kinds
    # Bumped on every change after generation; servers drop derived caches when it moves.
    revision: int = 0
    # How many days `advance` has moved the anchor since generation (part of its RNG seed).
    days_advanced: int = 0

    def __post_init__(self) -> None:
        self._repo_by_full_name = {repo.full_name: repo for repo in self.repositories}
        self._repo_by_id = {repo.id: repo for repo in self.repositories}
        self._repo_by_former_name = {former: repo for repo in self.repositories for former in repo.previous_names}
        self._team_by_repo = {}
        for team in self.teams:
            for repo_name in team.repositories:
                self._team_by_repo[f"{self.login}/{repo_name}"] = team.name
        for repo in self.repositories:
            self._team_by_repo.setdefault(repo.full_name, repo.team)

    def team_of(self, full_name: str) -> str:
        """The team owning a repository, given its full name (`owner/name`)."""
        try:
            return self._team_by_repo[full_name]
        except KeyError:
            raise KeyError(f"unknown repository {full_name!r}") from None

    def repository(self, full_name: str) -> Repository | None:
        return self._repo_by_full_name.get(full_name)

    def repository_by_id(self, repository_id: int) -> Repository | None:
        return self._repo_by_id.get(repository_id)

    def repository_by_former_name(self, full_name: str) -> Repository | None:
        return self._repo_by_former_name.get(full_name)

    def user(self, login: str) -> User:
        """The user for a login; logins missing from `users` get a stable synthetic id."""
        known = self.users.get(login)
        if known is not None:
            return known
        user_type = "Bot" if login.endswith("[bot]") else "User"
        return User(login=login, id=_stable_id(login), type=user_type)

    def all_pull_requests(self) -> list[PullRequest]:
        return [pr for repo in self.repositories for pr in self.pull_requests.get(repo.full_name, [])]

    def all_deployments(self) -> list[Deployment]:
        return [d for repo in self.repositories for d in self.deployments.get(repo.full_name, [])]

    def all_issues(self) -> list[Issue]:
        return [issue for repo in self.repositories for issue in self.issues.get(repo.full_name, [])]

    def all_releases(self) -> list[Release]:
        return [release for repo in self.repositories for release in self.releases.get(repo.full_name, [])]

    def advance(self, days: int = 1) -> Org:
        """Move the simulated clock forward `days` days, producing their activity deterministically."""
        from simulator.generator import advance_org  # the generator owns all randomness

        advance_org(self, days)
        return self


def _stable_id(text: str) -> int:
    # FNV-1a: stable across processes, unlike hash().
    value = 2166136261
    for byte in text.encode():
        value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
    return 10_000_000 + value % 90_000_000
