"""A simulated Jenkins controller: folders per team, a Pipeline job per repository.

Model
-----
`generate_jenkins(repositories, seed, anchor, days)` builds a `JenkinsSite`
from `random.Random(f"{seed}:jenkins")` only, so the same inputs give the same
site. Repositories of the teams in `GITLAB_TEAMS` (growth) build on GitLab and
have no Jenkins job; of the others about one in eight (never a team's only
one) has no job either (`JenkinsSite.unbuilt` lists them all).

A job builds every commit on the default branch inside the window with
probability 0.92 (started 20-300 s after the commit), plus a manual rebuild
after some failures. Results: SUCCESS, FAILURE (fails before the tests: no test
or coverage data), UNSTABLE (tests ran, `failCount > 0`), ABORTED (no data).
Every completed build ended before `anchor`; each job's newest build is still
running (`result: null`, `building: true`, `duration: 0`).

Coverage: SUCCESS and UNSTABLE builds archive one coverage report
(`simulator.ci_reports`; JaCoCo for Java/Kotlin, lcov for TypeScript,
Cobertura for Python/Go) at `/job/<team>/job/<repo>/<n>/artifact/<path>`, and
expose it through the **Coverage plugin** REST endpoint
`/job/<team>/job/<repo>/<n>/coverage/api/json` (`projectStatistics.line` is
the percentage with two decimals, `projectStatistics.loc` the line count; exact
counts are in the artifact).

HTTP
----
`JenkinsApi.handle(ApiRequest)` serves (paths without the `/jenkins` mount prefix):
`/api/json`, `/job/<folder>/api/json`, `/job/<folder>/job/<job>/api/json`,
`/job/.../<n|lastBuild|lastCompletedBuild|lastSuccessfulBuild|lastFailedBuild>/api/json`,
`/job/.../<n>/coverage/api/json`, `/job/.../<n>/artifact/<path>`.
`tree=` is Jenkins' selector: `a,b[c,d[e]]{m,n}` with `{m,n}` (from m inclusive
to n exclusive), `{m,}`, `{,n}` and `{n}`; selected objects always keep
`_class`; an object selected without sub-fields becomes `{"_class": ...}`.
Without `tree` the response is Jenkins' depth-0 shape; `depth>=1` expands
the `builds`/`allBuilds` entries to full runs. `builds` holds the newest 100
runs, `allBuilds` all of them (newest first). Auth: HTTP basic `user:token`.
"""

from __future__ import annotations

import base64
import json
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any, Callable
from urllib.parse import quote, unquote

from simulator.ci_reports import COVERAGE_PATHS, coverage_facts, coverage_report
from simulator.github_api import ApiRequest, ApiResponse
from simulator.model import Commit, Repository
from simulator.route_counts import RouteCounts
from simulator.truth import week_start

API_PREFIX = "/jenkins"
JENKINS_VERSION = "2.462.3"
GITLAB_TEAMS = ("growth",)  # teams whose repositories build on GitLab, not Jenkins
BUILDS_LIMIT = 100  # `builds` shows the newest 100 runs; `allBuilds` shows all

FOLDER_CLASS = "com.cloudbees.hudson.plugins.folder.Folder"
JOB_CLASS = "org.jenkinsci.plugins.workflow.job.WorkflowJob"
RUN_CLASS = "org.jenkinsci.plugins.workflow.job.WorkflowRun"
ROOT_CLASS = "hudson.model.Hudson"
COVERAGE_API_CLASS = "io.jenkins.plugins.coverage.metrics.restapi.CoverageApi"
FORMAT_BY_LANGUAGE = {"Java": "jacoco", "Kotlin": "jacoco", "TypeScript": "lcov", "Python": "cobertura",
                      "Go": "cobertura"}
EXTENSION = {"Java": "java", "Kotlin": "kt", "TypeScript": "ts", "Python": "py", "Go": "go"}


# -- model --------------------------------------------------------------------------


@dataclass
class JenkinsCoverage:
    fmt: str
    files: tuple[tuple[str, int], ...]  # (path, statements)
    line_rate: float  # the rate asked for; the encoded truth is `facts`
    seed: str  # `random.Random(seed)` renders the report

    @property
    def artifact_path(self) -> str:
        return COVERAGE_PATHS[self.fmt]

    @cached_property
    def facts(self) -> dict[str, Any]:
        return coverage_facts(random.Random(self.seed), dict(self.files), self.line_rate, self.fmt)

    def render(self, generated_at: datetime) -> bytes:
        return coverage_report(self.fmt, random.Random(self.seed), dict(self.files), self.line_rate,
                               generated_at=generated_at)[0]


@dataclass
class JenkinsBuild:
    number: int
    result: str | None  # SUCCESS, FAILURE, UNSTABLE, ABORTED; None while building
    started_at: datetime
    duration_ms: int  # 0 while building, like Jenkins
    estimated_duration_ms: int
    sha: str
    branch: str
    cause: str  # "scm" or "user"
    queue_id: int
    changes: list[Commit] = field(default_factory=list)  # commits new since the previous build
    fail_count: int | None = None  # test counts; None when no tests ran
    skip_count: int | None = None
    total_count: int | None = None
    coverage: JenkinsCoverage | None = None
    user: str | None = None  # who started a manual rebuild

    @property
    def building(self) -> bool:
        return self.result is None

    @property
    def timestamp_ms(self) -> int:
        return int(self.started_at.timestamp() * 1000)

    @property
    def finished_at(self) -> datetime | None:
        return None if self.building else self.started_at + timedelta(milliseconds=self.duration_ms)


