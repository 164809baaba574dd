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
from datetime import UTC, date, datetime, time, timedelta

from simulator.model import (
    Commit,
    Deployment,
    DeploymentStatus,
    Org,
    PullRequest,
    Repository,
    Team,
    User,
)

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
        pull_requests=10_000,
        days=180,
        production_deploys_per_workday=1.0,
        staging_deploys_per_workday=1.8,
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
        self._assign_global_ids(pull_requests, deployments)
        self._leave_latest_production_in_progress(deployments)
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
        counts = _split_total(total, weights)
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
            head_sha=_sha(rng),
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
            commit = Commit(sha=_sha(rng), committed_at=committed_at, author=author, message=message)
            repo.commits.append(commit)
            if pr is not None:
                pr.merge_commit_sha = commit.sha

    def _link_pull_requests_to_history(self, repo: Repository, pull_requests: list[PullRequest]) -> None:
        for pr in pull_requests:
            pr.base_sha = self._head_at(repo, pr.created_at).sha
            if pr.merge_commit_sha is None:
                # GitHub computes a test-merge commit for unmerged PRs; it is never on main.
                pr.merge_commit_sha = _sha(self.rng) if self.rng.random() < 0.9 else None

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
        rng = self.rng
        production_rate = self.preset.production_deploys_per_workday * rng.uniform(0.6, 1.4)
        staging_rate = self.preset.staging_deploys_per_workday * rng.uniform(0.7, 1.3)
        planned: list[tuple[datetime, str]] = []
        day = self.window_start.date()
        while day < self.anchor.date():
            workday = day.weekday() < 5
            for environment, rate in (("production", production_rate), ("staging", staging_rate)):
                # Weekend deploys happen, rarely (hotfixes).
                for _ in range(_poisson(rng, rate if workday else rate * 0.05)):
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


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method; means here are small (< 5), so it is fast enough.
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _split_total(total: int, weights: list[float]) -> list[int]:
    """Split `total` proportionally to `weights`, summing exactly to `total`."""
    raw = [total * weight / sum(weights) for weight in weights]
    counts = [int(value) for value in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)
    for index in by_remainder[: total - sum(counts)]:
        counts[index] += 1
    return counts
