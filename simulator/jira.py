"""A deterministic synthetic Jira site (one project per team) and its ground truth.

`generate_jira(teams, seed, anchor, days, issues_total)` builds a `JiraSite`:
projects, fix versions, issues with status changelogs, a few messy cases (issues
moved between projects, issues deleted upstream, reopened bugs) and one issue
with more than 100 changelog histories so clients must page the changelog.
All randomness comes from `random.Random(f"{seed}:jira")`; same inputs give an
identical site. Every timestamp is before `anchor` (version *planned* release
dates may lie after it: future versions are part of the fixture).

The HTTP layer lives in `simulator.jira_api`; the truth helpers at the bottom of
this module are plain Python over the model objects, never over API payloads.

Modelling notes the warehouse relies on:
  * Workflow statuses: To Do (category `new`), In Progress and In Review
    (`indeterminate`), Done and Won't Do (`done`). Entering a `done` status sets
    the resolution (Done / Won't Do); leaving it clears the resolution. The
    resolution change is an item in the same changelog history as the status.
  * `resolutiondate` is the `created` of the last history that moved the issue
    into a `done` status, when the current status is `done`; otherwise None.
  * `updated` is the `created` of the last history, or `created` without history.
  * A moved issue has a history with a `project` item and a `Key` item
    (fromString = old key, toString = new key); its old keys redirect.
  * A deleted issue stays in the model with `deleted_at` (> `updated`); the API
    no longer serves it once the simulated clock has passed that moment.
  * Version release dates: `planned_release_date` is what Jira serves as
    `releaseDate` (release automation flips `released` without touching the
    date); the actual release day is `actual_release_date`, served inside the
    version description as `released: YYYY-MM-DD` (Jira has no field for it).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from simulator.model import Team

# -- static catalogue -------------------------------------------------------------

KNOWN_PROJECT_KEYS = {"payments": "PAY", "platform": "PLAT", "growth": "GRO"}


@dataclass(frozen=True)
class Status:
    id: str
    name: str
    category: str  # statusCategory key: new, indeterminate, done


TO_DO = Status("10000", "To Do", "new")
IN_PROGRESS = Status("3", "In Progress", "indeterminate")
IN_REVIEW = Status("10001", "In Review", "indeterminate")
DONE = Status("10002", "Done", "done")
WONT_DO = Status("10003", "Won't Do", "done")
STATUSES = {status.name: status for status in (TO_DO, IN_PROGRESS, IN_REVIEW, DONE, WONT_DO)}
STATUS_CATEGORIES = {  # key -> (id, name, colorName), as Jira Cloud serves them
    "new": (2, "To Do", "blue-gray"),
    "indeterminate": (4, "In Progress", "yellow"),
    "done": (3, "Done", "green"),
}
RESOLUTIONS = {  # name -> (id, description)
    "Done": ("10000", "Work has been completed on this issue."),
    "Won't Do": ("10001", "This issue won't be actioned."),
}
ISSUE_TYPES = {  # name -> (id, description)
    "Bug": ("10004", "A problem or error."),
    "Story": ("10001", "Functionality or a feature expressed as a user goal."),
    "Task": ("10002", "A small, distinct piece of work."),
    "Incident": ("10005", "An unplanned interruption or reduction in quality of a service."),
}
PRIORITIES = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
SEVERITIES = ("S1", "S2", "S3", "S4")
ENVIRONMENTS = ("production", "staging")
TECH_DEBT = "tech-debt"
KNOWLEDGE_SHARING = "knowledge-sharing"
OTHER_LABELS = ("backend", "frontend", "customer-reported", "security", "performance")

# Custom fields, as `GET /rest/api/3/field` serves them: id -> (name, option values or None).
SEVERITY_FIELD = "customfield_10010"
ENVIRONMENT_FIELD = "customfield_10011"
TEAM_FIELD = "customfield_10012"
CUSTOM_FIELDS: dict[str, str] = {SEVERITY_FIELD: "Severity", ENVIRONMENT_FIELD: "Environment",
                                 TEAM_FIELD: "Engineering team"}

SUMMARY_OBJECTS = (
    "checkout flow", "invoice export", "retry logic", "login page", "webhook handler", "payment reconciliation",
    "search results", "feature flags", "audit log", "rate limiter", "CSV import", "notification emails",
    "API pagination", "cache warm-up", "metrics dashboard", "onboarding wizard", "mobile push", "SSO settings",
)
TALK_TOPICS = ("Intro to our tracing setup", "How the ledger settles", "DuckDB for analysts",
               "Incident review walkthrough", "Feature flag hygiene", "Writing good runbooks")


# -- model ------------------------------------------------------------------------


@dataclass
class JiraUser:
    login: str
    account_id: str
    display_name: str
    email: str


@dataclass
class JiraProject:
    id: int
    key: str
    name: str
    team: str  # Team.name owning the project
    lead: str  # login


@dataclass
class JiraVersion:
    id: int
    project_key: str
    name: str
    planned_release_date: date  # served as `releaseDate`
    released: bool
    actual_release_date: date | None  # set iff released; before the anchor
    start_date: date | None = None
    archived: bool = False


@dataclass
class ChangeItem:
    field: str
    from_: str | None
    from_string: str | None
    to: str | None
    to_string: str | None
    fieldtype: str = "jira"
    field_id: str | None = None


@dataclass
class History:
    id: int
    author: str  # login
    created: datetime
    items: list[ChangeItem]


@dataclass
class JiraIssue:
    id: int
    key: str  # current key
    project_key: str  # current project
    issue_type: str
    summary: str
    status: str  # current status name
    priority: str
    labels: list[str]
    created: datetime
    updated: datetime
    reporter: str
    assignee: str | None
    resolution: str | None
    resolution_date: datetime | None
    team: str  # team of the current project (also served as customfield_10012)
    severity: str | None = None  # Bugs only
    environment: str | None = None  # Bugs only
    fix_version_ids: list[int] = field(default_factory=list)
    histories: list[History] = field(default_factory=list)  # ordered by (created, id)
    previous_keys: list[str] = field(default_factory=list)  # oldest first
    deleted_at: datetime | None = None
    description: str = ""

    @property
    def number(self) -> int:
        return int(self.key.rsplit("-", 1)[1])

    def status_transitions(self) -> list[tuple[datetime, str, str]]:
        """(when, from status, to status) for every status item, in order."""
        return [(history.created, item.from_string or "", item.to_string or "")
                for history in self.histories for item in history.items if item.field == "status"]

    def is_visible(self, at: datetime) -> bool:
        return self.deleted_at is None or self.deleted_at > at


@dataclass
class JiraSite:
    teams: list[Team]
    projects: list[JiraProject]
    versions: list[JiraVersion]
    issues: list[JiraIssue]  # ordered by id (= creation order)
    users: dict[str, JiraUser]  # login -> user
    anchor: datetime
    seed: int
    days: int
    custom_fields: dict[str, str] = field(default_factory=lambda: dict(CUSTOM_FIELDS))
    generation: int = 0  # bumped whenever the site changes; part of search snapshots

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        # Indexes over every model issue, deleted ones included (the API filters with `is_visible`).
        self.issues_by_key: dict[str, JiraIssue] = {issue.key: issue for issue in self.issues}
        self.issues_by_id: dict[int, JiraIssue] = {issue.id: issue for issue in self.issues}
        self.redirects: dict[str, str] = {old: issue.key for issue in self.issues for old in issue.previous_keys}
        self.projects_by_key: dict[str, JiraProject] = {project.key: project for project in self.projects}
        self.versions_by_id: dict[int, JiraVersion] = {version.id: version for version in self.versions}
        self.generation += 1

    def project(self, key_or_id: str) -> JiraProject | None:
        wanted = key_or_id.strip()
        for project in self.projects:
            if project.key.lower() == wanted.lower() or str(project.id) == wanted:
                return project
        return None

    def project_versions(self, project_key: str) -> list[JiraVersion]:
        return [version for version in self.versions if version.project_key == project_key]

    def resolve_key(self, key: str) -> JiraIssue | None:
        """The issue for a current or former key (Jira redirects moved keys), deleted ones included."""
        key = key.upper()
        return self.issues_by_key.get(self.redirects.get(key, key))

    def live_issues(self, at: datetime | None = None) -> list[JiraIssue]:
        moment = self.anchor if at is None else at
        return [issue for issue in self.issues if issue.is_visible(moment)]


# -- generator --------------------------------------------------------------------


def generate_jira(teams: list[Team], seed: int, anchor: datetime, days: int, issues_total: int) -> JiraSite:
    """Deterministic Jira site for `teams`: same arguments => identical site."""
    if anchor.tzinfo is None:
        anchor = anchor.replace(tzinfo=UTC)
    return _JiraBuilder(teams, seed, anchor.astimezone(UTC), days, issues_total).build()


def project_key_for(team_name: str, taken: set[str] = frozenset()) -> str:
    """PAY, PLAT, GRO for the small preset; otherwise the first 3+ letters, extended on collision."""
    letters = "".join(ch for ch in team_name.upper() if "A" <= ch <= "Z") or "PRJ"
    key = KNOWN_PROJECT_KEYS.get(team_name.lower(), letters[:3])
    length = len(key)
    while key in taken:
        length += 1
        key = letters[:length] if length <= len(letters) else f"{letters}{length}"
    return key


def account_id(login: str) -> str:
    return "712020:" + hashlib.sha1(f"jira:{login}".encode()).hexdigest()[:24]


class _JiraBuilder:
    def __init__(self, teams: list[Team], seed: int, anchor: datetime, days: int, issues_total: int) -> None:
        self.teams = teams
        self.seed = seed
        self.anchor = anchor
        self.days = days
        self.issues_total = issues_total
        self.rng = random.Random(f"{seed}:jira")
        self.window_start = anchor - timedelta(days=days)
        self.latest = anchor - timedelta(seconds=1)
        self._cum_days: tuple[list[date], list[float]] | None = None

    def build(self) -> JiraSite:
        users = {login: self._user(login) for team in self.teams for login in team.members}
        projects = self._projects()
        versions = self._versions(projects)
        counts = _split_total(self.issues_total, [self.rng.uniform(0.7, 1.3) for _ in projects])
        drafts: list[JiraIssue] = []
        for project, count in zip(projects, counts):
            members = self._members(project)
            for _ in range(count):
                drafts.append(self._issue(project, members, self._working_time(self.window_start, self.latest)))
        if drafts:
            self._make_chatty(drafts[0])
        drafts.sort(key=lambda issue: (issue.created, issue.project_key))
        issue_id = 10_000 + self.rng.randint(0, 5_000)
        for issue in drafts:
            issue.id = issue_id
            issue_id += self.rng.randint(1, 3)
        self._moves(drafts, projects)
        self._assign_keys(drafts)
        self._assign_fix_versions(drafts, versions)
        self._deletions(drafts)
        self._number_histories(drafts)
        for issue in drafts:
            self._finish(issue)
        return JiraSite(teams=self.teams, projects=projects, versions=versions, issues=drafts, users=users,
                        anchor=self.anchor, seed=self.seed, days=self.days)

    # -- people, projects, versions -------------------------------------------------

    @staticmethod
    def _user(login: str) -> JiraUser:
        first, _, team = login.partition("-")
        display = f"{first.capitalize()} {team.capitalize()}".strip()
        return JiraUser(login=login, account_id=account_id(login), display_name=display,
                        email=f"{login}@example.com")

    def _projects(self) -> list[JiraProject]:
        projects, taken = [], set()
        for index, team in enumerate(self.teams):
            key = project_key_for(team.name, taken)
            taken.add(key)
            lead = team.members[0] if team.members else "admin"
            projects.append(JiraProject(id=10_000 + index, key=key, name=team.name.replace("-", " ").title(),
                                        team=team.name, lead=lead))
        return projects

    def _members(self, project: JiraProject) -> list[str]:
        team = next(team for team in self.teams if team.name == project.team)
        return team.members or [project.lead]

    def _versions(self, projects: list[JiraProject]) -> list[JiraVersion]:
        """Per project a release train: planned every 7-21 days from before the window to 5 weeks after the anchor."""
        rng = self.rng
        versions: list[JiraVersion] = []
        version_id = 10_100
        today = self.anchor.date()
        for project in projects:
            cadence = rng.choice((7, 14, 14, 21))
            planned = self.window_start.date() - timedelta(days=rng.randint(0, cadence))
            minor = rng.randint(3, 40)
            while planned <= today + timedelta(days=35):
                roll = rng.random()
                delay = (rng.choice((-3, -2, -1)) if roll < 0.15 else 0 if roll < 0.55
                         else min(int(rng.lognormvariate(math.log(3), 0.8)) + 1, 30))
                actual = planned + timedelta(days=delay)
                released = actual < today and rng.random() >= 0.08  # a few past-due versions never ship
                versions.append(JiraVersion(
                    id=version_id, project_key=project.key, name=f"{project.key.lower()}-1.{minor}.0",
                    planned_release_date=planned, released=released,
                    actual_release_date=actual if released else None,
                    start_date=planned - timedelta(days=cadence),
                ))
                version_id += 1
                minor += 1
                planned += timedelta(days=cadence)
        # A couple of old, released versions get archived, as teams tidy up.
        for version in versions:
            if version.released and version.planned_release_date < self.window_start.date() - timedelta(days=3):
                version.archived = rng.random() < 0.5
        return versions

    # -- issues -------------------------------------------------------------------

    def _issue(self, project: JiraProject, members: list[str], created: datetime) -> JiraIssue:
        rng = self.rng
        issue_type = rng.choices(("Bug", "Story", "Task", "Incident"), weights=(26, 34, 33, 7))[0]
        reporter = rng.choice(members)
        labels: set[str] = set()
        severity = environment = None
        obj = rng.choice(SUMMARY_OBJECTS)
        if issue_type == "Bug":
            severity = rng.choices(SEVERITIES, weights=(5, 17, 45, 33))[0]
            environment = rng.choices(ENVIRONMENTS, weights=(60, 40))[0]
            priority = {"S1": "Highest", "S2": "High", "S3": rng.choice(("Medium", "High")),
                        "S4": rng.choice(("Low", "Lowest", "Medium"))}[severity]
            summary = f"{rng.choice(('Error in', 'Crash in', 'Wrong totals in', 'Timeout in'))} {obj}"
        elif issue_type == "Incident":
            priority = rng.choice(("Highest", "High"))
            summary = f"Degraded {obj} ({rng.choice(('latency', 'errors', 'outage'))})"
        else:
            priority = rng.choices(tuple(PRIORITIES), weights=(2, 15, 60, 18, 5))[0]
            summary = f"{rng.choice(('Add', 'Improve', 'Refactor', 'Remove', 'Update'))} {obj}"
        if issue_type in ("Task", "Story") and rng.random() < 0.14:
            labels.add(TECH_DEBT)
            summary = f"Pay down debt: {obj}"
        if issue_type == "Task" and rng.random() < 0.08:
            labels = {KNOWLEDGE_SHARING}
            summary = f"Talk: {rng.choice(TALK_TOPICS)}"
        if rng.random() < 0.25:
            labels.add(rng.choice(OTHER_LABELS))
        issue = JiraIssue(
            id=0, key="", project_key=project.key, issue_type=issue_type, summary=summary, status=TO_DO.name,
            priority=priority, labels=sorted(labels), created=created, updated=created, reporter=reporter,
            assignee=rng.choice(members) if rng.random() < 0.45 else None, resolution=None,
            resolution_date=None, team=project.team, severity=severity, environment=environment,
            description=f"{summary}.\n\nReported by {reporter}.",
        )
        self._workflow(issue, members)
        return issue

    def _workflow(self, issue: JiraIssue, members: list[str]) -> None:
        """Walk the workflow from To Do, cutting at the anchor; long-tailed waits, quiet weekends."""
        rng = self.rng
        fast = issue.issue_type == "Incident" or issue.severity in ("S1", "S2")
        scale = 0.25 if fast else 1.0
        reopen_rate = 0.10 if issue.issue_type == "Bug" else 0.03
        now = issue.created
        status = TO_DO
        assignee = issue.assignee
        reopens = 0

        def move(target: Status, wait_hours: float) -> bool:
            nonlocal now, status, assignee
            at = self._later(now, wait_hours)
            if at >= self.latest:
                return False
            items = [_status_item(status, target)]
            if target.category == "done" and status.category != "done":
                resolution = "Done" if target is DONE else "Won't Do"
                items.append(ChangeItem("resolution", None, None, RESOLUTIONS[resolution][0], resolution))
            elif status.category == "done" and target.category != "done":
                old = "Done" if status is DONE else "Won't Do"
                items.append(ChangeItem("resolution", RESOLUTIONS[old][0], old, None, None))
            if target is IN_PROGRESS and assignee is None:
                assignee = rng.choice(members)
                items.append(ChangeItem("assignee", None, None, account_id(assignee),
                                        self._user(assignee).display_name, field_id="assignee"))
            issue.histories.append(History(0, assignee or issue.reporter, at, items))
            now, status = at, target
            return True

        while True:
            if status is TO_DO:
                if rng.random() < 0.06:
                    if not move(WONT_DO, rng.lognormvariate(math.log(48), 1.2)):
                        break
                elif not move(IN_PROGRESS, scale * rng.lognormvariate(math.log(20), 1.3)):
                    break
            elif status is IN_PROGRESS:
                target = IN_REVIEW if rng.random() < 0.85 else DONE
                if not move(target, scale * min(rng.lognormvariate(math.log(30), 1.1), 24 * 60)):
                    break
            elif status is IN_REVIEW:
                target = DONE if rng.random() < 0.85 else IN_PROGRESS
                if not move(target, scale * rng.lognormvariate(math.log(8), 1.0)):
                    break
            else:  # done category
                if reopens >= 2 or rng.random() >= reopen_rate:
                    break
                reopens += 1
                if not move(rng.choice((TO_DO, IN_PROGRESS)), rng.lognormvariate(math.log(72), 1.0)):
                    break
        issue.assignee = assignee
        issue.status = status.name

    def _make_chatty(self, issue: JiraIssue) -> None:
        """One issue bounces between In Progress and In Review (flaky CI): > 100 histories."""
        issue.summary = "Flaky end-to-end suite blocks review"
        issue.labels = sorted(set(issue.labels) | {TECH_DEBT})
        issue.created = self._at_ms(self.window_start + timedelta(hours=30))
        issue.histories = []
        member = issue.assignee or issue.reporter
        issue.assignee = member
        now, status = issue.created, TO_DO
        for index in range(121):
            target = IN_PROGRESS if status is not IN_PROGRESS else IN_REVIEW
            now = self._at_ms(now + timedelta(hours=self.rng.uniform(2, 9)))
            if now >= self.latest:
                break
            issue.histories.append(History(0, member, now, [_status_item(status, target)]))
            status = target
        issue.status = status.name

    def _moves(self, issues: list[JiraIssue], projects: list[JiraProject]) -> None:
        """A few issues move to another team's project; Jira records project and Key items."""
        if len(projects) < 2 or len(issues) < 10:
            return
        by_key = {project.key: project for project in projects}
        count = max(1, round(len(issues) * 0.005))
        candidates = [issue for issue in issues[1:] if issue.created < self.latest - timedelta(days=2)]
        for issue in self.rng.sample(candidates, min(count, len(candidates))):
            source = by_key[issue.project_key]
            target = self.rng.choice([project for project in projects if project is not source])
            start = issue.histories[0].created if issue.histories else issue.created
            moved_at = self._at_ms(issue.created + (min(start, self.latest) - issue.created) * self.rng.uniform(0.2, 0.9))
            if moved_at <= issue.created:
                moved_at = self._at_ms(issue.created + timedelta(minutes=5))
            items = [ChangeItem("project", str(source.id), source.name, str(target.id), target.name,
                                field_id="project"),
                     ChangeItem("Key", None, "<old>", None, "<new>")]  # keys filled by _assign_keys
            issue.histories.append(History(0, issue.reporter, moved_at, items))
            issue.histories.sort(key=lambda history: history.created)
            issue.project_key = target.key
            issue.team = target.team
            issue._moved_from = source.key  # type: ignore[attr-defined]

    def _assign_keys(self, issues: list[JiraIssue]) -> None:
        """Keys are numbered per project in the order issues are created in (or moved into) it."""
        events: list[tuple[datetime, int, str, JiraIssue, History | None]] = []
        for issue in issues:
            origin = getattr(issue, "_moved_from", None)
            if origin is None:
                events.append((issue.created, issue.id, issue.project_key, issue, None))
                continue
            move = next(h for h in issue.histories if h.items[0].field == "project")
            events.append((issue.created, issue.id, origin, issue, None))
            events.append((move.created, issue.id, issue.project_key, issue, move))
        events.sort(key=lambda event: (event[0], event[1]))
        counters: Counter[str] = Counter()
        for _, _, project_key, issue, move in events:
            counters[project_key] += 1
            key = f"{project_key}-{counters[project_key]}"
            if move is None:
                issue.key = key
            else:
                key_item = move.items[1]
                key_item.from_string, key_item.to_string = issue.key, key
                issue.previous_keys.append(issue.key)
                issue.key = key
            if hasattr(issue, "_moved_from") and move is not None:
                del issue._moved_from  # type: ignore[attr-defined]

    def _assign_fix_versions(self, issues: list[JiraIssue], versions: list[JiraVersion]) -> None:
        """Resolved-Done issues ship in the first version of their project released (or due) on/after resolution;
        some in-flight issues target the next unreleased version. Moved issues lose their old project's versions."""
        by_project: dict[str, list[JiraVersion]] = {}
        for version in versions:
            by_project.setdefault(version.project_key, []).append(version)
        for issue in issues:
            candidates = by_project.get(issue.project_key, [])
            status = STATUSES[issue.status]
            if status is DONE and issue.issue_type != "Incident":
                done_day = issue.histories[-1].created.date()
                chosen = next((v for v in candidates
                               if (v.actual_release_date or v.planned_release_date) >= done_day
                               and (v.released or v.planned_release_date >= done_day)), None)
                if chosen is not None and self.rng.random() < 0.9:
                    issue.fix_version_ids = [chosen.id]
            elif status.category == "indeterminate" and self.rng.random() < 0.5:
                chosen = next((v for v in candidates if not v.released), None)
                if chosen is not None:
                    issue.fix_version_ids = [chosen.id]

    def _deletions(self, issues: list[JiraIssue]) -> None:
        if len(issues) < 10:
            return
        count = max(1, round(len(issues) * 0.003))
        candidates = [issue for issue in issues[1:] if not issue.previous_keys]
        for issue in self.rng.sample(candidates, min(count, len(candidates))):
            last = issue.histories[-1].created if issue.histories else issue.created
            deleted_at = self._at_ms(last + (self.latest - last) * self.rng.uniform(0.05, 0.5))
            issue.deleted_at = max(deleted_at, last + timedelta(milliseconds=1))

    def _number_histories(self, issues: list[JiraIssue]) -> None:
        """History ids grow with time across the whole site, like Jira's."""
        everything = sorted(((h.created, issue.id, index, h) for issue in issues
                             for index, h in enumerate(issue.histories)), key=lambda row: row[:3])
        next_id = 20_000 + self.rng.randint(0, 999)
        for _, _, _, history in everything:
            history.id = next_id
            next_id += self.rng.randint(1, 4)

    @staticmethod
    def _finish(issue: JiraIssue) -> None:
        issue.updated = issue.histories[-1].created if issue.histories else issue.created
        status = STATUSES[issue.status]
        if status.category == "done":
            last_done = next(h for h in reversed(issue.histories)
                             if any(i.field == "status" and STATUSES[i.to_string].category == "done"
                                    for i in h.items))
            issue.resolution = "Done" if status is DONE else "Won't Do"
            issue.resolution_date = last_done.created
        else:
            issue.resolution = None
            issue.resolution_date = None

    # -- time helpers -------------------------------------------------------------

    def _later(self, moment: datetime, hours: float) -> datetime:
        """`moment` + `hours`; work landing on a weekend mostly slides to Monday morning."""
        at = moment + timedelta(hours=hours)
        if at.weekday() >= 5 and self.rng.random() < 0.8:
            monday = at.date() + timedelta(days=7 - at.weekday())
            at = datetime.combine(monday, time(0, 0), tzinfo=UTC) + timedelta(hours=self.rng.uniform(8, 11))
        return self._at_ms(at)

    def _working_time(self, start: datetime, end: datetime) -> datetime:
        if self._cum_days is None:
            days = [start.date() + timedelta(days=offset) for offset in range((end.date() - start.date()).days + 1)]
            cumulative = list(itertools.accumulate(1.0 if d.weekday() < 5 else 0.12 for d in days))
            self._cum_days = (days, cumulative)
        days, cumulative = self._cum_days
        while True:
            day = self.rng.choices(days, cum_weights=cumulative)[0]
            hour = self.rng.uniform(8, 18) if self.rng.random() < 0.9 else self.rng.uniform(0, 24)
            moment = self._at_ms(datetime.combine(day, time(0, 0), tzinfo=UTC) + timedelta(hours=hour))
            if start <= moment < end:
                return moment

    @staticmethod
    def _at_ms(moment: datetime) -> datetime:
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _status_item(source: Status, target: Status) -> ChangeItem:
    return ChangeItem("status", source.id, source.name, target.id, target.name, field_id="status")