@dataclass
class JenkinsJob:
    name: str  # the repository name
    folder: str  # the team
    repo: str  # full name of the repository
    builds: list[JenkinsBuild]  # oldest first, numbered 1..n
    remote_url: str = ""

    def build(self, number: int) -> JenkinsBuild | None:
        return self.builds[number - 1] if 1 <= number <= len(self.builds) else None


@dataclass
class JenkinsFolder:
    name: str
    jobs: list[JenkinsJob]


@dataclass
class JenkinsSite:
    folders: list[JenkinsFolder]
    anchor: datetime
    seed: int
    days: int
    unbuilt: list[str]  # full names of repositories without a Jenkins job
    # The simulated repositories (shared with the Org), so `advance` builds the commits they gain.
    repositories: dict[str, Repository] = field(default_factory=dict, repr=False, compare=False)
    days_advanced: int = 0  # days `advance` has moved the anchor since generation (seeds its RNG)

    def advance(self, days: int = 1) -> JenkinsSite:
        """Move the clock `days` days: running builds finish, new default-branch commits get built.

        New builds continue each job's numbering; the window start stays put (`days` grows), so
        `jenkins_build_facts` keeps every build. Day n draws from `Random(f"{seed}:jenkins:advance:{n}")`:
        the same seed and the same sequence of advances give the same site.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        for _ in range(days):
            _advance_one_day(self)
        return self

    def all_jobs(self) -> list[JenkinsJob]:
        return [job for folder in self.folders for job in folder.jobs]

    def folder(self, name: str) -> JenkinsFolder | None:
        return next((folder for folder in self.folders if folder.name == name), None)

    def job(self, folder: str, name: str) -> JenkinsJob | None:
        found = self.folder(folder)
        return None if found is None else next((job for job in found.jobs if job.name == name), None)


# -- generation ---------------------------------------------------------------------


def generate_jenkins(repositories: list[Repository], seed: int, anchor: datetime, days: int, *,
                     exclude_teams: tuple[str, ...] = GITLAB_TEAMS) -> JenkinsSite:
    anchor = anchor.astimezone(UTC) if anchor.tzinfo else anchor.replace(tzinfo=UTC)
    rng = random.Random(f"{seed}:jenkins")
    start = anchor - timedelta(days=days)
    by_team: dict[str, list[Repository]] = {}
    for repo in sorted(repositories, key=lambda r: (r.team, r.name)):
        by_team.setdefault(repo.team, []).append(repo)
    folders, unbuilt = [], []
    queue_ids = iter(range(1, 10_000_000))
    for team, repos in by_team.items():
        if team in exclude_teams:
            unbuilt += [repo.full_name for repo in repos]
            continue
        skip = {repo.full_name for repo in repos if len(repos) > 1 and rng.random() < 0.125}
        if len(skip) == len(repos):
            skip.discard(repos[0].full_name)
        jobs = []
        for repo in repos:
            if repo.full_name in skip:
                unbuilt.append(repo.full_name)
                continue
            jobs.append(_job(rng, repo, start, anchor, queue_ids, seed))
        if jobs:
            folders.append(JenkinsFolder(team, jobs))
    return JenkinsSite(folders, anchor, seed, days, sorted(unbuilt),
                       repositories={repo.full_name: repo for repo in repositories})


def _files(rng: random.Random, repo: Repository) -> dict[str, int]:
    ext = EXTENSION.get(repo.language or "", "py")
    root = {"java": "src/main/java/com/acme", "kt": "src/main/kotlin/com/acme", "ts": "src",
            "py": repo.name.replace("-", "_"), "go": "internal"}[ext]
    packages = rng.sample(("api", "core", "storage", "handlers", "model", "util", "client", "jobs"), rng.randint(2, 4))
    words = ("service", "router", "config", "mapper", "cache", "retry", "metrics", "parser", "validator",
             "worker", "store", "auth")
    files = set()
    for _ in range(rng.randint(8, 18)):
        files.add(f"{root}/{rng.choice(packages)}/{rng.choice(words)}.{ext}")
    return {path: rng.randint(15, 140) for path in sorted(files)}


def _job(rng: random.Random, repo: Repository, start: datetime, anchor: datetime, queue_ids, seed: int) -> JenkinsJob:
    fmt = FORMAT_BY_LANGUAGE.get(repo.language or "", "cobertura")
    files = _files(rng, repo)
    base_duration = rng.uniform(180, 720)  # seconds
    failure_rate = rng.uniform(0.05, 0.18)
    line_rate = rng.uniform(0.55, 0.88)
    tests = rng.randint(150, 1500)
    cutoff = anchor - timedelta(hours=2)
    triggers: list[tuple[datetime, Commit, str]] = []
    for commit in repo.commits:
        if start <= commit.committed_at < cutoff and rng.random() < 0.92:
            triggers.append((commit.committed_at + timedelta(seconds=rng.randint(20, 300)), commit, "scm"))
    triggers.sort(key=lambda item: item[0])
    builds: list[JenkinsBuild] = []
    seen_index = {commit.sha: index for index, commit in enumerate(repo.commits)}
    last_index = None
    planned = list(triggers)
    position = 0
    while position < len(planned):
        started, commit, cause = planned[position]
        position += 1
        number = len(builds) + 1
        roll = rng.random()
        result = ("FAILURE" if roll < failure_rate else "UNSTABLE" if roll < failure_rate + 0.06
                  else "ABORTED" if roll < failure_rate + 0.08 else "SUCCESS")
        duration = base_duration * rng.lognormvariate(0, 0.25)
        if result == "FAILURE":
            duration *= rng.uniform(0.2, 0.6)
        elif result == "ABORTED":
            duration *= rng.uniform(0.1, 0.8)
        index = seen_index[commit.sha]
        changes = [] if cause == "user" else repo.commits[(last_index + 1 if last_index is not None else index):index + 1][-20:]
        last_index = index if cause == "scm" else last_index
        build = JenkinsBuild(number=number, result=result, started_at=started.replace(microsecond=0),
                             duration_ms=int(duration * 1000), estimated_duration_ms=int(base_duration * 1000),
                             sha=commit.sha, branch=repo.default_branch, cause=cause, queue_id=next(queue_ids),
                             changes=changes, user=commit.author if cause == "user" else None)
        tests += rng.choice((0, 0, 0, 1, 2, 3))
        line_rate = min(max(line_rate + rng.uniform(-0.01, 0.011), 0.3), 0.97)
        if rng.random() < 0.1:  # the code base grows now and then
            grown = rng.choice(sorted(files))
            files[grown] += rng.randint(1, 12)
        if result in ("SUCCESS", "UNSTABLE"):
            build.total_count = tests
            build.skip_count = rng.randint(0, 6)
            build.fail_count = rng.randint(1, 6) if result == "UNSTABLE" else 0
            build.coverage = JenkinsCoverage(fmt, tuple(files.items()), round(line_rate, 4),
                                             f"{seed}:jenkins:{repo.full_name}:{number}")
        builds.append(build)
        if result == "FAILURE" and rng.random() < 0.3:
            retry_at = started + timedelta(minutes=rng.uniform(10, 60))
            if retry_at < cutoff:
                planned.insert(position, (retry_at, commit, "user"))
                planned[position:] = sorted(planned[position:], key=lambda item: item[0])
    # The newest build is still running at the anchor.
    newest = repo.commits[-1] if repo.commits else None
    if newest is not None:
        running_for = rng.uniform(30, base_duration * 0.8)
        index = seen_index[newest.sha]
        builds.append(JenkinsBuild(
            number=len(builds) + 1, result=None,
            started_at=(anchor - timedelta(seconds=running_for)).replace(microsecond=0),
            duration_ms=0, estimated_duration_ms=int(base_duration * 1000), sha=newest.sha,
            branch=repo.default_branch, cause="scm", queue_id=next(queue_ids),
            changes=repo.commits[(last_index + 1 if last_index is not None else index):index + 1][-20:]))
    return JenkinsJob(repo.name, repo.team, repo.full_name, builds,
                      remote_url=f"https://github.com/{repo.full_name}.git")


# -- time travel --------------------------------------------------------------------


def _advance_one_day(site: JenkinsSite) -> None:
    day = site.days_advanced + 1
    start, end = site.anchor, site.anchor + timedelta(days=1)
    rng = random.Random(f"{site.seed}:jenkins:advance:{day}")
    queue_ids = iter(range(max((b.queue_id for job in site.all_jobs() for b in job.builds), default=0) + 1,
                           10**12))
    for job in site.all_jobs():
        _advance_job(site, job, site.repositories.get(job.repo), rng, start, end, queue_ids)
    site.anchor = end
    site.days += 1  # the window start stays where it was
    site.days_advanced = day


def _advance_job(site: JenkinsSite, job: JenkinsJob, repo: Repository | None, rng: random.Random,
                 start: datetime, end: datetime, queue_ids) -> None:
    base_duration = (job.builds[-1].estimated_duration_ms / 1000) if job.builds else 300.0
    failure_rate = random.Random(f"{site.seed}:jenkins:rate:{job.repo}").uniform(0.05, 0.18)
    covered = next((b for b in reversed(job.builds) if b.coverage is not None), None)
    if covered is not None:
        fmt, files, line_rate = covered.coverage.fmt, dict(covered.coverage.files), covered.coverage.line_rate
    else:
        fmt = FORMAT_BY_LANGUAGE.get(repo.language or "", "cobertura") if repo else "cobertura"
        files = _files(random.Random(f"{site.seed}:jenkins:files:{job.repo}"), repo) if repo else {"src/main.py": 50}
        line_rate = 0.7
    tests = next((b.total_count for b in reversed(job.builds) if b.total_count is not None), 300)
    state = {"tests": tests, "line_rate": line_rate}

    def complete(build: JenkinsBuild, earliest_end: datetime) -> None:
        roll = rng.random()
        result = ("FAILURE" if roll < failure_rate else "UNSTABLE" if roll < failure_rate + 0.06
                  else "ABORTED" if roll < failure_rate + 0.08 else "SUCCESS")
        duration = base_duration * rng.lognormvariate(0, 0.25)
        if result == "FAILURE":
            duration *= rng.uniform(0.2, 0.6)
        elif result == "ABORTED":
            duration *= rng.uniform(0.1, 0.8)
        if earliest_end > build.started_at:  # it was already running before the day began
            duration = max(duration, (earliest_end - build.started_at).total_seconds() + rng.uniform(5, 300))
        if build.started_at + timedelta(seconds=duration) >= end:
            return  # still running at the new anchor
        build.result, build.duration_ms = result, int(duration * 1000)
        state["tests"] += rng.choice((0, 0, 0, 1, 2, 3))
        state["line_rate"] = min(max(state["line_rate"] + rng.uniform(-0.01, 0.011), 0.3), 0.97)
        if rng.random() < 0.1:
            grown = rng.choice(sorted(files))
            files[grown] += rng.randint(1, 12)
        if result in ("SUCCESS", "UNSTABLE"):
            build.total_count = state["tests"]
            build.skip_count = rng.randint(0, 6)
            build.fail_count = rng.randint(1, 6) if result == "UNSTABLE" else 0
            build.coverage = JenkinsCoverage(fmt, tuple(files.items()), round(state["line_rate"], 4),
                                             f"{site.seed}:jenkins:{job.repo}:{build.number}")

    # Builds running at the old anchor finish during the day.
    for build in job.builds:
        if build.building:
            complete(build, start)
    if repo is None:
        return
    index_of = {commit.sha: index for index, commit in enumerate(repo.commits)}
    built = {build.sha for build in job.builds}
    last_scm = next((b for b in reversed(job.builds) if b.cause == "scm" and b.sha in index_of), None)
    last_index = index_of[last_scm.sha] if last_scm else None
    cutoff_low, cutoff_high = start - timedelta(hours=2), end - timedelta(hours=2)
    planned: list[tuple[datetime, Commit, str]] = []
    for commit in repo.commits:
        if cutoff_low <= commit.committed_at < cutoff_high and commit.sha not in built and rng.random() < 0.92:
            started = max(commit.committed_at + timedelta(seconds=rng.randint(20, 300)), start)
            planned.append((started.replace(microsecond=0), commit, "scm"))
    # The newest commit of the day is being built at the new anchor, as at generation.
    todays = [commit for commit in repo.commits if start <= commit.committed_at < end]
    if todays and todays[-1].sha not in built and all(todays[-1] is not item[1] for item in planned):
        newest = todays[-1]
        started = max(end - timedelta(seconds=rng.uniform(30, base_duration * 0.8)),
                      newest.committed_at + timedelta(seconds=20))
        if started < end:
            planned.append((started.replace(microsecond=0), newest, "scm"))
    planned.sort(key=lambda item: (item[0], item[2]))
    position = 0
    while position < len(planned):
        started, commit, cause = planned[position]
        position += 1
        index = index_of[commit.sha]
        changes = [] if cause == "user" else \
            repo.commits[(last_index + 1 if last_index is not None else index):index + 1][-20:]
        if cause == "scm":
            last_index = index
        build = JenkinsBuild(number=len(job.builds) + 1, result=None, started_at=started, duration_ms=0,
                             estimated_duration_ms=int(base_duration * 1000), sha=commit.sha,
                             branch=repo.default_branch, cause=cause, queue_id=next(queue_ids), changes=changes,
                             user=commit.author if cause == "user" else None)
        job.builds.append(build)
        complete(build, started)
        if build.result == "FAILURE" and rng.random() < 0.3:
            retry_at = (started + timedelta(minutes=rng.uniform(10, 60))).replace(microsecond=0)
            if retry_at < cutoff_high:
                planned.insert(position, (retry_at, commit, "user"))
                planned[position:] = sorted(planned[position:], key=lambda item: (item[0], item[2]))


# -- truth --------------------------------------------------------------------------


def jenkins_build_facts(site: JenkinsSite) -> list[dict[str, Any]]:
    """Weekly build facts per Jenkins job, from the model (never from the API).

    One row per (job, week) for every ISO week (Monday, UTC) from the week of
    `anchor - days` to the week of `anchor`, zero-filled, sorted by
    (repo, week_start). A build belongs to the week of its start `timestamp`.

    * `builds`: builds started that week, including a running one;
    * `completed_builds`: those with a result; `successes`, `failures`
      (FAILURE), `unstable` (UNSTABLE), `aborted` (ABORTED) split them;
    * `median_duration_ms`: `statistics.median` of `duration` over completed
      builds (ABORTED included), `None` without any;
    * `tests_total`, `tests_failed`: sums of `totalCount`/`failCount` over builds
      with a test result action;
    * `latest_coverage_build`, `lines_covered`, `lines_valid`, `line_rate`: from
      the archived report of the newest build (highest number) started that week
      that has one (SUCCESS/UNSTABLE), `line_rate = lines_covered / lines_valid`;
      `None` for all four when there is none.
    """
    first = week_start(site.anchor - timedelta(days=site.days))
    weeks = []
    week = first
    while week <= week_start(site.anchor):
        weeks.append(week)
        week += timedelta(days=7)
    rows = []
    for job in sorted(site.all_jobs(), key=lambda j: j.repo):
        by_week: dict[date, list[JenkinsBuild]] = {}
        for build in job.builds:
            by_week.setdefault(week_start(build.started_at), []).append(build)
        for week in weeks:
            builds = by_week.get(week, [])
            completed = [b for b in builds if b.result is not None]
            covered = [b for b in builds if b.coverage is not None]
            latest = max(covered, key=lambda b: b.number) if covered else None
            facts = latest.coverage.facts if latest else None
            results = Counter(b.result for b in completed)
            rows.append({
                "repo": job.repo, "folder": job.folder, "job": job.name, "week_start": week,
                "builds": len(builds), "completed_builds": len(completed),
                "successes": results["SUCCESS"], "failures": results["FAILURE"],
                "unstable": results["UNSTABLE"], "aborted": results["ABORTED"],
                "median_duration_ms": statistics.median(b.duration_ms for b in completed) if completed else None,
                "tests_total": sum(b.total_count or 0 for b in builds),
                "tests_failed": sum(b.fail_count or 0 for b in builds),
                "latest_coverage_build": latest.number if latest else None,
                "lines_covered": facts["lines_covered"] if facts else None,
                "lines_valid": facts["lines_valid"] if facts else None,
                "line_rate": facts["line_rate"] if facts else None,
            })
    return rows


# -- tree selector ------------------------------------------------------------------


@dataclass
class TreeNode:
    name: str
    children: list[TreeNode] | None = None
    start: int | None = None  # range: [start, end)
    end: int | None = None


class TreeSyntaxError(ValueError):
    pass


def parse_tree(text: str) -> list[TreeNode]:
    """Parse Jenkins' `tree` parameter, e.g. `jobs[name,builds[number]{0,5}]`."""
    nodes, position = _parse_list(text, 0)
    if position != len(text):
        raise TreeSyntaxError(f"unexpected {text[position]!r} at {position} in tree {text!r}")
    return nodes


