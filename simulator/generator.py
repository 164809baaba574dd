"""Deterministic synthetic organisation: same (scale, seed, anchor) => same Org.

All randomness comes from one `random.Random(seed)`; nothing reads the clock
except the default anchor (today 00:00 UTC), which callers can pin.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass
from typing import Any
from datetime import UTC, date, datetime, time, timedelta

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
    Team,
    User,
    WorkflowRun,
)
from simulator.randomness import poisson, random_sha, split_total

DEPENDABOT = User(login="dependabot[bot]", id=49699333, type="Bot")
ACTIONS_BOT = User(login="github-actions[bot]", id=41898282, type="Bot")

FIRST_NAMES = (
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan",
    "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent",
    "victor", "walter", "yara",
)
LABELS = ("bug", "enhancement", "dependencies", "documentation", "refactor", "hotfix")
TITLE_VERBS = ("Fix", "Add", "Refactor", "Improve", "Remove", "Update", "Speed up", "Document")
TITLE_OBJECTS = (
    "retry logic", "request validation", "metrics export", "error handling",
    "database migration", "feature flag", "pagination", "cache invalidation",
    "login flow", "webhook handler", "CI pipeline", "logging", "timeout settings",
    "unit tests", "API client", "config loading",
)
LANGUAGES = ("Python", "Go", "TypeScript", "Kotlin", "Java")


@dataclass(frozen=True)
class ScalePreset:
    org_login: str
    teams: tuple[tuple[str, tuple[str, ...]], ...]  # (team name, repository names)
    pull_requests: int  # target total over the window
    days: int  # length of the activity window ending at the anchor
    production_deploys_per_workday: float  # mean per repository
    staging_deploys_per_workday: float  # mean per repository
    members_per_team: tuple[int, int] = (4, 6)
    never_deploy: tuple[str, ...] = ()  # repository names with no deployments at all (libraries, docs)


SCALES: dict[str, ScalePreset] = {
    "small": ScalePreset(
        org_login="acme",
        teams=(
            ("payments", ("payments-api", "billing-service", "ledger")),
            ("platform", ("platform-core", "deploy-tools", "observability")),
            ("growth", ("web-app", "mobile-app")),
        ),
        pull_requests=2000,
        days=90,
        production_deploys_per_workday=1.0,
        staging_deploys_per_workday=1.8,
    ),
    # Same three teams as `small` (so configs carry over) plus three more.
    "medium": ScalePreset(
        org_login="acme",
        teams=(
            ("payments", ("payments-api", "billing-service", "ledger", "fraud-detection")),
            ("platform", ("platform-core", "deploy-tools", "observability", "service-mesh")),
            ("growth", ("web-app", "mobile-app", "experiments")),
            ("data", ("data-pipeline", "warehouse", "reporting")),
            ("identity", ("auth-service", "user-profile", "permissions")),
            ("search", ("search-api", "indexer", "recommendations")),
        ),
        pull_requests=30_000,
        days=365,
        production_deploys_per_workday=1.0,
        staging_deploys_per_workday=1.8,
        never_deploy=("reporting",),
    ),
    # 25 teams x 8 repositories; the first three teams keep the small names.
    "large": ScalePreset(
        org_login="acme",
        teams=(
            ("payments", ("payments-api", "billing-service", "ledger", "fraud-detection", "payouts",
                          "invoicing", "tax-engine", "payments-sdk")),
            ("platform", ("platform-core", "deploy-tools", "observability", "service-mesh", "secrets",
                          "build-cache", "runners", "platform-docs")),
            ("growth", ("web-app", "mobile-app", "experiments", "landing-pages", "referrals", "onboarding",
                        "notifications", "growth-docs")),
            *((f"team-{index:02d}", tuple(f"service-{index:02d}-{repo}" for repo in range(7)) + (f"lib-{index:02d}",))
              for index in range(3, 25)),
        ),
        pull_requests=200_000,
        days=730,
        production_deploys_per_workday=0.6,
        staging_deploys_per_workday=1.0,
        never_deploy=("payments-sdk", "platform-docs", "growth-docs", *(f"lib-{index:02d}" for index in range(3, 25))),
    ),
}

PRODUCTION_FAILURE_RATE = 0.08
PRODUCTION_ERROR_RATE = 0.05
STAGING_FAILURE_RATE = 0.12
STAGING_ERROR_RATE = 0.04


def default_anchor() -> datetime:
    """Today at 00:00 UTC: recent enough for the demo, stable within a day."""
    return datetime.combine(datetime.now(UTC).date(), time(0, 0), tzinfo=UTC)


def generate_org(scale: str = "small", seed: int = 7, anchor: datetime | None = None) -> Org:
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; known: {sorted(SCALES)}")
    preset = SCALES[scale]
    anchor = default_anchor() if anchor is None else _as_utc(anchor)
    return _OrgBuilder(preset, scale, seed, anchor).build()


def _as_utc(moment: datetime) -> datetime:
    # Naive datetimes are taken as UTC; aware ones are converted.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class _OrgBuilder:
    def __init__(self, preset: ScalePreset, scale: str, seed: int, anchor: datetime) -> None:
        self.preset = preset
        self.scale = scale
        self.seed = seed
        self.anchor = anchor
        self.rng = random.Random(seed)
        self.window_start = anchor - timedelta(days=preset.days)
        self.users: dict[str, User] = {DEPENDABOT.login: DEPENDABOT, ACTIONS_BOT.login: ACTIONS_BOT}
        self._commit_times: dict[str, list[datetime]] = {}
        self._members_by_team: dict[str, list[str]] = {}
        self._day_weights: dict[tuple[date, date, float], tuple[list[date], list[float]]] = {}

    def build(self) -> Org:
        teams = self._teams()
        repositories = self._repositories(teams)
        pull_requests = self._pull_requests(repositories)
        for repo in repositories:
            self._build_history(repo, pull_requests[repo.full_name])
            self._link_pull_requests_to_history(repo, pull_requests[repo.full_name])
        deployments = {repo.full_name: self._deployments(repo, pull_requests[repo.full_name])
                       for repo in repositories}
        # Everything below draws from a second RNG so the core data (PRs, history, deployments)
        # stays identical to what earlier versions generated for the same seed.
        extras = _Extras(self, random.Random(f"{self.seed}:extras"))
        for repo in repositories:
            extras.add_rollbacks(repo, deployments[repo.full_name])
        self._assign_global_ids(pull_requests, deployments)
        self._leave_latest_production_in_progress(deployments)
        extras.rename_one_repository(repositories)
        extras.assign_time_zones(repositories)
        for repo in repositories:
            for pr in pull_requests[repo.full_name]:
                extras.decorate_pull_request(repo, pr)
        extras.assign_review_ids(pull_requests)
        issues = {repo.full_name: extras.issues(repo, pull_requests[repo.full_name], deployments[repo.full_name])
                  for repo in repositories}
        releases = {repo.full_name: extras.releases(repo, deployments[repo.full_name]) for repo in repositories}
        workflow_runs = extras.workflow_runs(repositories, pull_requests)
        milestones = {repo.full_name: extras.milestones(repo) for repo in repositories}
        security_alerts = {repo.full_name: extras.security_alerts(repo, len(pull_requests[repo.full_name]))
                           for repo in repositories}
        return Org(
            login=self.preset.org_login,
            teams=teams,
            repositories=repositories,
            pull_requests=pull_requests,
            deployments=deployments,
            anchor=self.anchor,
            seed=self.seed,
            scale=self.scale,
            users=dict(sorted(self.users.items())),
            issues=issues,
            releases=releases,
            time_zones=extras.time_zones,
            workflow_runs=workflow_runs,
            milestones=milestones,
            security_alerts=security_alerts,
        )

    # -- people and repositories -------------------------------------------------

    def _teams(self) -> list[Team]:
        teams = []
        for team_name, repo_names in self.preset.teams:
            low, high = self.preset.members_per_team
            first_names = self.rng.sample(FIRST_NAMES, self.rng.randint(low, high))
            members = [f"{first}-{team_name}" for first in first_names]
            for login in members:
                self.users[login] = User(login=login, id=self.rng.randint(1_000_000, 99_999_999))
            teams.append(Team(name=team_name, members=members, repositories=list(repo_names)))
            self._members_by_team[team_name] = members
        return teams

    def _repositories(self, teams: list[Team]) -> list[Repository]:
        owner = self.preset.org_login
        repositories = []
        next_id = 700_000_000 + self.rng.randint(0, 9_999_999)
        for team in teams:
            for name in team.repositories:
                created_at = self._at_second(self.anchor - timedelta(days=self.rng.randint(200, 1500),
                                                                     seconds=self.rng.randint(0, 86_399)))
                repositories.append(Repository(
                    id=next_id,
                    owner=owner,
                    name=name,
                    full_name=f"{owner}/{name}",
                    team=team.name,
                    default_branch="main",
                    created_at=created_at,
                    description=f"{name.replace('-', ' ').capitalize()} owned by the {team.name} team",
                    language=self.rng.choice(LANGUAGES),
                ))
                next_id += self.rng.randint(1_000, 500_000)
        return repositories

    # -- pull requests -------------------------------------------------------------

    def _pull_requests(self, repositories: list[Repository]) -> dict[str, list[PullRequest]]:
        weights = [self.rng.uniform(0.5, 1.5) for _ in repositories]
        total = round(self.preset.pull_requests * self.rng.uniform(0.95, 1.05))
        counts = split_total(total, weights)
        result = {}
        for repo, count in zip(repositories, counts):
            created = sorted(self._working_time(self.window_start, self.anchor, weekend_weight=0.1)
                             for _ in range(count))
            first_number = self.rng.randint(20, 400)  # earlier history, outside the window
            result[repo.full_name] = [
                self._pull_request(repo, first_number + index, created_at, self._members(repo))
                for index, created_at in enumerate(created)
            ]
        return result

    def _pull_request(self, repo: Repository, number: int, created_at: datetime, members: list[str]) -> PullRequest:
        rng = self.rng
        by_dependabot = rng.random() < 0.04
        author = DEPENDABOT.login if by_dependabot else rng.choice(members)
        if by_dependabot:
            title = f"Bump {rng.choice(('requests', 'lodash', 'grpc', 'protobuf', 'pytest'))} " \
                    f"from 1.{rng.randint(0, 9)}.{rng.randint(0, 9)} to 1.{rng.randint(10, 19)}.0"
            labels = ["dependencies"]
        else:
            title = f"{rng.choice(TITLE_VERBS)} {rng.choice(TITLE_OBJECTS)}"
            labels = sorted(rng.sample(LABELS, rng.choice((0, 0, 1, 1, 1, 2))))
        pr = PullRequest(
            id=0,  # assigned org-wide in creation order
            number=number,
            repo=repo.full_name,
            title=title,
            user=author,
            state="open",
            created_at=created_at,
            updated_at=created_at,
            body=None if rng.random() < 0.15 else f"{title}.\n\nPart of the {repo.team} roadmap.",
            head_ref=f"{'dependabot' if by_dependabot else author.split('-')[0]}/{number}-"
                     f"{title.lower().replace(' ', '-')[:30]}",
            head_sha=random_sha(rng),
            base_ref=repo.default_branch,
            labels=labels,
            author_association="CONTRIBUTOR" if by_dependabot else "MEMBER",
        )
        self._decide_outcome(pr, members)
        return pr

    def _decide_outcome(self, pr: PullRequest, members: list[str]) -> None:
        rng = self.rng
        roll = rng.random()
        # Lead time is log-normal: median ~1 day, long tail of week-long reviews.
        resolution = pr.created_at + timedelta(hours=min(rng.lognormvariate(math.log(20), 1.0), 24 * 40))
        resolution = self._at_second(resolution)
        if roll < 0.04 and resolution < self.anchor:
            # Reopened: closed, reopened later, then merged or still open.
            pr.first_closed_at = resolution
            pr.reopened_at = self._at_second(resolution + timedelta(hours=rng.uniform(1, 72)))
            if pr.reopened_at >= self.anchor:
                pr.reopened_at = None
                pr.first_closed_at = None
            else:
                resolution = self._at_second(pr.reopened_at + timedelta(hours=rng.lognormvariate(math.log(8), 0.8)))
                roll = 0.0 if rng.random() < 0.7 else 0.99
        if resolution >= self.anchor or roll >= 0.95:
            pr.state = "open"
            pr.draft = rng.random() < 0.3
            teammates = [login for login in members if login != pr.user]
            if teammates and not pr.draft:
                pr.requested_reviewers = sorted(rng.sample(teammates, min(len(teammates), rng.randint(0, 2))))
        elif roll < 0.87:
            pr.state = "closed"
            pr.closed_at = pr.merged_at = resolution
        else:
            pr.state = "closed"
            pr.closed_at = resolution
        last_event = max(t for t in (pr.created_at, pr.closed_at, pr.merged_at, pr.reopened_at) if t is not None)
        pr.updated_at = min(self._at_second(last_event + timedelta(minutes=rng.uniform(0, 90))),
                            self.anchor - timedelta(seconds=1))

    # -- commit history ------------------------------------------------------------

    def _build_history(self, repo: Repository, pull_requests: list[PullRequest]) -> None:
        """Linear default-branch history: seed commits, one merge commit per merged PR, direct pushes."""
        rng = self.rng
        events: list[tuple[datetime, str, PullRequest | None]] = []
        history_span = (self.window_start - repo.created_at).total_seconds()
        for _ in range(20):
            events.append((self._at_second(repo.created_at + timedelta(seconds=rng.uniform(0, history_span))),
                           rng.choice(self._members(repo)), None))
        for pr in pull_requests:
            if pr.merged_at is not None:
                events.append((pr.merged_at, pr.user, pr))
        for _ in range(max(1, len(pull_requests) // 25)):
            events.append((self._working_time(self.window_start, self.anchor, weekend_weight=0.1),
                           rng.choice(self._members(repo)), None))
        events.append((repo.created_at, self._members(repo)[0], None))  # initial commit
        events.sort(key=lambda event: (event[0], event[2].number if event[2] else 0))
        for committed_at, author, pr in events:
            message = f"Merge pull request #{pr.number} from {pr.head_ref}" if pr else "Direct change on main"
            commit = Commit(sha=random_sha(rng), committed_at=committed_at, author=author, message=message)
            repo.commits.append(commit)
            if pr is not None:
                pr.merge_commit_sha = commit.sha

    def _link_pull_requests_to_history(self, repo: Repository, pull_requests: list[PullRequest]) -> None:
        for pr in pull_requests:
            pr.base_sha = self._head_at(repo, pr.created_at).sha
            if pr.merge_commit_sha is None:
                # GitHub computes a test-merge commit for unmerged PRs; it is never on main.
                pr.merge_commit_sha = random_sha(self.rng) if self.rng.random() < 0.9 else None

    def _head_at(self, repo: Repository, moment: datetime) -> Commit:
        times = self._commit_times.get(repo.full_name)
        if times is None or len(times) != len(repo.commits):
            times = self._commit_times[repo.full_name] = [commit.committed_at for commit in repo.commits]
        index = bisect.bisect_right(times, moment) - 1
        return repo.commits[max(index, 0)]

    def _members(self, repo: Repository) -> list[str]:
        return self._members_by_team[repo.team]

    # -- deployments ---------------------------------------------------------------

    def _deployments(self, repo: Repository, pull_requests: list[PullRequest]) -> list[Deployment]:
        if repo.name in self.preset.never_deploy:
            return []
        rng = self.rng
        production_rate = self.preset.production_deploys_per_workday * rng.uniform(0.6, 1.4)
        staging_rate = self.preset.staging_deploys_per_workday * rng.uniform(0.7, 1.3)
        planned: list[tuple[datetime, str]] = []
        day = self.window_start.date()
        while day < self.anchor.date():
            workday = day.weekday() < 5
            for environment, rate in (("production", production_rate), ("staging", staging_rate)):
                # Weekend deploys happen, rarely (hotfixes).
                for _ in range(poisson(rng, rate if workday else rate * 0.05)):
                    planned.append((self._time_on(day, working_hours=rng.random() < 0.92), environment))
            day += timedelta(days=1)
        for pr in rng.sample(pull_requests, min(len(pull_requests), rng.randint(3, 8))):
            preview_at = self._at_second(pr.created_at + timedelta(minutes=rng.uniform(5, 120)))
            if preview_at < self.anchor:
                planned.append((preview_at, f"preview-{pr.number}"))
        planned.sort()
        return [self._deployment(repo, created_at, environment, pull_requests)
                for created_at, environment in planned if created_at < self.anchor]

    def _deployment(self, repo: Repository, created_at: datetime, environment: str,
                    pull_requests: list[PullRequest]) -> Deployment:
        rng = self.rng
        if environment.startswith("preview-"):
            number = int(environment.removeprefix("preview-"))
            pr = next(pr for pr in pull_requests if pr.number == number)
            sha, ref = pr.head_sha, pr.head_ref
        else:
            # Deploy whatever was on main a little before the deployment started.
            sha = self._head_at(repo, created_at - timedelta(minutes=rng.uniform(0, 30))).sha
            ref = repo.default_branch
        production = environment == "production"
        deployment = Deployment(
            id=0,  # assigned org-wide in creation order
            repo=repo.full_name,
            sha=sha,
            ref=ref,
            environment=environment,
            created_at=created_at,
            updated_at=created_at,
            creator=ACTIONS_BOT.login if rng.random() < 0.85 else rng.choice(self._members(repo)),
            description=f"Deploy {sha[:7]} to {environment}",
            transient_environment=environment.startswith("preview-"),
            production_environment=production,
        )
        failure_rate, error_rate = ((PRODUCTION_FAILURE_RATE, PRODUCTION_ERROR_RATE) if production
                                    else (STAGING_FAILURE_RATE, STAGING_ERROR_RATE))
        roll = rng.random()
        final_state = "failure" if roll < failure_rate else "error" if roll < failure_rate + error_rate else "success"
        queued_at = created_at + timedelta(seconds=rng.randint(1, 20))
        started_at = queued_at + timedelta(seconds=rng.randint(5, 90))
        finished_at = started_at + timedelta(seconds=rng.randint(60, 900))
        for state, at in (("queued", queued_at), ("in_progress", started_at), (final_state, finished_at)):
            if at >= self.anchor:
                break
            deployment.statuses.append(DeploymentStatus(
                id=0, state=state, created_at=at, creator=deployment.creator,
                description=_STATUS_DESCRIPTIONS[state], environment=environment,
            ))
        deployment.updated_at = deployment.statuses[-1].created_at if deployment.statuses else created_at
        return deployment

    def _leave_latest_production_in_progress(self, deployments: dict[str, list[Deployment]]) -> None:
        """The newest one or two production deployments are still running at the anchor, as in real life."""
        production = sorted((d for ds in deployments.values() for d in ds if d.environment == "production"),
                            key=lambda d: (d.created_at, d.id))
        for deployment in production[-self.rng.randint(1, 2):]:
            deployment.statuses = [s for s in deployment.statuses if s.state in ("queued", "in_progress")]
            deployment.updated_at = deployment.statuses[-1].created_at if deployment.statuses else deployment.created_at

    def _assign_global_ids(self, pull_requests: dict[str, list[PullRequest]],
                           deployments: dict[str, list[Deployment]]) -> None:
        """GitHub ids grow with creation time across the whole site; mimic that org-wide."""
        all_prs = sorted((pr for prs in pull_requests.values() for pr in prs), key=lambda pr: (pr.created_at, pr.repo))
        next_id = 1_500_000_000 + self.rng.randint(0, 99_999_999)
        for pr in all_prs:
            pr.id = next_id
            next_id += self.rng.randint(1, 5000)
        all_deployments = sorted((d for ds in deployments.values() for d in ds), key=lambda d: (d.created_at, d.repo))
        next_id = 1_000_000_000 + self.rng.randint(0, 99_999_999)
        for deployment in all_deployments:
            deployment.id = next_id
            next_id += self.rng.randint(1, 3000)
        all_statuses = sorted(((s.created_at, d.id, s) for d in all_deployments for s in d.statuses),
                              key=lambda item: (item[0], item[1]))
        next_id = 2_000_000_000 + self.rng.randint(0, 99_999_999)
        for _, _, status in all_statuses:
            status.id = next_id
            next_id += self.rng.randint(1, 3000)

    # -- time helpers --------------------------------------------------------------

    def _working_time(self, start: datetime, end: datetime, weekend_weight: float) -> datetime:
        """A timestamp in [start, end), mostly on weekdays during working hours."""
        key = (start.date(), end.date(), weekend_weight)
        if key not in self._day_weights:
            days = [start.date() + timedelta(days=offset) for offset in range((end.date() - start.date()).days + 1)]
            cumulative = list(itertools.accumulate(1.0 if d.weekday() < 5 else weekend_weight for d in days))
            self._day_weights[key] = (days, cumulative)
        days, cumulative = self._day_weights[key]
        while True:
            day = self.rng.choices(days, cum_weights=cumulative)[0]
            moment = self._time_on(day, working_hours=self.rng.random() < 0.9)
            if start <= moment < end:
                return moment

    def _time_on(self, day: date, working_hours: bool) -> datetime:
        hour = self.rng.uniform(8, 18) if working_hours else self.rng.uniform(0, 24)
        return self._at_second(datetime.combine(day, time(0, 0), tzinfo=UTC) + timedelta(hours=hour))

    @staticmethod
    def _at_second(moment: datetime) -> datetime:
        return moment.replace(microsecond=0)


_STATUS_DESCRIPTIONS = {
    "queued": "Deployment queued",
    "in_progress": "Deployment started",
    "success": "Deployment finished successfully.",
    "failure": "Deployment failed: health checks did not pass.",
    "error": "Deployment errored: runner lost connection.",
}





# -- second-phase entities: rollbacks, renames, time zones, PR commits/reviews, issues, releases ----

TIME_ZONE_OFFSETS = (-480, -300, 0, 60, 120, 330, 540)  # minutes: PST, EST, UTC, CET, EET, IST, JST
ROLLBACK_SHARE = 0.5  # of failed production deployments that are rolled back
INCIDENT_SHARE_AFTER_FAILURE = 0.6
INCIDENT_SHARE_AFTER_SUCCESS = 0.02  # a "successful" deploy can still break production
SQUASH_SHARE = 0.4
RELEASE_EVERY = 5  # a release for every n-th successful production deployment


class _Extras:
    """Entities layered on the core org, drawn from their own RNG."""

    def __init__(self, builder: _OrgBuilder, rng: random.Random) -> None:
        self.builder = builder
        self.rng = rng
        self.anchor = builder.anchor
        self.time_zones: dict[str, int] = {}

    def add_rollbacks(self, repo: Repository, deployments: list[Deployment]) -> None:
        """After some failed production deploys, redeploy the last good SHA (an older commit)."""
        rng = self.rng
        last_good: str | None = None
        rollbacks = []
        for deployment in [d for d in deployments if d.environment == "production"]:
            latest = deployment.latest_status()
            state = latest.state if latest else None
            if state == "success":
                last_good = deployment.sha
            elif state in ("failure", "error") and last_good and last_good != deployment.sha \
                    and rng.random() < ROLLBACK_SHARE:
                started = latest.created_at + timedelta(minutes=rng.randint(5, 40))
                rollback = Deployment(
                    id=0, repo=repo.full_name, sha=last_good, ref=repo.default_branch, environment="production",
                    created_at=started, updated_at=started, creator=deployment.creator,
                    description=f"Rollback to {last_good[:7]} after failed deploy of {deployment.sha[:7]}",
                    production_environment=True, task="deploy")
                moment = started
                for state_name, seconds in (("queued", rng.randint(1, 20)), ("in_progress", rng.randint(5, 60)),
                                            ("success", rng.randint(60, 300))):
                    moment = moment + timedelta(seconds=seconds)
                    if moment >= self.anchor:
                        break
                    rollback.statuses.append(DeploymentStatus(
                        id=0, state=state_name, created_at=moment, creator=rollback.creator,
                        description=_STATUS_DESCRIPTIONS[state_name], environment="production"))
                rollback.updated_at = rollback.statuses[-1].created_at if rollback.statuses else started
                if started < self.anchor:
                    rollbacks.append(rollback)
        deployments.extend(rollbacks)
        deployments.sort(key=lambda d: d.created_at)

    def rename_one_repository(self, repositories: list[Repository]) -> None:
        repo = self.rng.choice(repositories)
        repo.previous_names.append(f"{repo.owner}/{repo.name}-legacy")

    def assign_time_zones(self, repositories: list[Repository]) -> None:
        for login in sorted(self.builder.users):
            self.time_zones[login] = 0 if login.endswith("[bot]") else self.rng.choice(TIME_ZONE_OFFSETS)
        for repo in repositories:
            for commit in repo.commits:
                commit.tz_offset_minutes = self.time_zones.get(commit.author, 0)

    def decorate_pull_request(self, repo: Repository, pr: PullRequest) -> None:
        """Branch commits (ending at head_sha), reviews and, when merged, the merge method."""
        rng = self.rng
        count = rng.choice((1, 1, 2, 2, 3, 4, 6))
        offsets = sorted(rng.uniform(0, 36) for _ in range(count))
        pr.commits = []
        for index, hours_before in enumerate(reversed(offsets)):
            sha = pr.head_sha if index == count - 1 else random_sha(rng)
            moment = _at_second(pr.created_at - timedelta(hours=hours_before))
            pr.commits.append(Commit(sha=sha, committed_at=moment, author=pr.user,
                                     message=f"{pr.title} (part {index + 1}/{count})",
                                     tz_offset_minutes=self.time_zones.get(pr.user, 0)))
        reviewers = [m for m in self.builder._members(repo) if m != pr.user]
        end = pr.merged_at or pr.closed_at or pr.updated_at
        if pr.merged:
            states = [rng.choice(("COMMENTED", "CHANGES_REQUESTED")) for _ in range(rng.choice((0, 0, 1, 2)))]
            states.append("APPROVED")
            if pr.merge_method is None:
                pr.merge_method = "squash" if rng.random() < SQUASH_SHARE else "merge"
                if pr.merge_method == "squash":
                    self._squash_message(repo, pr)
        elif pr.state == "closed":
            states = [rng.choice(("COMMENTED", "CHANGES_REQUESTED"))] if rng.random() < 0.5 else []
        else:
            states = ["COMMENTED"] if not pr.draft and rng.random() < 0.4 else []
        span = max((end - pr.created_at).total_seconds(), 1.0)
        moments = sorted(_at_second(pr.created_at + timedelta(seconds=rng.uniform(0, span))) for _ in states)
        pr.reviews = [Review(id=0, user=rng.choice(reviewers) if reviewers else "github-actions[bot]", state=state,
                             submitted_at=moment, commit_id=pr.head_sha,
                             body="LGTM" if state == "APPROVED" else "Please take another look.")
                      for state, moment in zip(states, moments)]

    @staticmethod
    def _squash_message(repo: Repository, pr: PullRequest) -> None:
        for commit in reversed(repo.commits):
            if commit.sha == pr.merge_commit_sha:
                commit.message = f"{pr.title} (#{pr.number})"
                return

    def assign_review_ids(self, pull_requests: dict[str, list[PullRequest]], first_id: int | None = None) -> int:
        reviews = sorted(((review.submitted_at, pr.id, review) for prs in pull_requests.values() for pr in prs
                          for review in pr.reviews if review.id == 0), key=lambda item: (item[0], item[1]))
        next_id = 1_800_000_000 + self.rng.randint(0, 9_999_999) if first_id is None else first_id
        for _, _, review in reviews:
            review.id = next_id
            next_id += self.rng.randint(1, 500)
        return next_id

    def issues(self, repo: Repository, pull_requests: list[PullRequest], deployments: list[Deployment],
               first_number: int | None = None) -> list[Issue]:
        """Bugs plus incidents; an incident names the production deployment that caused it."""
        rng = self.rng
        members = self.builder._members(repo)
        drafts: list[tuple[datetime, str, str, list[str], int | None]] = []
        for deployment in deployments:
            if deployment.environment != "production" or not deployment.statuses:
                continue
            latest = deployment.latest_status()
            failed = latest.state in ("failure", "error")
            share = INCIDENT_SHARE_AFTER_FAILURE if failed else INCIDENT_SHARE_AFTER_SUCCESS
            if latest.state in ("failure", "error", "success") and rng.random() < share:
                opened = _at_second(latest.created_at + timedelta(minutes=rng.uniform(5, 120)))
                drafts.append((opened, f"Incident: {repo.name} degraded after deploy {deployment.sha[:7]}",
                               f"Caused by deployment {deployment.id} (sha {deployment.sha}).",
                               ["incident"], deployment.id))
        window = max(len(pull_requests) // 12, 2)
        for _ in range(window):
            opened = self.builder._working_time(self.builder.window_start, self.anchor, weekend_weight=0.1)
            drafts.append((opened, f"{rng.choice(('Crash', 'Wrong total', 'Timeout', 'Flaky page'))} in "
                                   f"{rng.choice(TITLE_OBJECTS)}", "Steps to reproduce: ...", ["bug"], None))
        drafts.sort(key=lambda draft: draft[0])
        number = first_number if first_number is not None else \
            max((pr.number for pr in pull_requests), default=0) + 1
        issues = []
        for opened, title, body, labels, deployment_id in drafts:
            if opened >= self.anchor:
                continue
            hours = rng.lognormvariate(math.log(3 if deployment_id else 48), 0.8)
            closed = _at_second(opened + timedelta(hours=hours))
            is_closed = closed < self.anchor and rng.random() < 0.9
            issue = Issue(id=0, number=number, repo=repo.full_name, title=title,
                          user=rng.choice(members), state="closed" if is_closed else "open",
                          created_at=opened, updated_at=closed if is_closed else opened,
                          closed_at=closed if is_closed else None, labels=labels, body=body,
                          state_reason="completed" if is_closed else None, caused_by_deployment=deployment_id)
            issue.id = _stable_issue_id(repo.id, number)
            issues.append(issue)
            number += 1
        return issues

    def releases(self, repo: Repository, deployments: list[Deployment], start: int = 0) -> list[Release]:
        releases = []
        successful = [d for d in deployments if d.environment == "production" and d.latest_status() is not None
                      and d.latest_status().state == "success" and not (d.description or "").startswith("Rollback")]
        for index, deployment in enumerate(successful[::RELEASE_EVERY], start=start):
            published = _at_second(deployment.created_at - timedelta(minutes=self.rng.uniform(1, 15)))
            tag = f"v1.{index}.0"
            releases.append(Release(
                id=_stable_issue_id(repo.id, 900_000 + index), repo=repo.full_name, tag_name=tag, name=tag,
                target_commitish=deployment.sha, created_at=published - timedelta(minutes=2),
                published_at=published, author=deployment.creator, body=f"Release {tag}"))
        return releases


    def workflow_runs(self, repositories: list[Repository],
                      pull_requests: dict[str, list[PullRequest]]) -> dict[str, list[WorkflowRun]]:
        """A CI run for every PR head and every push to the default branch inside the window."""
        rng = self.rng
        runs: list[WorkflowRun] = []
        for repo in repositories:
            for pr in pull_requests[repo.full_name]:
                runs.append(self._run(repo, "pull_request", pr.head_ref, pr.head_sha,
                                      pr.commits[-1].committed_at if pr.commits else pr.created_at, pr.user, pr.number))
            for commit in repo.commits:
                if commit.committed_at >= self.builder.window_start:
                    runs.append(self._run(repo, "push", repo.default_branch, commit.sha, commit.committed_at,
                                          commit.author, None))
        runs = [run for run in runs if run.created_at < self.anchor]
        runs.sort(key=lambda run: (run.created_at, run.repo, run.head_sha))
        next_id = 9_000_000_000 + rng.randint(0, 99_999_999)
        numbers: dict[str, int] = {}
        by_repo: dict[str, list[WorkflowRun]] = {repo.full_name: [] for repo in repositories}
        for run in runs:
            run.id = next_id
            next_id += rng.randint(1, 2000)
            numbers[run.repo] = run.run_number = numbers.get(run.repo, 0) + 1
            by_repo[run.repo].append(run)
        return by_repo

    def _run(self, repo: Repository, event: str, branch: str, sha: str, pushed_at: datetime, actor: str,
             pr_number: int | None) -> WorkflowRun:
        rng = self.rng
        created = _at_second(pushed_at + timedelta(seconds=rng.randint(5, 90)))
        finished = _at_second(created + timedelta(seconds=rng.randint(180, 1500)))
        roll = rng.random()
        conclusion = "failure" if roll < 0.12 else "cancelled" if roll < 0.14 else "success"
        done = finished < self.anchor
        return WorkflowRun(id=0, repo=repo.full_name, run_number=0, event=event, head_branch=branch, head_sha=sha,
                           created_at=created, updated_at=finished if done else created,
                           status="completed" if done else "in_progress", conclusion=conclusion if done else None,
                           actor=actor, pull_request_number=pr_number)


    def milestones(self, repo: Repository) -> list[Milestone]:
        """Four-week milestones over the window; past ones are closed (most on time, some late)."""
        rng = self.rng
        milestones, number = [], 1
        due = datetime.combine(self.builder.window_start.date(), time(0, 0), tzinfo=UTC) + timedelta(days=28)
        while due < self.anchor + timedelta(days=28):
            created = _at_second(due - timedelta(days=28, hours=-rng.uniform(1, 8)))
            if created >= self.anchor:
                break
            closed = _at_second(due + timedelta(days=rng.choice((0, 0, 0, 1, 3)), hours=rng.uniform(8, 18)))
            is_closed = closed < self.anchor
            total = rng.randint(5, 25)
            open_issues = 0 if is_closed else rng.randint(1, total)
            milestones.append(Milestone(
                number=number, repo=repo.full_name, title=f"Sprint {number}", state="closed" if is_closed else "open",
                created_at=created, updated_at=closed if is_closed else created, due_on=due,
                closed_at=closed if is_closed else None, creator=rng.choice(self.builder._members(repo)),
                description=f"{repo.team} sprint {number}", open_issues=open_issues, closed_issues=total - open_issues))
            number += 1
            due += timedelta(days=28)
        return milestones

    def security_alerts(self, repo: Repository, pull_request_count: int) -> list[SecurityAlert]:
        rng = self.rng
        alerts: list[SecurityAlert] = []
        for kind, count in (("code_scanning", max(pull_request_count // 60, 2)),
                            ("dependabot", max(pull_request_count // 80, 2))):
            for _ in range(count):
                created = self.builder._working_time(self.builder.window_start, self.anchor, weekend_weight=0.3)
                roll = rng.random()
                state = "open" if roll < 0.35 else "fixed" if roll < 0.8 else "dismissed"
                resolved = _at_second(created + timedelta(hours=rng.lognormvariate(math.log(24 * 7), 1.0)))
                if resolved >= self.anchor:
                    state = "open"
                severity, subject, path = _alert_details(rng, kind, repo)
                alerts.append(SecurityAlert(
                    kind=kind, number=0, repo=repo.full_name, created_at=created,
                    updated_at=resolved if state != "open" else created, state=state, severity=severity,
                    subject=subject, path=path, commit_sha=self.builder._head_at(repo, created).sha,
                    fixed_at=resolved if state == "fixed" else None,
                    dismissed_at=resolved if state == "dismissed" else None,
                    dismissed_by=rng.choice(self.builder._members(repo)) if state == "dismissed" else None,
                    dismissed_reason=(("false positive" if kind == "code_scanning" else "tolerable_risk")
                                      if state == "dismissed" else None)))
        alerts.sort(key=lambda alert: (alert.kind, alert.created_at))
        counters: dict[str, int] = {}
        for alert in alerts:
            alert.number = counters[alert.kind] = counters.get(alert.kind, 0) + 1
        return alerts


def _stable_issue_id(repo_id: int, number: int) -> int:
    # Unique per (repository, number) without shared counters, so advance() can add more.
    return 3_000_000_000 + (repo_id % 100_000) * 1_000_000 + number


def _at_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


# -- changes after generation: mid-crawl churn and time travel ---------------------------


def churn_pull_requests(org: Org, repo_full_name: str | None = None) -> dict[str, Any]:
    """A new PR plus an existing PR bumped to the newest `updated_at`; moves the anchor a minute.

    Used by the `mutate_while_paging` fault: a client paging `sort=created` sees items shift
    down by one (a duplicate), a client paging `sort=updated` sees one move to the top (a miss).
    """
    repo = org.repository(repo_full_name) if repo_full_name else org.repositories[0]
    if repo is None:
        raise KeyError(f"unknown repository {repo_full_name!r}")
    rng = random.Random(f"{org.seed}:churn:{org.revision}")
    prs = org.pull_requests[repo.full_name]
    moment = org.anchor
    org.anchor = moment + timedelta(minutes=1)
    bumped = min(prs, key=lambda pr: (pr.updated_at, pr.number)) if prs else None
    if bumped is not None:
        bumped.updated_at = moment
        bumped.title = f"{bumped.title} (edited)"
    number = _next_number(org, repo)
    author = rng.choice(next(team.members for team in org.teams if team.name == repo.team))
    created = PullRequest(id=max((pr.id for pr in org.all_pull_requests()), default=1_500_000_000) + 1,
                          number=number, repo=repo.full_name, title=f"Hotfix {rng.choice(TITLE_OBJECTS)}",
                          user=author, state="open", created_at=moment, updated_at=moment,
                          head_ref=f"{author.split('-')[0]}/{number}-hotfix", head_sha=random_sha(rng),
                          base_ref=repo.default_branch, base_sha=repo.commits[-1].sha if repo.commits else "",
                          merge_commit_sha=random_sha(rng))
    created.commits = [Commit(sha=created.head_sha, committed_at=moment, author=author, message=created.title)]
    prs.append(created)
    org.revision += 1
    return {"repo": repo.full_name, "created": number, "updated": bumped.number if bumped else None}


def _next_number(org: Org, repo: Repository) -> int:
    numbers = [pr.number for pr in org.pull_requests.get(repo.full_name, [])]
    numbers += [issue.number for issue in org.issues.get(repo.full_name, [])]
    return max(numbers, default=0) + 1


def advance_org(org: Org, days: int) -> None:
    """Produce `days` more days of activity after the anchor, deterministically, and move the anchor.

    Each day draws from `Random(f"{seed}:advance:{day index}")`, so the same seed and the same
    sequence of advances always yields the same org (advance(2) == advance(1); advance(1)).
    """
    if days < 0:
        raise ValueError("days must not be negative")
    preset = SCALES[org.scale]
    for _ in range(days):
        _advance_one_day(org, preset)


def _advance_one_day(org: Org, preset: ScalePreset) -> None:
    day_index = org.days_advanced + 1
    start, end = org.anchor, org.anchor + timedelta(days=1)
    builder = _OrgBuilder(preset, org.scale, org.seed, end)
    builder.rng = random.Random(f"{org.seed}:advance:{day_index}")
    builder.window_start = start
    builder.users = dict(org.users)
    builder._members_by_team = {team.name: team.members for team in org.teams}
    extras = _Extras(builder, random.Random(f"{org.seed}:advance-extras:{day_index}"))
    extras.time_zones = org.time_zones
    rng = builder.rng
    next_pr_id = max((pr.id for pr in org.all_pull_requests()), default=1_500_000_000) + 1
    next_deployment_id = max((d.id for d in org.all_deployments()), default=1_000_000_000) + 1
    next_status_id = max((s.id for d in org.all_deployments() for s in d.statuses), default=2_000_000_000) + 1
    next_review_id = max((r.id for pr in org.all_pull_requests() for r in pr.reviews), default=1_800_000_000) + 1
    next_run_id = max((run.id for runs in org.workflow_runs.values() for run in runs), default=9_000_000_000) + 1
    per_day = preset.pull_requests / preset.days / max(len(org.repositories), 1)
    new_by_repo: dict[str, list[PullRequest]] = {}
    for repo in org.repositories:
        members = builder._members(repo)
        prs = org.pull_requests.setdefault(repo.full_name, [])
        # Open PRs progress: some merge or close during the day.
        merges: list[PullRequest] = []
        for pr in prs:
            if pr.state == "open" and not pr.draft and rng.random() < 0.25:
                moment = _at_second(start + timedelta(seconds=rng.uniform(0, 86_399)))
                pr.state, pr.closed_at, pr.requested_reviewers = "closed", moment, []
                if rng.random() < 0.85:
                    pr.merged_at = moment
                    merges.append(pr)
                pr.updated_at = moment
        # New PRs of the day (may themselves resolve before the day ends).
        number = _next_number(org, repo)
        fresh = []
        weekend = start.weekday() >= 5
        for _ in range(poisson(rng, per_day * (0.1 if weekend else 1.4))):
            created_at = _at_second(start + timedelta(seconds=rng.uniform(0, 86_399)))
            pr = builder._pull_request(repo, number, created_at, members)
            pr.id = next_pr_id
            next_pr_id += rng.randint(1, 5000)
            number += 1
            fresh.append(pr)
            if pr.merged:
                merges.append(pr)
        prs.extend(sorted(fresh, key=lambda pr: pr.created_at))
        new_by_repo[repo.full_name] = fresh
        for pr in sorted(merges, key=lambda pr: (pr.merged_at, pr.number)):
            commit = Commit(sha=random_sha(rng), committed_at=pr.merged_at, author=pr.user,
                            message=f"Merge pull request #{pr.number} from {pr.head_ref}",
                            tz_offset_minutes=extras.time_zones.get(pr.user, 0))
            repo.commits.append(commit)
            pr.merge_commit_sha = commit.sha
        for pr in fresh:
            pr.base_sha = builder._head_at(repo, pr.created_at).sha
            if pr.merge_commit_sha is None:
                pr.merge_commit_sha = random_sha(rng)
        for pr in fresh + [pr for pr in merges if pr not in fresh]:
            if pr in fresh or pr.merge_method is None:
                pr.reviews = [review for review in pr.reviews if review.id]  # keep already-served reviews
                extras.decorate_pull_request(repo, pr) if pr in fresh else _approve(extras, repo, pr)
        for pr in fresh + merges:
            for review in pr.reviews:
                if review.id == 0:
                    review.id = next_review_id
                    next_review_id += rng.randint(1, 500)
        # CI: a run per new PR head and per new commit on the default branch; yesterday's running runs finish.
        runs = org.workflow_runs.setdefault(repo.full_name, [])
        for run in runs:
            if run.status != "completed":
                run.status, run.conclusion = "completed", "success"
                run.updated_at = _at_second(max(start, run.created_at) + timedelta(seconds=rng.randint(60, 900)))
        day_runs = [extras._run(repo, "pull_request", pr.head_ref, pr.head_sha, pr.commits[-1].committed_at,
                                pr.user, pr.number) for pr in fresh if pr.commits]
        day_runs += [extras._run(repo, "push", repo.default_branch, commit.sha, commit.committed_at, commit.author, None)
                     for commit in repo.commits if commit.committed_at >= start]
        next_run_number = max((run.run_number for run in runs), default=0) + 1
        for run in sorted((run for run in day_runs if start <= run.created_at < end),
                          key=lambda run: (run.created_at, run.head_sha)):
            run.id, run.run_number = next_run_id, next_run_number
            next_run_id += rng.randint(1, 2000)
            next_run_number += 1
            runs.append(run)
        # Deployments: finish yesterday's running ones, then the day's new ones.
        deployments = org.deployments.setdefault(repo.full_name, [])
        for deployment in deployments:
            latest = deployment.latest_status()
            if latest is not None and latest.state in ("queued", "in_progress"):
                moment = max(start, latest.created_at) + timedelta(seconds=rng.randint(30, 600))
                deployment.statuses.append(DeploymentStatus(
                    id=next_status_id, state="success", created_at=moment, creator=deployment.creator,
                    description=_STATUS_DESCRIPTIONS["success"], environment=deployment.environment))
                next_status_id += rng.randint(1, 3000)
                deployment.updated_at = moment
        if repo.name in preset.never_deploy:
            continue
        day_deployments = []
        for environment, rate in (("production", preset.production_deploys_per_workday),
                                  ("staging", preset.staging_deploys_per_workday)):
            for _ in range(poisson(rng, rate * (0.05 if weekend else 1.0))):
                moment = builder._time_on(start.date(), working_hours=True)
                if start <= moment < end:
                    day_deployments.append((moment, environment))
        for moment, environment in sorted(day_deployments):
            deployment = builder._deployment(repo, moment, environment, prs)
            deployment.id = next_deployment_id
            next_deployment_id += rng.randint(1, 3000)
            for status in deployment.statuses:
                status.id = next_status_id
                next_status_id += rng.randint(1, 3000)
            deployments.append(deployment)
    # Issues, releases, milestones and security alerts draw from their own RNG, so the core
    # activity above stays what earlier versions produced for the same seed.
    more = random.Random(f"{org.seed}:advance-more:{day_index}")
    per_day_weight = per_day * (0.1 if start.weekday() >= 5 else 1.4)
    for repo in org.repositories:
        _advance_issues(org, repo, more, start, end, per_day_weight)
        _advance_releases(org, repo, more, start, end)
        _advance_milestones(org, repo, more, start, end)
        _advance_security_alerts(org, repo, builder, more, start, end, per_day_weight)
    org.anchor = end
    org.days_advanced = day_index
    org.revision += 1


def _moment_in(rng: random.Random, start: datetime, end: datetime, earliest: datetime | None = None) -> datetime:
    """A whole second in [max(start, earliest), end)."""
    low = max(start, earliest) if earliest is not None else start
    span = max((end - low).total_seconds() - 1, 0)
    return _at_second(low + timedelta(seconds=rng.uniform(0, span)))


def _advance_issues(org: Org, repo: Repository, rng: random.Random, start: datetime, end: datetime,
                    pr_rate: float) -> None:
    """Open issues get closed; the day's production deployments cause incidents; new bugs arrive."""
    issues = org.issues.setdefault(repo.full_name, [])
    for issue in issues:
        if issue.state == "open" and rng.random() < (0.5 if "incident" in issue.labels else 0.1):
            moment = _moment_in(rng, start, end, issue.created_at + timedelta(minutes=1))
            issue.state, issue.closed_at, issue.updated_at, issue.state_reason = "closed", moment, moment, "completed"
    drafts: list[tuple[datetime, str, str, list[str], int | None]] = []
    for deployment in org.deployments.get(repo.full_name, []):
        latest = deployment.latest_status()
        if deployment.environment != "production" or latest is None or not start <= latest.created_at < end:
            continue
        if latest.state not in ("failure", "error", "success"):
            continue
        failed = latest.state in ("failure", "error")
        if rng.random() < (INCIDENT_SHARE_AFTER_FAILURE if failed else INCIDENT_SHARE_AFTER_SUCCESS):
            opened = _at_second(latest.created_at + timedelta(minutes=rng.uniform(5, 120)))
            if opened < end:
                drafts.append((opened, f"Incident: {repo.name} degraded after deploy {deployment.sha[:7]}",
                               f"Caused by deployment {deployment.id} (sha {deployment.sha}).",
                               ["incident"], deployment.id))
    for _ in range(poisson(rng, pr_rate / 12)):
        opened = _at_second(start + timedelta(hours=rng.uniform(8, 18)))
        drafts.append((opened, f"{rng.choice(('Crash', 'Wrong total', 'Timeout', 'Flaky page'))} in "
                               f"{rng.choice(TITLE_OBJECTS)}", "Steps to reproduce: ...", ["bug"], None))
    members = next(team.members for team in org.teams if team.name == repo.team)
    number = _next_number(org, repo)
    for opened, title, body, labels, deployment_id in sorted(drafts, key=lambda draft: (draft[0], draft[1])):
        closed = _at_second(opened + timedelta(hours=rng.lognormvariate(math.log(3 if deployment_id else 48), 0.8)))
        is_closed = closed < end and rng.random() < 0.9
        issues.append(Issue(
            id=_stable_issue_id(repo.id, number), number=number, repo=repo.full_name, title=title,
            user=rng.choice(members), state="closed" if is_closed else "open", created_at=opened,
            updated_at=closed if is_closed else opened, closed_at=closed if is_closed else None, labels=labels,
            body=body, state_reason="completed" if is_closed else None, caused_by_deployment=deployment_id))
        number += 1


