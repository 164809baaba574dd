"""A deterministic synthetic Jira site (one project per team) and its ground truth.

`generate_jira(teams, seed, anchor, days, issues_total)` builds a `JiraSite`:
projects, fix versions, issues with status changelogs, a few messy cases (issues
moved between projects, issues deleted upstream, reopened bugs) and one issue
with more than 100 changelog histories so clients must page the changelog.
Same inputs give an identical site; `JiraSite.advance(days)` moves the clock on
deterministically (same seed + same sequence of advances => same site).

Storage (so 1,000,000 issues fit in a few hundred MB):
  * `JiraSite.index` (`IssueIndex`) keeps one compact numpy row per issue: id,
    current / original project, key numbers, type, status, severity, environment,
    created, updated, deleted and next-event timestamps (epoch ms), history count.
    Searching, sorting and paging only touch these columns.
  * History ids (they grow with time across the whole site, like Jira's) are one
    flat int64 array plus a small overflow for histories added by `advance`.
  * Everything else -- summary, labels, people, the changelog items, fix versions --
    is re-derived on demand from a per-issue `random.Random` seeded by (seed, issue
    id). Each issue's *whole* life is a pure function of that seed (its workflow
    walk does not look at the clock); the site shows the prefix before the anchor.
    So materialising an issue twice, or after `advance`, agrees with the index.
  * `JiraSite.issues` is a lazy sequence; materialised issues are kept in a bounded
    LRU cache. A site can also be built from a hand-made list of `JiraIssue`s
    (tests do); then the index is computed from the list and `advance` is refused.

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
import math
import random
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, overload

import numpy as np

from simulator.model import Team

from simulator.model import Team
from simulator.randomness import split_total

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
    ship_date: date | None = None  # generated sites: the day it will ship (None: never); drives `advance`


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


# -- compact codes and time in epoch milliseconds ----------------------------------

STATUS_ORDER = (TO_DO, IN_PROGRESS, IN_REVIEW, DONE, WONT_DO)
STATUS_CODES = {status.name: code for code, status in enumerate(STATUS_ORDER)}
_TODO, _PROGRESS, _REVIEW, _DONE, _WONT = range(5)
TYPE_NAMES = ("Bug", "Story", "Task", "Incident")
TYPE_CODES = {name: code for code, name in enumerate(TYPE_NAMES)}
SEVERITY_CODES = {None: 0, **{name: code for code, name in enumerate(SEVERITIES, 1)}}
ENVIRONMENT_CODES = {None: 0, **{name: code for code, name in enumerate(ENVIRONMENTS, 1)}}
NEVER = np.iinfo(np.int64).max  # "no such moment" in int64 ms columns
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=int(ms))


def _weekday(ms: int) -> int:
    return (ms // DAY_MS + 3) % 7  # 1970-01-01 was a Thursday


class IssueIndex:
    """One compact row per issue (position = creation order = id order), numpy columns.

    `project`/`number` are the current key, `origin`/`prev_number` the key it was created
    under (`prev_number` 0 unless moved). Times are epoch ms; `deleted` is when the
    issue was deleted upstream (NEVER if not, as of the anchor); `next_event` is when
    its life next changes after the anchor (a transition, a move, a deletion) or NEVER.
    """

    COLUMNS: dict[str, Any] = {
        "ids": np.int64, "project": np.int16, "origin": np.int16, "number": np.int32, "prev_number": np.int32,
        "itype": np.int8, "status": np.int8, "severity": np.int8, "environment": np.int8,
        "created": np.int64, "updated": np.int64, "deleted": np.int64, "next_event": np.int64,
        "hist_len": np.int32,
    }

    def __init__(self, size: int = 0, **columns: np.ndarray) -> None:
        for name, dtype in self.COLUMNS.items():
            setattr(self, name, np.array(columns[name], dtype=dtype) if name in columns
                    else np.zeros(size, dtype=dtype))
        self._orders: dict[tuple[str, int], np.ndarray] = {}

    ids: np.ndarray
    project: np.ndarray
    origin: np.ndarray
    number: np.ndarray
    prev_number: np.ndarray
    itype: np.ndarray
    status: np.ndarray
    severity: np.ndarray
    environment: np.ndarray
    created: np.ndarray
    updated: np.ndarray
    deleted: np.ndarray
    next_event: np.ndarray
    hist_len: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def append(self, **columns: np.ndarray) -> None:
        for name, dtype in self.COLUMNS.items():
            setattr(self, name, np.concatenate([getattr(self, name), np.asarray(columns[name], dtype=dtype)]))
        self._orders.clear()

    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in self.COLUMNS)

    def visible(self, at_ms: int) -> np.ndarray:
        return self.deleted > at_ms

    def key_rank(self, project_rank: np.ndarray) -> np.ndarray:
        """An int64 that sorts like the key string's (project key, number)."""
        return project_rank[self.project].astype(np.int64) << 32 | self.number.astype(np.int64)


class _IssueSequence(Sequence):
    """`site.issues`: every model issue (deleted ones included) in id order, materialised on access."""

    def __init__(self, site: JiraSite) -> None:
        self._site = site

    def __len__(self) -> int:
        return len(self._site.index)

    @overload
    def __getitem__(self, position: int) -> JiraIssue: ...

    @overload
    def __getitem__(self, position: slice) -> list[JiraIssue]: ...

    def __getitem__(self, position: int | slice) -> JiraIssue | list[JiraIssue]:
        if isinstance(position, slice):
            return [self._site.issue_at(i) for i in range(*position.indices(len(self)))]
        if position < 0:
            position += len(self)
        if not 0 <= position < len(self):
            raise IndexError(position)
        return self._site.issue_at(position)

    def __iter__(self) -> Iterator[JiraIssue]:
        return self._site.iter_issues(range(len(self)))