def _parse_list(text: str, position: int) -> tuple[list[TreeNode], int]:
    nodes = []
    while True:
        begin = position
        while position < len(text) and (text[position].isalnum() or text[position] in "_$-"):
            position += 1
        name = text[begin:position].strip()
        if not name:
            raise TreeSyntaxError(f"expected a field name at {begin} in tree {text!r}")
        node = TreeNode(name)
        if position < len(text) and text[position] == "[":
            node.children, position = _parse_list(text, position + 1)
            if position >= len(text) or text[position] != "]":
                raise TreeSyntaxError(f"unclosed '[' in tree {text!r}")
            position += 1
        if position < len(text) and text[position] == "{":
            close = text.find("}", position)
            if close < 0:
                raise TreeSyntaxError(f"unclosed '{{' in tree {text!r}")
            node.start, node.end = _parse_range(text[position + 1:close])
            position = close + 1
        nodes.append(node)
        if position < len(text) and text[position] == ",":
            position += 1
            continue
        return nodes, position


def _parse_range(spec: str) -> tuple[int | None, int | None]:
    try:
        if "," not in spec:
            single = int(spec)
            return single, single + 1
        low, high = spec.split(",", 1)
        return (int(low) if low.strip() else None), (int(high) if high.strip() else None)
    except ValueError:
        raise TreeSyntaxError(f"bad range {{{spec}}}") from None