def _advance_releases(org: Org, repo: Repository, rng: random.Random, start: datetime, end: datetime) -> None:
    """Keep one release per RELEASE_EVERY successful production deployments, cut from the day's ones."""
    successful = [d for d in org.deployments.get(repo.full_name, []) if d.environment == "production"
                  and d.latest_status() is not None and d.latest_status().state == "success"
                  and not (d.description or "").startswith("Rollback")]
    releases = org.releases.setdefault(repo.full_name, [])
    candidates = sorted((d for d in successful if start <= d.latest_status().created_at < end),
                        key=lambda d: (d.created_at, d.id))
    while candidates and len(releases) < -(-len(successful) // RELEASE_EVERY):
        deployment = candidates.pop()
        index = max((int(r.tag_name.split(".")[1]) for r in releases), default=-1) + 1
        published = max(_at_second(deployment.created_at - timedelta(minutes=rng.uniform(1, 15))),
                        start + timedelta(minutes=2))
        tag = f"v1.{index}.0"
        releases.append(Release(
            id=_stable_issue_id(repo.id, 900_000 + index), repo=repo.full_name, tag_name=tag, name=tag,
            target_commitish=deployment.sha, created_at=published - timedelta(minutes=2), published_at=published,
            author=deployment.creator, body=f"Release {tag}"))


def _advance_milestones(org: Org, repo: Repository, rng: random.Random, start: datetime, end: datetime) -> None:
    """Open milestones close issues and, once due, close; the next four-week milestone opens on time."""
    milestones = org.milestones.setdefault(repo.full_name, [])
    members = next(team.members for team in org.teams if team.name == repo.team)
    for milestone in milestones:
        if milestone.state != "open":
            continue
        due = milestone.due_on
        if due is not None and due < end and (due + timedelta(days=3) <= start or rng.random() < 0.7):
            moment = _moment_in(rng, start, end, due + timedelta(hours=rng.uniform(8, 18)))
            if moment < end:
                milestone.state, milestone.closed_at, milestone.updated_at = "closed", moment, moment
                milestone.closed_issues += milestone.open_issues
                milestone.open_issues = 0
                continue
        if milestone.open_issues > 1 and rng.random() < 0.4:
            milestone.open_issues -= 1
            milestone.closed_issues += 1
            milestone.updated_at = _moment_in(rng, start, end, milestone.updated_at + timedelta(seconds=1))
    while milestones and milestones[-1].due_on is not None:
        last = milestones[-1]
        created = _at_second(last.due_on + timedelta(hours=rng.uniform(1, 8)))
        if created >= end:
            break
        created = max(created, start)
        number = last.number + 1
        total = rng.randint(5, 25)
        milestones.append(Milestone(
            number=number, repo=repo.full_name, title=f"Sprint {number}", state="open", created_at=created,
            updated_at=created, due_on=last.due_on + timedelta(days=28), closed_at=None, creator=rng.choice(members),
            description=f"{repo.team} sprint {number}", open_issues=total, closed_issues=0))


def _advance_security_alerts(org: Org, repo: Repository, builder: _OrgBuilder, rng: random.Random,
                             start: datetime, end: datetime, pr_rate: float) -> None:
    """Open alerts get fixed or dismissed (about a week on average); scans and Dependabot find new ones."""
    alerts = org.security_alerts.setdefault(repo.full_name, [])
    members = next(team.members for team in org.teams if team.name == repo.team)
    for alert in alerts:
        if alert.state != "open" or rng.random() >= 1 / 7:
            continue
        moment = _moment_in(rng, start, end, alert.created_at + timedelta(minutes=1))
        alert.updated_at = moment
        if rng.random() < 0.7:
            alert.state, alert.fixed_at = "fixed", moment
        else:
            alert.state, alert.dismissed_at, alert.dismissed_by = "dismissed", moment, rng.choice(members)
            alert.dismissed_reason = "false positive" if alert.kind == "code_scanning" else "tolerable_risk"
    for kind, divisor in (("code_scanning", 60), ("dependabot", 80)):
        number = max((a.number for a in alerts if a.kind == kind), default=0)
        for _ in range(poisson(rng, pr_rate / divisor)):
            created = _moment_in(rng, start, end)
            number += 1
            severity, subject, path = _alert_details(rng, kind, repo)
            alerts.append(SecurityAlert(kind=kind, number=number, repo=repo.full_name, created_at=created,
                                        updated_at=created, state="open", severity=severity, subject=subject,
                                        path=path, commit_sha=builder._head_at(repo, created).sha))


def _approve(extras: _Extras, repo: Repository, pr: PullRequest) -> None:
    """An existing PR merged during an advanced day gets its approval and merge method."""
    reviewers = [m for m in extras.builder._members(repo) if m != pr.user] or ["github-actions[bot]"]
    pr.reviews.append(Review(id=0, user=extras.rng.choice(reviewers), state="APPROVED",
                             submitted_at=pr.merged_at - timedelta(minutes=1) if pr.merged_at else pr.updated_at,
                             commit_id=pr.head_sha, body="LGTM"))
    if pr.merged:
        pr.merge_method = "squash" if extras.rng.random() < SQUASH_SHARE else "merge"


def _alert_details(rng: random.Random, kind: str, repo: Repository) -> tuple[str, str, str]:
    """(severity, subject, path) of a new code-scanning or Dependabot alert."""
    if kind == "code_scanning":
        severity = rng.choice(("note", "warning", "warning", "error"))
        subject = rng.choice(("py/sql-injection", "py/path-injection", "py/clear-text-logging",
                              "js/xss", "go/unsafe-quoting"))
        return severity, subject, f"src/{repo.name.replace('-', '_')}/{rng.choice(('api', 'db', 'views'))}.py"
    severity = rng.choice(("low", "medium", "medium", "high", "critical"))
    subject = rng.choice(("requests", "urllib3", "jinja2", "lodash", "protobuf", "golang.org/x/net"))
    return severity, subject, rng.choice(("requirements.txt", "package-lock.json", "go.sum"))