class _IssueMapping(Mapping):
    """`site.issues_by_key` / `site.issues_by_id`: lookups through the index, no per-issue dict."""

    def __init__(self, site: JiraSite, by: str) -> None:
        self._site = site
        self._by = by

    def _find(self, key: Any) -> int | None:
        if self._by == "id":
            return self._site.position_of_id(int(key)) if str(key).isdigit() else None
        found = self._site.position_of_key(str(key))
        return found[0] if found is not None and found[1] else None

    def __getitem__(self, key: Any) -> JiraIssue:
        position = self._find(key)
        if position is None:
            raise KeyError(key)
        return self._site.issue_at(position)

    def __contains__(self, key: object) -> bool:
        return self._find(key) is not None

    def __iter__(self) -> Iterator[Any]:
        index = self._site.index
        if self._by == "id":
            return iter(index.ids.tolist())
        keys = [project.key for project in self._site.projects]
        return (f"{keys[p]}-{n}" for p, n in zip(index.project.tolist(), index.number.tolist()))

    def __len__(self) -> int:
        return len(self._site.index)


class JiraSite:
    """The Jira model. Generated sites are lazy (see the module docstring); hand-built ones wrap `issues`."""

    CACHE_SIZE = 20_000  # materialised issues kept (LRU); a small site stays fully cached

    def __init__(self, teams: list[Team], projects: list[JiraProject], versions: list[JiraVersion],
                 issues: list[JiraIssue] | None, users: dict[str, JiraUser], anchor: datetime, seed: int, days: int,
                 custom_fields: dict[str, str] | None = None, generation: int = 0,
                 _engine: _Engine | None = None, _index: IssueIndex | None = None) -> None:
        self.teams = teams
        self.projects = projects
        self.versions = versions
        self.users = users
        self.anchor = anchor
        self.seed = seed
        self.days = days
        self.custom_fields = dict(CUSTOM_FIELDS) if custom_fields is None else custom_fields
        self.generation = generation  # bumped whenever the site changes; part of search snapshots
        self.days_advanced = 0
        self.lock = threading.RLock()  # held by `advance`; the API holds it while it reads
        self._engine = _engine
        self._list: list[JiraIssue] | None = None
        if _engine is None:
            self._list = sorted(issues or [], key=lambda issue: issue.id)
        else:
            self.index = _index if _index is not None else IssueIndex(0)
        self._cache: OrderedDict[int, JiraIssue] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.reindex()

    # -- indexes --------------------------------------------------------------------

    def reindex(self) -> None:
        """Rebuild what is derived from the model (after a hand edit); bumps `generation`."""
        if self._list is not None:
            self.index = _index_from_list(self._list, self.projects)
        self._derive()

    def _derive(self) -> None:
        self.projects_by_key: dict[str, JiraProject] = {project.key: project for project in self.projects}
        self.versions_by_id: dict[int, JiraVersion] = {version.id: version for version in self.versions}
        self.project_positions = {project.key: index for index, project in enumerate(self.projects)}
        ranks = np.zeros(max(len(self.projects), 1), dtype=np.int64)
        for rank, index in enumerate(sorted(range(len(self.projects)), key=lambda i: self.projects[i].key)):
            ranks[index] = rank
        self.project_rank = ranks
        self._slots = _key_slots(self.index, len(self.projects))
        self._redirects: dict[str, int] = {}
        if self._list is not None:  # hand-built issues may carry several previous keys
            self._redirects = {old.upper(): position for position, issue in enumerate(self._list)
                               for old in issue.previous_keys}
        with self._cache_lock:
            self._cache.clear()
        self.generation += 1

    @property
    def issues(self) -> Sequence[JiraIssue]:
        """Every model issue in id order, deleted ones included (the API filters with `is_visible`)."""
        return _IssueSequence(self)

    @issues.setter
    def issues(self, issues: list[JiraIssue]) -> None:
        """Replace the model with a hand-made list (the site is no longer lazy and cannot advance)."""
        self._engine = None
        self._list = sorted(issues, key=lambda issue: issue.id)
        self.reindex()

    @property
    def issues_by_key(self) -> Mapping[str, JiraIssue]:
        return _IssueMapping(self, "key")

    @property
    def issues_by_id(self) -> Mapping[int, JiraIssue]:
        return _IssueMapping(self, "id")

    @property
    def anchor_ms(self) -> int:
        return to_ms(self.anchor)

    # -- lookups --------------------------------------------------------------------

    def issue_at(self, position: int) -> JiraIssue:
        position = int(position)
        if self._list is not None:
            return self._list[position]
        with self._cache_lock:
            cached = self._cache.get(position)
            if cached is not None:
                self._cache.move_to_end(position)
                return cached
        issue = self._engine.materialise(self, position)
        with self._cache_lock:
            self._cache[position] = issue
            if len(self._cache) > self.CACHE_SIZE:
                self._cache.popitem(last=False)
        return issue

    def iter_issues(self, positions: Iterable[int]) -> Iterator[JiraIssue]:
        """Materialise `positions` in order; beyond the cache size, without filling the cache."""
        positions = list(positions) if not isinstance(positions, (range, np.ndarray)) else positions
        if self._list is not None or len(positions) <= self.CACHE_SIZE:
            return (self.issue_at(position) for position in positions)
        return (self._cache.get(int(p)) or self._engine.materialise(self, int(p)) for p in positions)

    def position_of_id(self, issue_id: int) -> int | None:
        ids = self.index.ids
        position = int(np.searchsorted(ids, issue_id))
        return position if position < len(ids) and ids[position] == issue_id else None

    def position_of_key(self, key: str) -> tuple[int, bool] | None:
        """(position, is the current key) for a current or former key, deleted issues included."""
        key = key.strip().upper()
        if key in self._redirects:
            return self._redirects[key], False
        project_key, _, number = key.rpartition("-")
        project = self.project_positions.get(project_key)
        if project is None or not number.isdigit():
            return None
        slots = self._slots[project]
        number_value = int(number)
        if not 1 <= number_value <= len(slots) or slots[number_value - 1] < 0:
            return None
        position = int(slots[number_value - 1])
        current = self.index.project[position] == project and self.index.number[position] == number_value
        return position, bool(current)

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
        found = self.position_of_key(key)
        return None if found is None else self.issue_at(found[0])

    def live_positions(self, at: datetime | None = None) -> np.ndarray:
        moment = self.anchor_ms if at is None else to_ms(at)
        return np.flatnonzero(self.index.visible(moment))

    def live_issues(self, at: datetime | None = None) -> list[JiraIssue]:
        return list(self.iter_issues(self.live_positions(at)))

    def select(self, issue_types: Iterable[str] | None = None, environment: str | None = None,
               at: datetime | None = None) -> Iterator[JiraIssue]:
        """Visible issues of those types (and Environment), filtered on the index before anything is
        materialised: use this, not `live_issues()`, over big sites (1M issues do not fit as objects)."""
        index = self.index
        mask = index.visible(self.anchor_ms if at is None else to_ms(at))
        if issue_types is not None:
            mask &= np.isin(index.itype, [TYPE_CODES[name] for name in issue_types])
        if environment is not None:
            mask &= index.environment == ENVIRONMENT_CODES[environment]
        return self.iter_issues(np.flatnonzero(mask))

    def stats(self) -> dict[str, int]:
        """Counts for benchmarks: issues, live issues, histories, change items (items need a full pass)."""
        return {"issues": len(self.index), "live_issues": int(self.index.visible(self.anchor_ms).sum()),
                "histories": int(self.index.hist_len.sum()), "versions": len(self.versions),
                "index_bytes": self.index.nbytes() + (self._engine.nbytes() if self._engine else 0)}

    def change_items(self) -> int:
        """Total changelog items across the site (materialises every changelog: slow on big sites)."""
        if self._engine is not None:
            return self._engine.count_items(self)
        return sum(len(h.items) for issue in self._list or [] for h in issue.histories)

    # -- time travel ----------------------------------------------------------------

    def advance(self, days: int = 1) -> JiraSite:
        """Produce `days` more days after the anchor (new issues, transitions, moves, deletions,
        version releases) deterministically, one day at a time, and move the anchor."""
        if days < 0:
            raise ValueError("days must not be negative")
        if self._engine is None:
            raise ValueError("only generated sites can advance")
        with self.lock:
            for _ in range(days):
                self._engine.advance_one_day(self)
                self.days_advanced += 1
                self._derive()
        return self