def _resolve(value: Any) -> Any:
    return value() if callable(value) else value


def select(value: Any, nodes: list[TreeNode]) -> Any:
    """Apply parsed tree `nodes` to a document whose values may be zero-argument thunks."""
    value = _resolve(value)
    if isinstance(value, list):
        return [select(item, nodes) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    if "_class" in value:
        out["_class"] = value["_class"]
    for node in nodes:
        if node.name not in value:
            continue
        out[node.name] = _apply(_resolve(value[node.name]), node)
    return out


def _apply(value: Any, node: TreeNode) -> Any:
    if isinstance(value, list):
        if node.start is not None or node.end is not None:
            value = value[node.start:node.end]
        return [_apply_item(_resolve(item), node) for item in value]
    return _apply_item(value, node)


def _apply_item(value: Any, node: TreeNode) -> Any:
    if isinstance(value, dict):
        if node.children:
            return select(value, node.children)
        return {"_class": value["_class"]} if "_class" in value else {}
    if isinstance(value, list):
        return [_apply_item(_resolve(item), node) for item in value]
    return value


_DEFAULT_TREES = {  # depth=0 field sets, as a real controller shows them
    ROOT_CLASS: "assignedLabels[name],mode,nodeDescription,nodeName,numExecutors,description,jobs[name,url,color],"
                "overallLoad,primaryView[name,url],quietingDown,slaveAgentPort,unlabeledLoad,useCrumbs,"
                "useSecurity,views[name,url]",
    FOLDER_CLASS: "actions,description,displayName,displayNameOrNull,fullDisplayName,fullName,name,url,"
                  "healthReport[description,iconClassName,iconUrl,score],jobs[name,url,color],"
                  "primaryView[name,url],views[name,url]",
    JOB_CLASS: "actions,description,displayName,displayNameOrNull,fullDisplayName,fullName,name,url,buildable,"
               "builds[number,url],color,firstBuild[number,url],"
               "healthReport[description,iconClassName,iconUrl,score],inQueue,keepDependencies,"
               "lastBuild[number,url],lastCompletedBuild[number,url],lastFailedBuild[number,url],"
               "lastStableBuild[number,url],lastSuccessfulBuild[number,url],lastUnstableBuild[number,url],"
               "lastUnsuccessfulBuild[number,url],nextBuildNumber,property,queueItem,concurrentBuild,"
               "resumeBlocked",
}


# -- HTTP ---------------------------------------------------------------------------


class JenkinsApi:
    """Serves one JenkinsSite. Thread-safe: the site is read-only, counters are locked."""

    def __init__(self, site: JenkinsSite, *, user: str = "sim", token: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.site = site
        self.user = user
        self.token = token
        self.clock = clock
        self.counts = RouteCounts("jenkins")
        self._defaults = {cls: parse_tree(tree) for cls, tree in _DEFAULT_TREES.items()}

    @property
    def request_count(self) -> int:
        return self.counts.total

    def stats(self) -> dict[str, Any]:
        return self.counts.stats()

    def _count(self, method: str, route: str) -> None:
        self.counts.add(method, route)

    def handle(self, request: ApiRequest) -> ApiResponse:
        try:
            route, target, rest = self._route(request.path)
        except _NotFound:
            route, target, rest = "<unmatched>", None, []
        self._count(request.method, route)
        if not self._authorised(request.headers.get("authorization", "")):
            return ApiResponse(401, b"Invalid password/token for user: " + self.user.encode() + b"\n",
                               [("Content-Type", "text/plain;charset=utf-8"),
                                ("WWW-Authenticate", 'Basic realm="Jenkins"'), ("X-Jenkins", JENKINS_VERSION)])
        if request.method not in ("GET", "HEAD") or route == "<unmatched>":
            return _not_found()
        base = request.base_url + API_PREFIX
        try:
            if route == "artifact":
                job, build = target
                if build.coverage is None or "/".join(rest) != build.coverage.artifact_path:
                    return _not_found()
                body = build.coverage.render(build.finished_at or build.started_at)
                content_type = "application/json" if body[:1] == b"{" else (
                    "application/xml" if body[:1] == b"<" else "text/plain;charset=utf-8")
                return ApiResponse(200, body, [("Content-Type", content_type), ("X-Jenkins", JENKINS_VERSION)])
            if route == "coverage":
                job, build = target
                if build.coverage is None:
                    return _not_found()
                document: Any = self._coverage_json(job, build, base)
                default_tree = None
            elif route == "root":
                document, default_tree = self._root_json(base), self._defaults[ROOT_CLASS]
            elif route == "folder":
                document, default_tree = self._folder_json(target, base), self._defaults[FOLDER_CLASS]
            elif route == "job":
                expand = _int(request.param("depth"), 0) >= 1
                document, default_tree = self._job_json(target, base, expand), self._defaults[JOB_CLASS]
            else:  # build
                job, build = target
                document, default_tree = self._build_json(job, build, base), None
            tree = request.param("tree")
            if tree:
                body_value = select(document, parse_tree(tree))
            elif default_tree is not None and _int(request.param("depth"), 0) < 1:
                body_value = select(document, default_tree)
            else:
                body_value = select(document, _all_fields(document))
        except TreeSyntaxError as problem:
            return ApiResponse(400, f"Malformed tree expression: {problem}\n".encode(),
                               [("Content-Type", "text/plain;charset=utf-8"), ("X-Jenkins", JENKINS_VERSION)])
        body = json.dumps(body_value, separators=(",", ":")).encode()
        return ApiResponse(200, body, [("Content-Type", "application/json;charset=utf-8"),
                                       ("X-Jenkins", JENKINS_VERSION)])

    def _authorised(self, header: str) -> bool:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return False
        return decoded == f"{self.user}:{self.token}"

    def _route(self, path: str) -> tuple[str, Any, list[str]]:
        parts = [unquote(part) for part in path.strip("/").split("/")] if path.strip("/") else []
        names = []
        while len(parts) >= 2 and parts[0] == "job":
            names.append(parts[1])
            parts = parts[2:]
        if not names:
            if parts == ["api", "json"]:
                return "root", None, []
            raise _NotFound
        if len(names) == 1:
            folder = self.site.folder(names[0])
            if folder is None or parts != ["api", "json"]:
                raise _NotFound
            return "folder", folder, []
        if len(names) != 2:
            raise _NotFound
        job = self.site.job(names[0], names[1])
        if job is None:
            raise _NotFound
        if parts == ["api", "json"]:
            return "job", job, []
        if not parts:
            raise _NotFound
        build = _permalink(job, parts[0])
        if build is None:
            raise _NotFound
        rest = parts[1:]
        if rest == ["api", "json"]:
            return "build", (job, build), []
        if rest == ["coverage", "api", "json"]:
            return "coverage", (job, build), []
        if len(rest) >= 2 and rest[0] == "artifact":
            return "artifact", (job, build), rest[1:]
        raise _NotFound

    # -- documents (values may be thunks, resolved only when selected) --------------

    def _root_json(self, base: str) -> dict[str, Any]:
        return {
            "_class": ROOT_CLASS, "assignedLabels": [{"_class": "hudson.model.labels.LabelAtom", "name": "built-in"}],
            "mode": "NORMAL", "nodeDescription": "the Jenkins controller's built-in node", "nodeName": "",
            "numExecutors": 0, "description": None,
            "jobs": [(lambda f=folder: self._folder_json(f, base)) for folder in self.site.folders],
            "overallLoad": {}, "primaryView": {"_class": "hudson.model.AllView", "name": "all", "url": f"{base}/"},
            "quietingDown": False, "slaveAgentPort": 50000, "unlabeledLoad": {"_class": "jenkins.model.UnlabeledLoadStatistics"},
            "useCrumbs": True, "useSecurity": True,
            "views": [{"_class": "hudson.model.AllView", "name": "all", "url": f"{base}/"}],
        }

    def _folder_json(self, folder: JenkinsFolder, base: str) -> dict[str, Any]:
        url = f"{base}/job/{quote(folder.name)}/"
        return {
            "_class": FOLDER_CLASS, "actions": [{}, {"_class": "com.cloudbees.plugins.credentials.ViewCredentialsAction"}],
            "description": f"Pipelines of the {folder.name} team", "displayName": folder.name,
            "displayNameOrNull": None, "fullDisplayName": folder.name, "fullName": folder.name,
            "name": folder.name, "url": url,
            "healthReport": [{"description": "Projects enabled for building: "
                              f"{len(folder.jobs)} of {len(folder.jobs)}", "iconClassName": "icon-health-80plus",
                              "iconUrl": "health-80plus.png", "score": 100}],
            "jobs": [(lambda j=job: self._job_json(j, base, False)) for job in folder.jobs],
            "primaryView": {"_class": "hudson.model.AllView", "name": "All", "url": url},
            "views": [{"_class": "hudson.model.AllView", "name": "All", "url": url}],
        }

    def _job_url(self, job: JenkinsJob, base: str) -> str:
        return f"{base}/job/{quote(job.folder)}/job/{quote(job.name)}/"

    def _job_json(self, job: JenkinsJob, base: str, expand: bool) -> dict[str, Any]:
        url = self._job_url(job, base)
        newest_first = job.builds[::-1]

        def run(build: JenkinsBuild | None) -> Any:
            if build is None:
                return None
            return lambda: self._build_json(job, build, base)

        def last(predicate: Callable[[JenkinsBuild], bool]) -> Any:
            return run(next((b for b in newest_first if predicate(b)), None))

        latest = newest_first[0] if newest_first else None
        completed = [b for b in newest_first if not b.building]
        recent = completed[:5]
        failed_recent = sum(1 for b in recent if b.result not in ("SUCCESS", None))
        score = 100 - 20 * failed_recent
        return {
            "_class": JOB_CLASS,
            "actions": [{}, {"_class": "org.jenkinsci.plugins.displayurlapi.actions.JobDisplayAction"},
                        {"_class": "com.cloudbees.plugins.credentials.ViewCredentialsAction"}],
            "description": f"CI for {job.repo}", "displayName": job.name, "displayNameOrNull": None,
            "fullDisplayName": f"{job.folder} » {job.name}", "fullName": f"{job.folder}/{job.name}",
            "name": job.name, "url": url, "buildable": True,
            "builds": [run(b) for b in newest_first[:BUILDS_LIMIT]],
            "allBuilds": [run(b) for b in newest_first],
            "color": _color(completed[0].result if completed else None) + ("_anime" if latest and latest.building else ""),
            "firstBuild": run(job.builds[0] if job.builds else None),
            "healthReport": [{"description": f"Build stability: {failed_recent} out of the last {len(recent)} "
                                             "builds failed.",
                              "iconClassName": f"icon-health-{_health_icon(score)}",
                              "iconUrl": f"health-{_health_icon(score)}.png", "score": score}],
            "inQueue": False, "keepDependencies": False,
            "lastBuild": run(latest),
            "lastCompletedBuild": last(lambda b: not b.building),
            "lastFailedBuild": last(lambda b: b.result == "FAILURE"),
            "lastStableBuild": last(lambda b: b.result == "SUCCESS"),
            "lastSuccessfulBuild": last(lambda b: b.result in ("SUCCESS", "UNSTABLE")),
            "lastUnstableBuild": last(lambda b: b.result == "UNSTABLE"),
            "lastUnsuccessfulBuild": last(lambda b: b.result not in ("SUCCESS", None)),
            "nextBuildNumber": len(job.builds) + 1,
            "property": [{"_class": "org.jenkinsci.plugins.workflow.job.properties.PipelineTriggersJobProperty",
                          "triggers": [{}]}],
            "queueItem": None, "concurrentBuild": False, "resumeBlocked": False,
        }

    def _build_json(self, job: JenkinsJob, build: JenkinsBuild, base: str) -> dict[str, Any]:
        url = f"{self._job_url(job, base)}{build.number}/"
        branch_ref = f"refs/remotes/origin/{build.branch}"
        revision = {"SHA1": build.sha, "branch": [{"SHA1": build.sha, "name": branch_ref}]}
        if build.cause == "user":
            cause = {"_class": "hudson.model.Cause$UserIdCause", "shortDescription": f"Started by user {build.user}",
                     "userId": build.user, "userName": build.user}
        else:
            cause = {"_class": "hudson.triggers.SCMTrigger$SCMTriggerCause",
                     "shortDescription": "Started by an SCM change"}
        actions: list[dict[str, Any]] = [
            {"_class": "hudson.model.CauseAction", "causes": [cause]},
            {"_class": "hudson.plugins.git.util.BuildData",
             "buildsByBranchName": {branch_ref: {"_class": "hudson.plugins.git.util.Build", "buildNumber": build.number,
                                                 "buildResult": None, "marked": revision, "revision": revision}},
             "lastBuiltRevision": revision, "remoteUrls": [job.remote_url], "scmName": ""},
        ]
        if build.total_count is not None:
            actions.append({"_class": "hudson.tasks.junit.TestResultAction", "failCount": build.fail_count,
                            "skipCount": build.skip_count, "totalCount": build.total_count, "urlName": "testReport"})
        if build.coverage is not None:
            actions.append({"_class": "io.jenkins.plugins.coverage.metrics.steps.CoverageBuildAction"})
        actions.append({"_class": "org.jenkinsci.plugins.workflow.job.views.FlowGraphAction"})
        artifacts = []
        if build.coverage is not None:
            path = build.coverage.artifact_path
            artifacts.append({"displayPath": path.rsplit("/", 1)[-1], "fileName": path.rsplit("/", 1)[-1],
                              "relativePath": path})
        previous = job.build(build.number - 1)
        following = job.build(build.number + 1)
        items = [{
            "_class": "hudson.plugins.git.GitChangeSet", "affectedPaths": ["README.md"],
            "commitId": commit.sha, "timestamp": int(commit.committed_at.timestamp() * 1000),
            "author": {"absoluteUrl": f"{base}/user/{commit.author}", "fullName": commit.author},
            "authorEmail": f"{commit.author}@users.noreply.example.com",
            "comment": (commit.message or "Update") + "\n",
            "date": commit.committed_at.strftime("%Y-%m-%d %H:%M:%S +0000"),
            "id": commit.sha, "msg": (commit.message or "Update").splitlines()[0],
            "paths": [{"editType": "edit", "file": "README.md"}],
        } for commit in build.changes]
        culprits = sorted({commit.author for commit in build.changes})
        return {
            "_class": RUN_CLASS, "actions": actions, "artifacts": artifacts, "building": build.building,
            "description": None, "displayName": f"#{build.number}", "duration": build.duration_ms,
            "estimatedDuration": build.estimated_duration_ms, "executor": {} if build.building else None,
            "fullDisplayName": f"{job.folder} » {job.name} #{build.number}", "id": str(build.number),
            "keepLog": False, "number": build.number, "queueId": build.queue_id, "result": build.result,
            "timestamp": build.timestamp_ms, "url": url, "builtOn": "",
            "changeSets": [{"_class": "hudson.plugins.git.GitChangeSetList", "items": items, "kind": "git"}]
            if items else [],
            "culprits": [{"absoluteUrl": f"{base}/user/{name}", "fullName": name} for name in culprits],
            "inProgress": build.building,
            "nextBuild": None if following is None else {"number": following.number,
                                                          "url": f"{self._job_url(job, base)}{following.number}/"},
            "previousBuild": None if previous is None else {"number": previous.number,
                                                            "url": f"{self._job_url(job, base)}{previous.number}/"},
        }

    def _coverage_json(self, job: JenkinsJob, build: JenkinsBuild, base: str) -> dict[str, Any]:
        facts = build.coverage.facts
        reference = next((b for b in reversed(job.builds[:build.number - 1]) if b.coverage is not None), None)
        statistics_ = {"line": f"{100 * facts['line_rate']:.2f}%", "loc": str(facts["lines_valid"]),
                       "file": f"{100 * sum(1 for f in facts['files'].values() if f['lines_covered']) / max(len(facts['files']), 1):.2f}%",
                       "module": "100.00%"}
        delta = {}
        if reference is not None:
            delta = {"line": f"{100 * (facts['line_rate'] - reference.coverage.facts['line_rate']):+.2f}%",
                     "loc": f"{facts['lines_valid'] - reference.coverage.facts['lines_valid']:+d}"}
        return {
            "_class": COVERAGE_API_CLASS, "modifiedFilesDelta": {}, "modifiedFilesStatistics": {},
            "modifiedLinesDelta": {}, "modifiedLinesStatistics": {}, "projectDelta": delta,
            "projectStatistics": statistics_, "qualityGates": {"overallResult": "INACTIVE", "resultItems": []},
            "referenceBuild": "-" if reference is None else
            f'<a href="{self._job_url(job, base)}{reference.number}/" class="model-link inside">'
            f"{job.folder} » {job.name} #{reference.number}</a>",
        }


class _NotFound(Exception):
    pass


def _all_fields(document: dict[str, Any]) -> list[TreeNode]:
    """A tree selecting everything (depth >= 1): nested objects keep all their fields."""
    def nodes_for(value: Any, depth: int) -> list[TreeNode] | None:
        value = _resolve(value)
        if depth > 6:
            return None
        if isinstance(value, list):
            merged: dict[str, TreeNode] = {}
            for item in value[:1] if value and callable(value[0]) else value:
                for node in nodes_for(item, depth) or []:
                    merged.setdefault(node.name, node)
            return list(merged.values()) or None
        if isinstance(value, dict):
            return [TreeNode(key, nodes_for(sub, depth + 1)) for key, sub in value.items() if key != "_class"]
        return None
    return nodes_for(document, 0) or []


def _permalink(job: JenkinsJob, segment: str) -> JenkinsBuild | None:
    if segment.isdigit():
        return job.build(int(segment))
    predicates = {
        "lastBuild": lambda b: True, "lastCompletedBuild": lambda b: not b.building,
        "lastSuccessfulBuild": lambda b: b.result in ("SUCCESS", "UNSTABLE"),
        "lastStableBuild": lambda b: b.result == "SUCCESS", "lastFailedBuild": lambda b: b.result == "FAILURE",
        "lastUnstableBuild": lambda b: b.result == "UNSTABLE",
        "lastUnsuccessfulBuild": lambda b: b.result not in ("SUCCESS", None),
    }
    predicate = predicates.get(segment)
    if predicate is None:
        return None
    return next((b for b in reversed(job.builds) if predicate(b)), None)


def _color(result: str | None) -> str:
    return {"SUCCESS": "blue", "FAILURE": "red", "UNSTABLE": "yellow", "ABORTED": "aborted"}.get(result, "notbuilt")


def _health_icon(score: int) -> str:
    return "80plus" if score > 80 else "60to79" if score > 60 else "40to59" if score > 40 else (
        "20to39" if score > 20 else "00to19")


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return default


def _not_found() -> ApiResponse:
    return ApiResponse(404, b"<html><body><h2>HTTP ERROR 404 Not Found</h2></body></html>",
                       [("Content-Type", "text/html;charset=utf-8"), ("X-Jenkins", JENKINS_VERSION)])