def _split_total(total: int, weights: list[float]) -> list[int]:
    if not weights:
        return []
    raw = [total * weight / sum(weights) for weight in weights]
    counts = [int(value) for value in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)
    for index in by_remainder[: total - sum(counts)]:
        counts[index] += 1
    return counts


# -- ground truth -----------------------------------------------------------------


def week_start(moment: datetime) -> date:
    """Monday of the ISO week containing `moment`, taken in UTC."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def production_bugs(site: JiraSite) -> list[dict[str, Any]]:
    """Weekly production-bug flow per (team, week_start, severity).

    Population: issues of type Bug whose Environment (customfield_10011) is
    `production`, that are still visible at the anchor (issues deleted upstream
    are excluded). Team = the team of the issue's *current* project (moved
    issues count for the project they were moved to); severity = the current
    Severity value (customfield_10010). Weeks start Monday 00:00 UTC.

      * opened   — issues whose `created` falls in the week.
      * resolved — changelog status transitions whose source status is not in
                   the `done` category and whose target is (Done or Won't Do),
                   counted per transition (an issue resolved twice counts twice).
      * reopened — status transitions from a `done` status to a non-done one.

    So, per issue, `opened - resolved + reopened` over all weeks is 1 when it is
    unresolved at the anchor and 0 otherwise. Only rows with a non-zero count
    are returned, sorted by (team, week_start, severity).
    """
    counts: dict[tuple[str, date, str], Counter[str]] = {}
    for issue in site.live_issues():
        if issue.issue_type != "Bug" or issue.environment != "production":
            continue

        def bump(moment: datetime, measure: str) -> None:
            counts.setdefault((issue.team, week_start(moment), issue.severity or ""), Counter())[measure] += 1
        bump(issue.created, "opened")
        for when, source, target in issue.status_transitions():
            was_done = STATUSES[source].category == "done"
            is_done = STATUSES[target].category == "done"
            if is_done and not was_done:
                bump(when, "resolved")
            elif was_done and not is_done:
                bump(when, "reopened")
    return [{"team": team, "week_start": week, "severity": severity,
             "opened": counter["opened"], "resolved": counter["resolved"], "reopened": counter["reopened"]}
            for (team, week, severity), counter in sorted(counts.items())]


def release_delays(site: JiraSite) -> list[dict[str, Any]]:
    """One row per fix version: how late it shipped relative to its planned release date.

    `planned_release_date` is the version's `releaseDate`; `actual_release_date`
    is the day it was released (None while unreleased). With today = the
    anchor's UTC date:
      * released           → delay_days = actual − planned (negative = early),
                              status `early` / `on_time` / `late` by its sign.
      * unreleased, planned < today (past due) → counted as late:
                              delay_days = today − planned, status `overdue`.
      * unreleased, planned ≥ today → delay_days None, status `scheduled`.
    `late` is True iff delay_days > 0. Archived versions are included.
    Sorted by (project_key, planned_release_date, version id).
    """
    today = site.anchor.astimezone(UTC).date()
    project_team = {project.key: project.team for project in site.projects}
    rows = []
    for version in site.versions:
        planned = version.planned_release_date
        if version.released and version.actual_release_date is not None:
            delay = (version.actual_release_date - planned).days
            status = "early" if delay < 0 else "on_time" if delay == 0 else "late"
        elif planned < today:
            delay, status = (today - planned).days, "overdue"
        else:
            delay, status = None, "scheduled"
        rows.append({
            "project_key": version.project_key, "team": project_team[version.project_key],
            "version_id": version.id, "version": version.name, "planned_release_date": planned,
            "actual_release_date": version.actual_release_date, "released": version.released,
            "delay_days": delay, "late": delay is not None and delay > 0, "status": status,
        })
    return sorted(rows, key=lambda row: (row["project_key"], row["planned_release_date"], row["version_id"]))