def _index_from_list(issues: list[JiraIssue], projects: list[JiraProject]) -> IssueIndex:
    positions = {project.key: index for index, project in enumerate(projects)}
    index = IssueIndex(len(issues))
    for row, issue in enumerate(issues):
        origin_key = issue.previous_keys[-1] if issue.previous_keys else issue.key
        index.ids[row] = issue.id
        index.project[row] = positions[issue.project_key]
        index.origin[row] = positions.get(origin_key.rsplit("-", 1)[0], positions[issue.project_key])
        index.number[row] = issue.number
        index.prev_number[row] = int(origin_key.rsplit("-", 1)[1]) if issue.previous_keys else 0
        index.itype[row] = TYPE_CODES[issue.issue_type]
        index.status[row] = STATUS_CODES[issue.status]
        index.severity[row] = SEVERITY_CODES.get(issue.severity, 0)
        index.environment[row] = ENVIRONMENT_CODES.get(issue.environment, 0)
        index.created[row] = to_ms(issue.created)
        index.updated[row] = to_ms(issue.updated)
        index.deleted[row] = NEVER if issue.deleted_at is None else to_ms(issue.deleted_at)
        index.next_event[row] = NEVER
        index.hist_len[row] = len(issue.histories)
    return index


def _key_slots(index: IssueIndex, project_count: int) -> list[np.ndarray]:
    """Per project, number-1 -> position for every key ever given out there (current and former)."""
    slots = []
    for project in range(project_count):
        current = np.flatnonzero(index.project == project)
        former = np.flatnonzero((index.origin == project) & (index.prev_number > 0))
        numbers = np.concatenate([index.number[current], index.prev_number[former]]).astype(np.int64)
        table = np.full(int(numbers.max()) if len(numbers) else 0, -1, dtype=np.int64)
        table[numbers - 1] = np.concatenate([current, former])
        slots.append(table)
    return slots


# -- generator --------------------------------------------------------------------


def generate_jira(teams: list[Team], seed: int, anchor: datetime, days: int, issues_total: int) -> JiraSite:
    """Deterministic Jira site for `teams`: same arguments => identical site."""
    if anchor.tzinfo is None:
        anchor = anchor.replace(tzinfo=UTC)
    return _Engine(teams, seed, anchor.astimezone(UTC), days, issues_total).build()


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


def _stable_int(text: str) -> int:
    """A seed that does not depend on PYTHONHASHSEED."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _user(login: str) -> JiraUser:
    first, _, team = login.partition("-")
    display = f"{first.capitalize()} {team.capitalize()}".strip()
    return JiraUser(login=login, account_id=account_id(login), display_name=display, email=f"{login}@example.com")


_LOG = {hours: math.log(hours) for hours in (8, 12, 20, 30, 48, 72)}
_DONE_CODES = (_DONE, _WONT)
_PRIORITY_NAMES = tuple(PRIORITIES)
_VERB_BUG = ("Error in", "Crash in", "Wrong totals in", "Timeout in")
_VERB_WORK = ("Add", "Improve", "Refactor", "Remove", "Update")
_INCIDENT_KIND = ("latency", "errors", "outage")
_STATUS_ITEMS = {(source, target): ChangeItem("status", STATUS_ORDER[source].id, STATUS_ORDER[source].name,
                                               STATUS_ORDER[target].id, STATUS_ORDER[target].name, field_id="status")
                 for source in range(5) for target in range(5)}
MOVE_RATE = 0.005  # share of issues moved to another team's project (before work starts)
DELETE_RATE = 0.004  # share of issues deleted upstream, a median of 12 days after creation


class _Sketch:
    """An issue's whole life, independent of the clock: attributes, transitions, move, deletion."""

    __slots__ = ("itype", "severity", "environment", "priority", "summary", "labels", "reporter", "assignee",
                 "fix_roll", "transitions", "move", "deleted")

    def __init__(self, itype: int, severity: int, environment: int, priority: str, summary: str,
                 labels: list[str], reporter: str, assignee: str | None, fix_roll: float,
                 transitions: list[tuple[int, int, int, str | None, str]], move: tuple[int, int] | None,
                 deleted: int) -> None:
        self.itype, self.severity, self.environment = itype, severity, environment
        self.priority, self.summary, self.labels = priority, summary, labels
        self.reporter, self.assignee, self.fix_roll = reporter, assignee, fix_roll
        self.transitions = transitions  # (at ms, from code, to code, new assignee or None, author)
        self.move = move  # (at ms, target project position)
        self.deleted = deleted  # ms or NEVER


class _Cut:
    """A sketch as seen at a moment: what has happened before it."""

    __slots__ = ("happened", "moved", "status", "updated", "deleted", "next_event", "times", "items")

    def __init__(self, sketch: _Sketch, created: int, at: int) -> None:
        transitions, move, deleted = sketch.transitions, sketch.move, sketch.deleted
        limit = at if at < deleted else deleted
        happened = 0
        for transition in transitions:
            if transition[0] >= limit:
                break
            happened += 1
        self.happened = happened
        self.moved = moved = move is not None and move[0] < at
        self.status = transitions[happened - 1][2] if happened else _TODO
        times = [move[0]] if moved else []
        times += [transitions[i][0] for i in range(happened)]
        self.times = times
        self.updated = times[-1] if times else created
        self.deleted = deleted if deleted < at else NEVER
        upcoming = NEVER
        if happened < len(transitions) and transitions[happened][0] < deleted:
            upcoming = transitions[happened][0]
        if move is not None and not moved:
            upcoming = min(upcoming, move[0])
        if deleted != NEVER and deleted >= at:
            upcoming = min(upcoming, deleted)
        self.next_event = upcoming
        items = 2 if moved else 0
        for i in range(happened):
            _, source, target, new_assignee, _ = transitions[i]
            items += 1 + ((source >= _DONE) != (target >= _DONE)) + (new_assignee is not None)
        self.items = items


class _Engine:
    """Generates a site lazily and keeps what materialising and advancing it need."""

    def __init__(self, teams: list[Team], seed: int, anchor: datetime, days: int, issues_total: int) -> None:
        self.teams = teams
        self.seed = seed
        self.anchor = anchor
        self.days = days
        self.issues_total = issues_total
        self.rng = random.Random(f"{seed}:jira")
        self.window_start = anchor - timedelta(days=days)
        self.window_start_ms = to_ms(self.window_start)
        self._issue_seed = _stable_int(f"{seed}:jira:issue")
        self.users = {login: _user(login) for team in teams for login in team.members}
        self.projects = self._projects()
        by_team = {team.name: team for team in teams}
        self.members = [by_team[project.team].members or [project.lead] for project in self.projects]
        self.chatty_id = -1
        self.counters = [0] * len(self.projects)  # last key number given out per project
        self.hist_start = np.zeros(1, dtype=np.int64)  # generation-time histories: flat ids + offsets
        self.hist_ids = np.zeros(0, dtype=np.int64)
        self.extra_hist: dict[int, list[int]] = {}  # histories added by `advance`, per position
        self.next_history_id = 0
        self.change_items = 0
        self.share: list[float] = []
        self.versions_by_project: list[list[JiraVersion]] = [[] for _ in self.projects]
        self._trains = [self._train(project) for project in self.projects]
        self._pending = [next(train) for train in self._trains]
        self._archivable: set[int] = set()
        self.next_version_id = 10_100

    def nbytes(self) -> int:
        return self.hist_start.nbytes + self.hist_ids.nbytes

    # -- people, projects, versions -------------------------------------------------

    def _projects(self) -> list[JiraProject]:
        projects, taken = [], set()
        for index, team in enumerate(self.teams):
            key = project_key_for(team.name, taken)
            taken.add(key)
            lead = team.members[0] if team.members else "admin"
            projects.append(JiraProject(id=10_000 + index, key=key, name=team.name.replace("-", " ").title(),
                                        team=team.name, lead=lead))
        return projects

    def _train(self, project: JiraProject) -> Iterator[tuple[date, int, int, date | None, bool]]:
        """A project's release train, forever: planned every 7-21 days from before the window.
        Yields (planned, minor, cadence, ship date or None if it never ships, archive roll)."""
        rng = random.Random(f"{self.seed}:jira:versions:{project.key}")
        cadence = rng.choice((7, 14, 14, 21))
        planned = self.window_start.date() - timedelta(days=rng.randint(0, cadence))
        minor = rng.randint(3, 40)
        while True:
            roll = rng.random()
            delay = (rng.choice((-3, -2, -1)) if roll < 0.15 else 0 if roll < 0.55
                     else min(int(rng.lognormvariate(math.log(3), 0.8)) + 1, 30))
            never_ships = rng.random() < 0.08  # a few versions go past due and never ship
            archive = rng.random() < 0.5
            yield planned, minor, cadence, None if never_ships else planned + timedelta(days=delay), archive
            planned += timedelta(days=cadence)
            minor += 1

    def _extend_versions(self, site_versions: list[JiraVersion], today: date, project_major: bool) -> None:
        """Versions planned up to 5 weeks after `today` exist; new ids in (planned, project) order
        (project-major at generation)."""
        fresh: list[tuple[date, int, tuple]] = []
        for position, project in enumerate(self.projects):
            while self._pending[position][0] <= today + timedelta(days=35):
                fresh.append((self._pending[position][0], position, self._pending[position]))
                self._pending[position] = next(self._trains[position])
        if not project_major:
            fresh.sort(key=lambda row: (row[0], row[1]))
        archive_before = self.window_start.date() - timedelta(days=3)
        for planned, position, (_, minor, cadence, ship, archive) in fresh:
            project = self.projects[position]
            version = JiraVersion(id=self.next_version_id, project_key=project.key,
                                  name=f"{project.key.lower()}-1.{minor}.0", planned_release_date=planned,
                                  released=False, actual_release_date=None,
                                  start_date=planned - timedelta(days=cadence), ship_date=ship)
            if archive and planned < archive_before:
                self._archivable.add(version.id)  # old released versions get archived, as teams tidy up
            self.next_version_id += 1
            site_versions.append(version)
            self.versions_by_project[position].append(version)
        for version in site_versions:
            version.released = version.ship_date is not None and version.ship_date < today
            version.actual_release_date = version.ship_date if version.released else None
            version.archived = version.released and version.id in self._archivable

    # -- issues -------------------------------------------------------------------

    def sketch(self, issue_id: int, origin: int, created: int) -> _Sketch:
        """The issue's whole life from its own seed; the workflow walk never looks at the clock."""
        rng = random.Random(self._issue_seed ^ issue_id)
        r = rng.random
        choose = rng.choice
        lognormal = rng.lognormvariate
        members = self.members[origin]
        roll = r()
        itype = 0 if roll < 0.26 else 1 if roll < 0.60 else 2 if roll < 0.93 else 3
        reporter = choose(members)
        labels: set[str] = set()
        severity = environment = 0
        obj = choose(SUMMARY_OBJECTS)
        if itype == 0:
            roll = r()
            severity = 1 if roll < 0.05 else 2 if roll < 0.22 else 3 if roll < 0.67 else 4
            environment = 1 if r() < 0.6 else 2
            priority = ("Highest" if severity == 1 else "High" if severity == 2
                        else choose(("Medium", "High")) if severity == 3 else choose(("Low", "Lowest", "Medium")))
            summary = f"{choose(_VERB_BUG)} {obj}"
        elif itype == 3:
            priority = choose(("Highest", "High"))
            summary = f"Degraded {obj} ({choose(_INCIDENT_KIND)})"
        else:
            roll = r()
            priority = _PRIORITY_NAMES[0 if roll < 0.02 else 1 if roll < 0.17 else 2 if roll < 0.77
                                       else 3 if roll < 0.95 else 4]
            summary = f"{choose(_VERB_WORK)} {obj}"
        if itype in (1, 2) and r() < 0.14:
            labels.add(TECH_DEBT)
            summary = f"Pay down debt: {obj}"
        if itype == 2 and r() < 0.08:
            labels = {KNOWLEDGE_SHARING}
            summary = f"Talk: {choose(TALK_TOPICS)}"
        if r() < 0.25:
            labels.add(choose(OTHER_LABELS))
        assignee = choose(members) if r() < 0.45 else None
        fix_roll, move_roll, move_share, move_pick, delete_roll = r(), r(), rng.uniform(0.2, 0.9), r(), r()
        delete_days = lognormal(_LOG[12], 1.0)
        transitions: list[tuple[int, int, int, str | None, str]] = []
        now, status = created, _TODO
        if issue_id == self.chatty_id:  # bounces between In Progress and In Review (flaky CI): > 100 histories
            summary = "Flaky end-to-end suite blocks review"
            labels.add(TECH_DEBT)
            assignee = assignee or reporter
            for _ in range(121):
                target = _PROGRESS if status != _PROGRESS else _REVIEW
                now += int(rng.uniform(2, 9) * HOUR_MS)
                transitions.append((now, status, target, None, assignee))
                status = target
            return _Sketch(itype, severity, environment, priority, summary, sorted(labels), reporter, assignee,
                           fix_roll, transitions, None, NEVER)
        scale = 0.25 if itype == 3 or severity in (1, 2) else 1.0
        reopen_rate = 0.10 if itype == 0 else 0.03
        current = assignee
        reopens = 0
        while len(transitions) < 400:
            if status == _TODO:
                if r() < 0.06:
                    target, wait = _WONT, lognormal(_LOG[48], 1.2)
                else:
                    target, wait = _PROGRESS, scale * lognormal(_LOG[20], 1.3)
            elif status == _PROGRESS:
                target = _REVIEW if r() < 0.85 else _DONE
                wait = scale * min(lognormal(_LOG[30], 1.1), 24 * 60)
            elif status == _REVIEW:
                target = _DONE if r() < 0.85 else _PROGRESS
                wait = scale * lognormal(_LOG[8], 1.0)
            else:  # done category
                if reopens >= 2 or r() >= reopen_rate:
                    break
                reopens += 1
                target, wait = choose((_TODO, _PROGRESS)), lognormal(_LOG[72], 1.0)
            at = now + int(wait * HOUR_MS)
            weekday = (at // DAY_MS + 3) % 7
            if weekday >= 5 and r() < 0.8:  # work landing on a weekend mostly slides to Monday morning
                at = (at // DAY_MS + 7 - weekday) * DAY_MS + int(rng.uniform(8, 11) * HOUR_MS)
            new_assignee = None
            if target == _PROGRESS and current is None:
                current = new_assignee = choose(members)
            transitions.append((at, status, target, new_assignee, current or reporter))
            now, status = at, target
        move = None
        if len(self.projects) > 1 and move_roll < MOVE_RATE and transitions:
            moved_at = created + max(1, int((transitions[0][0] - created) * move_share))
            if moved_at < transitions[0][0]:
                target_project = int(move_pick * (len(self.projects) - 1))
                move = (moved_at, target_project + (target_project >= origin))
        deleted = NEVER
        if move is None and delete_roll < DELETE_RATE:
            deleted = created + int(delete_days * DAY_MS) + 1
        return _Sketch(itype, severity, environment, priority, summary, sorted(labels), reporter, assignee,
                       fix_roll, transitions, move, deleted)

    def build(self) -> JiraSite:
        rng = self.rng
        anchor_ms = to_ms(self.anchor)
        latest_ms = anchor_ms - 1000
        versions: list[JiraVersion] = []
        self._extend_versions(versions, self.anchor.date(), project_major=True)
        weights = [rng.uniform(0.7, 1.3) for _ in self.projects]
        self.share = [weight / sum(weights) for weight in weights] if weights else []
        counts = split_total(self.issues_total, weights)
        numbers = np.random.default_rng(_stable_int(f"{self.seed}:jira:created"))
        first_day, last_day = self.window_start_ms // DAY_MS, latest_ms // DAY_MS
        day_numbers = np.arange(first_day, last_day + 1, dtype=np.int64)
        day_weights = np.where((day_numbers + 3) % 7 < 5, 1.0, 0.12)
        self.day_weight_sum = float(day_weights.sum())
        created_parts, project_parts = [], []
        for position, count in enumerate(counts):
            times = np.empty(count, dtype=np.int64)
            todo = np.arange(count)
            while len(todo):
                days = numbers.choice(day_numbers, size=len(todo), p=day_weights / day_weights.sum())
                working = numbers.random(len(todo)) < 0.9
                hours = np.where(working, numbers.uniform(8, 18, len(todo)), numbers.uniform(0, 24, len(todo)))
                times[todo] = days * DAY_MS + (hours * HOUR_MS).astype(np.int64)
                todo = todo[(times[todo] < self.window_start_ms) | (times[todo] >= latest_ms)]
            created_parts.append(times)
            project_parts.append(np.full(count, position, dtype=np.int16))
        chatty_marker = np.zeros(self.issues_total, dtype=bool)
        first_project = next((p for p, count in enumerate(counts) if count), None)
        if first_project is not None:
            created_parts[first_project][0] = self.window_start_ms + 30 * HOUR_MS
            chatty_marker[sum(counts[:first_project])] = True
        created = np.concatenate(created_parts) if created_parts else np.zeros(0, dtype=np.int64)
        origin = np.concatenate(project_parts) if project_parts else np.zeros(0, dtype=np.int16)
        ranks = np.argsort(np.argsort([project.key for project in self.projects])) if self.projects else np.zeros(0)
        order = np.lexsort((ranks[origin] if len(origin) else origin, created))
        created, origin, chatty_marker = created[order], origin[order], chatty_marker[order]
        size = len(created)
        steps = numbers.integers(1, 4, size=size)
        ids = 10_000 + rng.randint(0, 5_000) + np.cumsum(steps) - (steps[0] if size else 0)
        if chatty_marker.any():
            self.chatty_id = int(ids[np.flatnonzero(chatty_marker)[0]])
        index = IssueIndex(size, ids=ids, project=origin, origin=origin, created=created)
        columns = {name: array_module(code) for name, code in (
            ("itype", "b"), ("status", "b"), ("severity", "b"), ("environment", "b"), ("updated", "q"),
            ("deleted", "q"), ("next_event", "q"), ("hist_len", "i"))}
        event_times = array_module("q")
        moves: list[tuple[int, int, int]] = []  # (at, position, target)
        sketch, ids_list, origin_list, created_list = self.sketch, ids.tolist(), origin.tolist(), created.tolist()
        change_items = 0
        for position in range(size):
            drawn = sketch(ids_list[position], origin_list[position], created_list[position])
            cut = _Cut(drawn, created_list[position], anchor_ms)
            columns["itype"].append(drawn.itype)
            columns["severity"].append(drawn.severity)
            columns["environment"].append(drawn.environment)
            columns["status"].append(cut.status)
            columns["updated"].append(cut.updated)
            columns["deleted"].append(cut.deleted)
            columns["next_event"].append(cut.next_event)
            columns["hist_len"].append(len(cut.times))
            event_times.extend(cut.times)
            change_items += cut.items
            if cut.moved:
                moves.append((drawn.move[0], position, drawn.move[1]))
        for name, values in columns.items():
            setattr(index, name, np.frombuffer(values, dtype=values.typecode).astype(IssueIndex.COLUMNS[name]))
        self.change_items = change_items
        self._number_keys(index, np.arange(size), moves)
        # History ids grow with time across the whole site, like Jira's: rank by (created, issue id, order).
        times = np.frombuffer(event_times, dtype=np.int64) if len(event_times) else np.zeros(0, dtype=np.int64)
        owners = np.repeat(np.arange(size, dtype=np.int64), index.hist_len)
        ranked = np.lexsort((owners, times))  # stable: an issue's own histories keep their order
        steps = numbers.integers(1, 5, size=len(times))
        history_ids = np.empty(len(times), dtype=np.int64)
        first_id = 20_000 + rng.randint(0, 999)
        history_ids[ranked] = first_id + np.cumsum(steps) - (steps[0] if len(steps) else 0)
        self.hist_ids = history_ids
        self.hist_start = np.concatenate([[0], np.cumsum(index.hist_len, dtype=np.int64)])
        self.next_history_id = int(history_ids.max()) + 1 if len(history_ids) else first_id
        return JiraSite(teams=self.teams, projects=self.projects, versions=versions, issues=None, users=self.users,
                        anchor=self.anchor, seed=self.seed, days=self.days, _engine=self, _index=index)

    def _number_keys(self, index: IssueIndex, created_positions: np.ndarray,
                     moves: list[tuple[int, int, int]]) -> None:
        """Keys are numbered per project in the order issues are created in (or moved into) it."""
        events = [(int(index.created[p]), int(index.ids[p]), 0, int(p), int(index.origin[p]))
                  for p in created_positions] if len(created_positions) < 50_000 else None
        if events is None:  # bulk path at generation: creations are already in (created, id) order
            creations = created_positions
            move_rows = sorted(moves)
            creation_times = index.created[creations]
            move_times = np.array([m[0] for m in move_rows], dtype=np.int64)
            # merged order: creation events before a move at the same ms only if their id is smaller
            merged = np.lexsort((np.concatenate([index.ids[creations], index.ids[[m[1] for m in move_rows]]
                                                 if move_rows else np.zeros(0, dtype=np.int64)]),
                                 np.concatenate([creation_times, move_times])))
            kinds = np.concatenate([np.zeros(len(creations), dtype=np.int8), np.ones(len(move_rows), dtype=np.int8)])
            positions = np.concatenate([creations, np.array([m[1] for m in move_rows], dtype=np.int64)])
            targets = np.concatenate([index.origin[creations].astype(np.int64),
                                      np.array([m[2] for m in move_rows], dtype=np.int64)])
            kinds, positions, targets = kinds[merged], positions[merged], targets[merged]
            numbers = np.zeros(len(merged), dtype=np.int64)
            for project in range(len(self.projects)):
                mask = targets == project
                numbers[mask] = self.counters[project] + np.arange(1, int(mask.sum()) + 1)
                self.counters[project] += int(mask.sum())
            created_mask = kinds == 0
            index.number[positions[created_mask]] = numbers[created_mask]
            moved_positions = positions[~created_mask]
            index.prev_number[moved_positions] = index.number[moved_positions]
            index.number[moved_positions] = numbers[~created_mask]
            index.project[moved_positions] = targets[~created_mask]
            return
        events += [(at, int(index.ids[p]), 1, p, target) for at, p, target in moves]
        for _, _, kind, position, project in sorted(events):
            self.counters[project] += 1
            if kind == 0:
                index.number[position] = self.counters[project]
            else:
                index.prev_number[position] = index.number[position]
                index.number[position] = self.counters[project]
                index.project[position] = project

    # -- materialising -------------------------------------------------------------------

    def history_ids(self, position: int) -> list[int]:
        base: list[int] = []
        if position + 1 < len(self.hist_start):
            base = self.hist_ids[self.hist_start[position]:self.hist_start[position + 1]].tolist()
        return base + self.extra_hist.get(position, [])

    def materialise(self, site: JiraSite, position: int) -> JiraIssue:
        index = site.index
        issue_id, origin, created = int(index.ids[position]), int(index.origin[position]), int(index.created[position])
        drawn = self.sketch(issue_id, origin, created)
        cut = _Cut(drawn, created, site.anchor_ms)
        project = self.projects[int(index.project[position])]
        key = f"{project.key}-{int(index.number[position])}"
        history_ids = iter(self.history_ids(position))
        histories: list[History] = []
        previous_keys: list[str] = []
        if cut.moved:
            source, old_key = self.projects[origin], f"{self.projects[origin].key}-{int(index.prev_number[position])}"
            previous_keys.append(old_key)
            histories.append(History(next(history_ids), drawn.reporter, from_ms(drawn.move[0]), [
                ChangeItem("project", str(source.id), source.name, str(project.id), project.name, field_id="project"),
                ChangeItem("Key", None, old_key, None, key)]))
        assignee = drawn.assignee
        resolution_date = None
        for at, source, target, new_assignee, author in drawn.transitions[:cut.happened]:
            items = [_STATUS_ITEMS[source, target]]
            if target >= _DONE and source < _DONE:
                resolution = "Done" if target == _DONE else "Won't Do"
                items.append(ChangeItem("resolution", None, None, RESOLUTIONS[resolution][0], resolution))
            elif source >= _DONE and target < _DONE:
                old = "Done" if source == _DONE else "Won't Do"
                items.append(ChangeItem("resolution", RESOLUTIONS[old][0], old, None, None))
            if new_assignee is not None:
                assignee = new_assignee
                user = self.users.get(new_assignee) or _user(new_assignee)
                items.append(ChangeItem("assignee", None, None, user.account_id, user.display_name,
                                        field_id="assignee"))
            history = History(next(history_ids), author, from_ms(at), items)
            histories.append(history)
            if target >= _DONE and source < _DONE:
                resolution_date = history.created
        status = cut.status
        if status < _DONE:
            resolution_date = None
        itype = TYPE_NAMES[drawn.itype]
        return JiraIssue(
            id=issue_id, key=key, project_key=project.key, issue_type=itype, summary=drawn.summary,
            status=STATUS_ORDER[status].name, priority=drawn.priority, labels=list(drawn.labels),
            created=from_ms(created), updated=from_ms(cut.updated), reporter=drawn.reporter, assignee=assignee,
            resolution=None if status < _DONE else "Done" if status == _DONE else "Won't Do",
            resolution_date=resolution_date, team=project.team,
            severity=SEVERITIES[drawn.severity - 1] if drawn.severity else None,
            environment=ENVIRONMENTS[drawn.environment - 1] if drawn.environment else None,
            fix_version_ids=self._fix_versions(int(index.project[position]), drawn, cut),
            histories=histories, previous_keys=previous_keys,
            deleted_at=None if cut.deleted == NEVER else from_ms(cut.deleted),
            description=f"{drawn.summary}.\n\nReported by {drawn.reporter}.",
        )

    def _fix_versions(self, project: int, drawn: _Sketch, cut: _Cut) -> list[int]:
        """Resolved-Done issues ship in the first version of their project shipping on/after resolution;
        some in-flight issues target the first version planned on/after work (re)started."""
        if not cut.happened:
            return []
        day = from_ms(drawn.transitions[cut.happened - 1][0]).date()
        if cut.status == _DONE and drawn.itype != 3 and drawn.fix_roll < 0.9:
            for version in self.versions_by_project[project]:
                ships = version.ship_date or version.planned_release_date
                if ships >= day and (version.ship_date is not None or version.planned_release_date >= day):
                    return [version.id]
        elif cut.status in (_PROGRESS, _REVIEW) and drawn.fix_roll < 0.5:
            for version in self.versions_by_project[project]:
                if version.planned_release_date >= day:
                    return [version.id]
        return []

    # -- time travel ---------------------------------------------------------------------

    def advance_one_day(self, site: JiraSite) -> None:
        index = site.index
        old_ms = site.anchor_ms
        new_ms = old_ms + DAY_MS
        day_index = site.days_advanced + 1
        rng = random.Random(f"{self.seed}:jira:advance:{day_index}")
        numbers = np.random.default_rng(_stable_int(f"{self.seed}:jira:advance:{day_index}"))
        # The day's new issues: weekday-weighted, per project share, working hours mostly.
        weekend = _weekday(old_ms) >= 5
        per_day = self.issues_total / max(self.day_weight_sum, 1e-9) * (0.12 if weekend else 1.0)
        fresh_created, fresh_origin = [], []
        for position, share in enumerate(self.share):
            count = int(numbers.poisson(per_day * share))
            working = numbers.random(count) < 0.9
            hours = np.where(working, numbers.uniform(8, 18, count), numbers.uniform(0, 24, count))
            fresh_created.append(old_ms + (hours * HOUR_MS).astype(np.int64))
            fresh_origin.append(np.full(count, position, dtype=np.int16))
        created = np.concatenate(fresh_created) if fresh_created else np.zeros(0, dtype=np.int64)
        origin = np.concatenate(fresh_origin) if fresh_origin else np.zeros(0, dtype=np.int16)
        order = np.lexsort((site.project_rank[origin] if len(origin) else origin, created))
        created, origin = created[order], origin[order]
        steps = np.array([rng.randint(1, 3) for _ in range(len(created))], dtype=np.int64)
        ids = int(index.ids[-1]) + np.cumsum(steps) if len(index.ids) else 10_000 + np.cumsum(steps)
        first_new = len(index)
        index.append(ids=ids, project=origin, origin=origin, number=np.zeros(len(ids)),
                     prev_number=np.zeros(len(ids)), itype=np.zeros(len(ids)), status=np.zeros(len(ids)),
                     severity=np.zeros(len(ids)), environment=np.zeros(len(ids)), created=created,
                     updated=created, deleted=np.full(len(ids), NEVER), next_event=np.zeros(len(ids)),
                     hist_len=np.zeros(len(ids)))
        changed = np.flatnonzero(index.next_event[:first_new] < new_ms)
        touched = np.concatenate([changed, np.arange(first_new, len(index))]).astype(np.int64)
        new_events: list[tuple[int, int, int, int]] = []  # (at, issue id, nth history, position)
        moves: list[tuple[int, int, int]] = []
        for position in touched.tolist():
            issue_id = int(index.ids[position])
            was_moved = bool(index.prev_number[position])
            drawn = self.sketch(issue_id, int(index.origin[position]), int(index.created[position]))
            cut = _Cut(drawn, int(index.created[position]), new_ms)
            before = 0 if position >= first_new else int(index.hist_len[position])
            for nth in range(before, len(cut.times)):
                new_events.append((cut.times[nth], issue_id, nth, position))
            if cut.moved and not was_moved:
                moves.append((drawn.move[0], position, drawn.move[1]))
            previous = _Cut(drawn, int(index.created[position]), old_ms) if position < first_new else None
            self.change_items += cut.items - (previous.items if previous else 0)
            index.itype[position], index.severity[position] = drawn.itype, drawn.severity
            index.environment[position], index.status[position] = drawn.environment, cut.status
            index.updated[position], index.deleted[position] = cut.updated, cut.deleted
            index.next_event[position], index.hist_len[position] = cut.next_event, len(cut.times)
        self._number_keys(index, np.arange(first_new, len(index)), moves)
        for at, _, _, position in sorted(new_events):
            self.extra_hist.setdefault(position, []).append(self.next_history_id)
            self.next_history_id += rng.randint(1, 4)
        site.anchor = from_ms(new_ms)
        self._extend_versions(site.versions, site.anchor.date(), project_major=False)

    def count_items(self, site: JiraSite) -> int:
        return self.change_items


def array_module(typecode: str):  # noqa: ANN201 - a tiny alias keeps the build loop readable
    from array import array
    return array(typecode)



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
    for issue in site.select(["Bug"], "production"):

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
