"""A simulated GitLab (REST v4): one group mirroring the org, a project per GitLab-hosted repository.

Model
-----
`generate_gitlab(repositories, seed, anchor, days)` draws everything from
`random.Random(f"{seed}:gitlab")`. The repositories of the teams in
`GITLAB_TEAMS` (growth: web-app, mobile-app, experiments) live on GitLab --
exactly the ones `simulator.jenkins` leaves out -- in a group whose path is
the org login (`acme`), one subgroup-free project per repository
(`acme/<repo>`).

Per project, within `[anchor - days, anchor)`:

* pipelines: one per default-branch commit (probability 0.95), created 10-120 s
  after the commit; stages build (`build`), test (`unit-tests` with a
  `coverage` %, `lint`), deploy (`deploy-staging`, and on ~35 % of pipelines
  `deploy-production`). Statuses success / failed (a build or test job failed,
  later jobs `skipped`) / canceled; the newest pipeline is `running` (its
  `deploy-staging` job and deployment are running). `duration` is the sum of
  the stages' wall times (jobs of a stage run in parallel), in whole seconds,
  `queued_duration` the wait before the first job.
* deployments: one per deploy job that started (status success / failed /
  canceled / running), environments `staging` and `production`.
* merge requests: ~70 % of default-branch commits are the merge of an MR
  (`merged`; `merged_at` = the commit time). Squashed ones (50 %) were merged
  fast-forward: `squash_commit_sha` = that commit, `merge_commit_sha` null;
  the others have `merge_commit_sha` = that commit and `squash_commit_sha` null.
  Plus `closed` (never merged) and a few `opened` MRs.
* milestones `Sprint N` of two weeks (`due_date` = the sprint's last Friday,
  `closed` once due before the anchor, else `active`) and a release
  `v1.N.0` at the last default-branch commit of each closed sprint,
  `released_at` 1-4 h after it, linked to its milestone.

HTTP (`GitLabApi.handle`, paths after the `/gitlab` mount prefix)
-----------------------------------------------------------------
`GET /api/v4/groups/:id/projects`, `/projects/:id`, `/projects/:id/pipelines`,
`/projects/:id/pipelines/:pipeline_id`, `/projects/:id/pipelines/:pipeline_id/jobs`,
`/projects/:id/deployments`, `/projects/:id/merge_requests`,
`/projects/:id/releases`, `/projects/:id/milestones`; `:id` is the numeric id
or the URL-encoded full path (`acme%2Fweb-app`). List bodies follow GitLab's
entities (the pipeline list has the "basic" fields only; `duration`,
`started_at`, `finished_at` come from the single pipeline and from jobs, as on
gitlab.com).

Pagination: offset everywhere (`page`, `per_page` default 20, max 100;
`X-Page`, `X-Per-Page`, `X-Next-Page` (empty on the last page),
`X-Prev-Page`, `X-Total`, `X-Total-Pages` (both omitted above 10,000 records)
and `Link` first/prev/next/last (`last` omitted with the totals)). Keyset
(`pagination=keyset`) only on group projects with `order_by=id` (the
resource GitLab documents it for), giving `Link: <...id_after=N...>; rel="next"`
and no totals; keyset elsewhere answers 405 like GitLab.
Auth: `PRIVATE-TOKEN` or `Authorization: Bearer`; else 401 `{"message":"401 Unauthorized"}`.
"""

from __future__ import annotations

import json
import math
import random
import re
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Callable
from urllib.parse import unquote, urlencode

from simulator.github_api import ApiRequest, ApiResponse
from simulator.model import Repository
from simulator.route_counts import RouteCounts
from simulator.truth import week_start
from simulator.randomness import poisson, random_sha

API_PREFIX = "/gitlab"
GITLAB_TEAMS = ("growth",)
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_COUNTED_RECORDS = 10_000  # GitLab omits X-Total/X-Total-Pages above this
GROUP_ID = 4200


# -- model --------------------------------------------------------------------------


@dataclass
class GitLabJob:
    id: int
    name: str
    stage: str
    status: str  # success, failed, canceled, running, skipped, created
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    coverage: float | None = None  # percent, as GitLab parses it from the log
    environment: str | None = None

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        return ((self.finished_at or self.started_at) - self.started_at).total_seconds()


@dataclass
class GitLabPipeline:
    id: int
    iid: int
    project_id: int
    sha: str
    ref: str
    status: str  # success, failed, canceled, running
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration: int | None  # seconds
    queued_duration: float | None
    jobs: list[GitLabJob] = field(default_factory=list)
    user: str = ""

    @property
    def coverage(self) -> float | None:
        """GitLab's pipeline coverage: the mean of its jobs' coverage values."""
        values = [job.coverage for job in self.jobs if job.coverage is not None]
        return round(sum(values) / len(values), 2) if values else None


@dataclass
class GitLabDeployment:
    id: int
    iid: int
    project_id: int
    environment: str
    status: str  # success, failed, canceled, running
    sha: str
    ref: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    job: GitLabJob
    pipeline: GitLabPipeline
    user: str = ""


@dataclass
class GitLabMergeRequest:
    id: int
    iid: int
    project_id: int
    title: str
    author: str
    state: str  # opened, merged, closed
    created_at: datetime
    updated_at: datetime
    source_branch: str
    target_branch: str
    sha: str
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    merge_commit_sha: str | None = None
    squash_commit_sha: str | None = None
    squash: bool = False


@dataclass
class GitLabMilestone:
    id: int
    iid: int
    project_id: int
    title: str
    start_date: date
    due_date: date
    state: str  # active, closed
    created_at: datetime
    updated_at: datetime


@dataclass
class GitLabRelease:
    tag_name: str
    name: str
    sha: str
    created_at: datetime
    released_at: datetime
    milestone: GitLabMilestone | None
    author: str


@dataclass
class GitLabProject:
    id: int
    name: str
    path_with_namespace: str
    repo: str  # full name of the simulated repository
    team: str
    default_branch: str
    created_at: datetime
    description: str | None
    pipelines: list[GitLabPipeline] = field(default_factory=list)
    deployments: list[GitLabDeployment] = field(default_factory=list)
    merge_requests: list[GitLabMergeRequest] = field(default_factory=list)
    milestones: list[GitLabMilestone] = field(default_factory=list)
    releases: list[GitLabRelease] = field(default_factory=list)

    @property
    def last_activity_at(self) -> datetime:
        moments = [self.created_at] + [p.updated_at for p in self.pipelines] + [m.updated_at for m in self.merge_requests]
        return max(moments)


@dataclass
class GitLabSite:
    group_id: int
    group_path: str
    projects: list[GitLabProject]
    anchor: datetime
    seed: int
    days: int
    # The simulated repositories (shared with the Org), so `advance` runs pipelines for the commits they gain.
    repositories: dict[str, Repository] = field(default_factory=dict, repr=False, compare=False)
    days_advanced: int = 0  # days `advance` has moved the anchor since generation (seeds its RNG)

    def advance(self, days: int = 1) -> GitLabSite:
        """Move the clock `days` days: running pipelines (and their deploy jobs) finish; new commits
        get pipelines, jobs and deployments; merges become MRs; sprints close with a release.

        Every changed record's `updated_at` moves into the new day, so `updated_after` sees exactly
        the changes. The window start stays put (`days` grows). Day n draws from
        `Random(f"{seed}:gitlab:advance:{n}")`.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        for _ in range(days):
            _advance_one_day(self)
        return self

    def project(self, key: str) -> GitLabProject | None:
        for project in self.projects:
            if key == str(project.id) or key == project.path_with_namespace:
                return project
        return None


# -- generation ---------------------------------------------------------------------


def generate_gitlab(repositories: list[Repository], seed: int, anchor: datetime, days: int, *,
                    teams: tuple[str, ...] = GITLAB_TEAMS) -> GitLabSite:
    anchor = anchor.astimezone(UTC) if anchor.tzinfo else anchor.replace(tzinfo=UTC)
    rng = random.Random(f"{seed}:gitlab")
    group_path = repositories[0].owner if repositories else "acme"
    hosted = sorted((r for r in repositories if r.team in teams), key=lambda r: r.name)
    builder = _Builder(rng, anchor, anchor - timedelta(days=days))
    projects = [builder.project(index, repo) for index, repo in enumerate(hosted)]
    return GitLabSite(GROUP_ID, group_path, projects, anchor, seed, days,
                      repositories={repo.full_name: repo for repo in repositories})


class _Builder:
    def __init__(self, rng: random.Random, anchor: datetime, start: datetime) -> None:
        self.rng = rng
        self.anchor = anchor
        self.start = start
        self.ids = {kind: iter(range(base, 10**9)) for kind, base in
                    (("pipeline", 880_000), ("job", 5_400_000), ("deployment", 61_000), ("mr", 2_200_000),
                     ("milestone", 3_300))}

    def next(self, kind: str) -> int:
        return next(self.ids[kind])

    def project(self, index: int, repo: Repository) -> GitLabProject:
        project = GitLabProject(id=7000 + index * 13 + 1, name=repo.name, path_with_namespace=repo.full_name,
                                repo=repo.full_name, team=repo.team, default_branch=repo.default_branch,
                                created_at=repo.created_at, description=repo.description)
        self._pipelines(project, repo)
        self._merge_requests(project, repo)
        self._milestones_and_releases(project, repo)
        return project

    # pipelines, jobs, deployments

    def _pipelines(self, project: GitLabProject, repo: Repository) -> None:
        rng = self.rng
        cutoff = self.anchor - timedelta(hours=2)
        commits = [c for c in repo.commits if self.start <= c.committed_at < cutoff and rng.random() < 0.95]
        base_coverage = rng.uniform(55, 88)
        for commit in commits:
            created = (commit.committed_at + timedelta(seconds=rng.randint(10, 120))).replace(microsecond=0)
            roll = rng.random()
            outcome = "failed" if roll < 0.12 else "canceled" if roll < 0.16 else "success"
            base_coverage = min(max(base_coverage + rng.uniform(-0.4, 0.45), 30.0), 97.0)
            self._pipeline(project, commit.sha, commit.author, created, outcome, base_coverage)
        if repo.commits:
            newest = repo.commits[-1]
            # Running now: build and tests done, deploy-staging in progress.
            created = (self.anchor - timedelta(seconds=rng.randint(400, 900))).replace(microsecond=0)
            self._pipeline(project, newest.sha, newest.author, created, "running", base_coverage)

    def _pipeline(self, project: GitLabProject, sha: str, user: str, created: datetime, outcome: str,
                  coverage: float) -> None:
        rng = self.rng
        pipeline = GitLabPipeline(id=self.next("pipeline"), iid=len(project.pipelines) + 1, project_id=project.id,
                                  sha=sha, ref=project.default_branch, status=outcome, created_at=created,
                                  updated_at=created, started_at=None, finished_at=None, duration=None,
                                  queued_duration=None, user=user)
        stages = [("build", [("build", None)]), ("test", [("unit-tests", None), ("lint", None)]),
                  ("deploy", [("deploy-staging", "staging")] +
                   ([("deploy-production", "production")] if rng.random() < 0.35 and outcome != "running" else []))]
        failing_stage = rng.choice(("build", "test", "test")) if outcome == "failed" else None
        canceled_stage = rng.choice(("build", "test", "deploy")) if outcome == "canceled" else None
        clock = created + timedelta(seconds=rng.uniform(2, 30))
        pipeline.queued_duration = round((clock - created).total_seconds(), 3)
        pipeline.started_at = clock.replace(microsecond=0)
        running_seconds = 0.0
        halted = False
        for stage, jobs in stages:
            stage_end = clock
            for name, environment in jobs:
                job = GitLabJob(id=self.next("job"), name=name, stage=stage, status="created", created_at=created,
                                started_at=None, finished_at=None, environment=environment)
                pipeline.jobs.append(job)
                if halted:
                    job.status = "skipped" if outcome == "failed" else "canceled"
                    continue
                job.started_at = clock + timedelta(seconds=rng.uniform(0.5, 4))
                seconds = {"build": rng.uniform(60, 240), "test": rng.uniform(90, 420),
                           "deploy": rng.uniform(40, 160)}[stage] * (0.3 if name == "lint" else 1.0)
                if outcome == "running" and name == "deploy-staging":
                    job.status = "running"
                    job.finished_at = None
                    self._deployment(project, pipeline, job, "running")
                    continue
                job.finished_at = job.started_at + timedelta(seconds=seconds)
                if stage == failing_stage and name in ("build", "unit-tests"):
                    job.status = "failed"
                elif stage == canceled_stage:
                    job.status = "canceled"
                    job.finished_at = job.started_at + timedelta(seconds=seconds * rng.uniform(0.1, 0.7))
                else:
                    job.status = "success"
                if name == "unit-tests" and job.status == "success":
                    job.coverage = round(coverage + rng.uniform(-0.3, 0.3), 2)
                if environment is not None:
                    deploy_status = job.status if rng.random() > 0.05 else "failed"
                    job.status = deploy_status
                    self._deployment(project, pipeline, job, deploy_status)
                stage_end = max(stage_end, job.finished_at)
            running_seconds += (stage_end - clock).total_seconds()
            clock = stage_end
            if stage in (failing_stage, canceled_stage):
                halted = True
        if outcome == "success" and any(job.status == "failed" for job in pipeline.jobs):
            pipeline.status = "failed"  # a deploy job failed
        if outcome == "running":
            pipeline.updated_at = clock.replace(microsecond=0)
        else:
            pipeline.finished_at = clock.replace(microsecond=0)
            pipeline.updated_at = pipeline.finished_at + timedelta(seconds=1)
            pipeline.duration = int(running_seconds)
        project.pipelines.append(pipeline)

    def _deployment(self, project: GitLabProject, pipeline: GitLabPipeline, job: GitLabJob, status: str) -> None:
        finished = job.finished_at if status != "running" else None
        project.deployments.append(GitLabDeployment(
            id=self.next("deployment"), iid=len(project.deployments) + 1, project_id=project.id,
            environment=job.environment or "staging", status=status, sha=pipeline.sha, ref=pipeline.ref,
            created_at=job.created_at, updated_at=(finished or job.started_at).replace(microsecond=0),
            finished_at=finished, job=job, pipeline=pipeline, user=pipeline.user))

    # merge requests

    def _merge_requests(self, project: GitLabProject, repo: Repository) -> None:
        rng = self.rng
        mrs: list[GitLabMergeRequest] = []
        for commit in repo.commits:
            if not (self.start <= commit.committed_at < self.anchor) or rng.random() >= 0.7:
                continue
            merged_at = commit.committed_at
            created = merged_at - timedelta(hours=min(rng.lognormvariate(math.log(18), 1.0), 24 * 30))
            squash = rng.random() < 0.5
            mrs.append(GitLabMergeRequest(
                id=0, iid=0, project_id=project.id, title=(commit.message or "Update").splitlines()[0][:200],
                author=commit.author, state="merged", created_at=created.replace(microsecond=0),
                updated_at=min(merged_at + timedelta(seconds=rng.randint(1, 600)), self.anchor - timedelta(seconds=1)),
                source_branch=f"{commit.author}/{commit.sha[:7]}", target_branch=repo.default_branch,
                sha=random_sha(rng), merged_at=merged_at, merge_commit_sha=None if squash else commit.sha,
                squash_commit_sha=commit.sha if squash else None, squash=squash))
        authors = sorted({c.author for c in repo.commits}) or ["ghost"]
        extra_closed = max(1, len(mrs) // 10)
        for index in range(extra_closed + 5):
            created = self.start + timedelta(seconds=rng.uniform(0, (self.anchor - self.start).total_seconds() - 7200))
            created = created.replace(microsecond=0)
            closed = index < extra_closed
            ended = min(created + timedelta(hours=rng.uniform(1, 240)), self.anchor - timedelta(minutes=5))
            author = rng.choice(authors)
            mrs.append(GitLabMergeRequest(
                id=0, iid=0, project_id=project.id, title=rng.choice(("Try new onboarding flow", "Spike: caching",
                                                                      "WIP experiment", "Bump dependencies")),
                author=author, state="closed" if closed else "opened", created_at=created,
                updated_at=ended.replace(microsecond=0) if closed else created + timedelta(minutes=rng.randint(1, 90)),
                source_branch=f"{author}/spike-{index}", target_branch=repo.default_branch, sha=random_sha(rng),
                closed_at=ended.replace(microsecond=0) if closed else None))
        mrs.sort(key=lambda mr: (mr.created_at, mr.sha))
        for iid, mr in enumerate(mrs, start=1):
            mr.iid, mr.id = iid, self.next("mr")
        project.merge_requests = mrs

    # milestones and releases

    def _milestones_and_releases(self, project: GitLabProject, repo: Repository) -> None:
        rng = self.rng
        first_monday = self.start.date() - timedelta(days=self.start.weekday())
        sprint_start = first_monday
        number = 1
        while sprint_start <= self.anchor.date():
            due = sprint_start + timedelta(days=11)  # the second Friday
            created = datetime.combine(sprint_start - timedelta(days=3), datetime.min.time(), tzinfo=UTC) + \
                timedelta(hours=rng.uniform(9, 17))
            created = min(created, self.anchor - timedelta(hours=1)).replace(microsecond=0)
            due_moment = datetime.combine(due, datetime.min.time(), tzinfo=UTC) + timedelta(hours=18)
            closed = due_moment < self.anchor
            milestone = GitLabMilestone(id=self.next("milestone"), iid=number, project_id=project.id,
                                        title=f"Sprint {number}", start_date=sprint_start, due_date=due,
                                        state="closed" if closed else "active", created_at=created,
                                        updated_at=due_moment if closed else created)
            project.milestones.append(milestone)
            if closed:
                shipped = [c for c in repo.commits if c.committed_at < due_moment]
                if shipped:
                    commit = shipped[-1]
                    released = min(max(due_moment, commit.committed_at) + timedelta(hours=rng.uniform(1, 4)),
                                   self.anchor - timedelta(minutes=1)).replace(microsecond=0)
                    project.releases.append(GitLabRelease(
                        tag_name=f"v1.{number}.0", name=f"Release 1.{number}.0", sha=commit.sha,
                        created_at=released, released_at=released, milestone=milestone, author=commit.author))
            sprint_start += timedelta(days=14)
            number += 1



# -- time travel --------------------------------------------------------------------


def _advance_one_day(site: GitLabSite) -> None:
    day = site.days_advanced + 1
    start, end = site.anchor, site.anchor + timedelta(days=1)
    rng = random.Random(f"{site.seed}:gitlab:advance:{day}")
    builder = _Builder(rng, end, start)
    firsts = {
        "pipeline": max((p.id for pr in site.projects for p in pr.pipelines), default=879_999),
        "job": max((j.id for pr in site.projects for p in pr.pipelines for j in p.jobs), default=5_399_999),
        "deployment": max((d.id for pr in site.projects for d in pr.deployments), default=60_999),
        "mr": max((m.id for pr in site.projects for m in pr.merge_requests), default=2_199_999),
        "milestone": max((m.id for pr in site.projects for m in pr.milestones), default=3_299),
    }
    builder.ids = {kind: iter(range(last + 1, 10**12)) for kind, last in firsts.items()}
    for project in site.projects:
        repo = site.repositories.get(project.repo)
        _finish_running(project, rng, start)
        if repo is not None:
            _advance_pipelines(project, repo, builder, start, end)
            _advance_merge_requests(project, repo, builder, start, end)
            _advance_milestones(project, repo, builder, start, end)
    site.anchor = end
    site.days += 1  # the window start stays where it was
    site.days_advanced = day


def _finish_running(project: GitLabProject, rng: random.Random, start: datetime) -> None:
    for pipeline in project.pipelines:
        if pipeline.status != "running":
            continue
        for job in pipeline.jobs:
            if job.status != "running":
                continue
            finished = max(job.started_at + timedelta(seconds=rng.uniform(40, 160)),
                           start + timedelta(seconds=rng.uniform(5, 300)))
            job.finished_at = finished
            job.status = "success" if rng.random() > 0.05 else "failed"
            for deployment in project.deployments:
                if deployment.job is job:
                    deployment.status, deployment.finished_at = job.status, finished
                    deployment.updated_at = finished.replace(microsecond=0)
        pipeline.status = "failed" if any(job.status == "failed" for job in pipeline.jobs) else "success"
        pipeline.finished_at = max(job.finished_at for job in pipeline.jobs if job.finished_at).replace(microsecond=0)
        pipeline.duration = int((pipeline.finished_at - pipeline.started_at).total_seconds())
        pipeline.updated_at = pipeline.finished_at + timedelta(seconds=1)


def _advance_pipelines(project: GitLabProject, repo: Repository, builder: _Builder, start: datetime,
                       end: datetime) -> None:
    rng = builder.rng
    covered = [p.coverage for p in project.pipelines if p.coverage is not None]
    coverage = covered[-1] if covered else 70.0
    built = {p.sha for p in project.pipelines}
    low, high = start - timedelta(hours=2), end - timedelta(hours=2)
    for commit in [c for c in repo.commits if low <= c.committed_at < high and c.sha not in built]:
        if rng.random() >= 0.95:
            continue
        created = max(commit.committed_at + timedelta(seconds=rng.randint(10, 120)), start).replace(microsecond=0)
        roll = rng.random()
        outcome = "failed" if roll < 0.12 else "canceled" if roll < 0.16 else "success"
        coverage = min(max(coverage + rng.uniform(-0.4, 0.45), 30.0), 97.0)
        builder._pipeline(project, commit.sha, commit.author, created, outcome, coverage)
        built.add(commit.sha)
    todays = [c for c in repo.commits if start <= c.committed_at < end]
    if todays and todays[-1].sha not in built:
        newest = todays[-1]  # running at the new anchor: build and tests done, deploy-staging in progress
        created = max(end - timedelta(seconds=rng.randint(750, 1500)),
                      newest.committed_at + timedelta(seconds=10)).replace(microsecond=0)
        if created + timedelta(seconds=750) < end:
            builder._pipeline(project, newest.sha, newest.author, created, "running", coverage)


def _advance_merge_requests(project: GitLabProject, repo: Repository, builder: _Builder, start: datetime,
                            end: datetime) -> None:
    rng = builder.rng
    for mr in project.merge_requests:
        if mr.state == "opened" and rng.random() < 0.05:
            moment = (start + timedelta(seconds=rng.uniform(0, 86_000))).replace(microsecond=0)
            mr.state, mr.closed_at, mr.updated_at = "closed", moment, moment
    fresh: list[GitLabMergeRequest] = []
    for commit in repo.commits:
        if not start <= commit.committed_at < end or rng.random() >= 0.7:
            continue
        merged_at = commit.committed_at
        # Opened within the day at the earliest: earlier crawls never saw it.
        created = max(merged_at - timedelta(hours=min(rng.lognormvariate(math.log(18), 1.0), 24 * 30)), start)
        squash = rng.random() < 0.5
        fresh.append(GitLabMergeRequest(
            id=0, iid=0, project_id=project.id, title=(commit.message or "Update").splitlines()[0][:200],
            author=commit.author, state="merged", created_at=created.replace(microsecond=0),
            updated_at=min(merged_at + timedelta(seconds=rng.randint(1, 600)), end - timedelta(seconds=1)),
            source_branch=f"{commit.author}/{commit.sha[:7]}", target_branch=repo.default_branch,
            sha=random_sha(rng), merged_at=merged_at, merge_commit_sha=None if squash else commit.sha,
            squash_commit_sha=commit.sha if squash else None, squash=squash))
    authors = sorted({c.author for c in repo.commits}) or ["ghost"]
    for index in range(poisson(rng, 0.15)):
        created = (start + timedelta(seconds=rng.uniform(0, 80_000))).replace(microsecond=0)
        author = rng.choice(authors)
        fresh.append(GitLabMergeRequest(
            id=0, iid=0, project_id=project.id, title=rng.choice(("Try new onboarding flow", "Spike: caching",
                                                                  "WIP experiment", "Bump dependencies")),
            author=author, state="opened", created_at=created, updated_at=created + timedelta(minutes=rng.randint(1, 90)),
            source_branch=f"{author}/spike-{created:%Y%m%d}-{index}", target_branch=repo.default_branch,
            sha=random_sha(rng)))
    next_iid = max((mr.iid for mr in project.merge_requests), default=0) + 1
    for mr in sorted(fresh, key=lambda mr: (mr.created_at, mr.sha)):
        mr.iid, mr.id = next_iid, builder.next("mr")
        next_iid += 1
        project.merge_requests.append(mr)


def _advance_milestones(project: GitLabProject, repo: Repository, builder: _Builder, start: datetime,
                        end: datetime) -> None:
    rng = builder.rng
    for milestone in project.milestones:
        due_moment = datetime.combine(milestone.due_date, datetime.min.time(), tzinfo=UTC) + timedelta(hours=18)
        if milestone.state != "active" or due_moment >= end:
            continue
        milestone.state, milestone.updated_at = "closed", max(due_moment, start)
        shipped = [c for c in repo.commits if c.committed_at < due_moment]
        if shipped:
            commit = shipped[-1]
            released = min(max(due_moment, commit.committed_at, start) + timedelta(hours=rng.uniform(1, 4)),
                           end - timedelta(minutes=1)).replace(microsecond=0)
            project.releases.append(GitLabRelease(
                tag_name=f"v1.{milestone.iid}.0", name=f"Release 1.{milestone.iid}.0", sha=commit.sha,
                created_at=released, released_at=released, milestone=milestone, author=commit.author))
    while project.milestones:
        last = project.milestones[-1]
        sprint_start = last.start_date + timedelta(days=14)
        if sprint_start > end.date():
            break
        number = last.iid + 1
        created = datetime.combine(sprint_start - timedelta(days=3), datetime.min.time(), tzinfo=UTC) + \
            timedelta(hours=rng.uniform(9, 17))
        created = min(max(created, start), end - timedelta(hours=1)).replace(microsecond=0)
        project.milestones.append(GitLabMilestone(
            id=builder.next("milestone"), iid=number, project_id=project.id, title=f"Sprint {number}",
            start_date=sprint_start, due_date=sprint_start + timedelta(days=11), state="active",
            created_at=created, updated_at=created))



# -- truth --------------------------------------------------------------------------


def gitlab_pipeline_facts(site: GitLabSite) -> list[dict[str, Any]]:
    """Weekly pipeline facts per GitLab project, from the model (never from the API).

    One row per (project, ISO week starting Monday UTC) from the week of
    `anchor - days` to the week of `anchor`, zero-filled, sorted by (repo, week_start).
    A pipeline belongs to the week of its `created_at`.

    * `pipelines`: all pipelines created that week (the running one included);
      `succeeded`/`failed`/`canceled`/`running` count by final `status`;
    * `median_duration_s`: `statistics.median` of `duration` (seconds) over
      finished pipelines (success, failed, canceled), `None` without any;
    * `latest_coverage`: the `coverage` (percent, mean of its jobs' `coverage`)
      of the newest pipeline (highest id) created that week that has one; `None` if none;
    * `deployments`, `production_deployments`, `successful_production_deployments`:
      deployments created that week (by deployment `created_at`).
    """
    weeks = _weeks(site)
    rows = []
    for project in sorted(site.projects, key=lambda p: p.repo):
        pipelines: dict[date, list[GitLabPipeline]] = {}
        for pipeline in project.pipelines:
            pipelines.setdefault(week_start(pipeline.created_at), []).append(pipeline)
        deployments: dict[date, list[GitLabDeployment]] = {}
        for deployment in project.deployments:
            deployments.setdefault(week_start(deployment.created_at), []).append(deployment)
        for week in weeks:
            group = pipelines.get(week, [])
            statuses = Counter(p.status for p in group)
            finished = [p.duration for p in group if p.duration is not None]
            covered = [p for p in group if p.coverage is not None]
            latest = max(covered, key=lambda p: p.id) if covered else None
            deploys = deployments.get(week, [])
            production = [d for d in deploys if d.environment == "production"]
            rows.append({
                "repo": project.repo, "project_id": project.id, "team": project.team, "week_start": week,
                "pipelines": len(group), "succeeded": statuses["success"], "failed": statuses["failed"],
                "canceled": statuses["canceled"], "running": statuses["running"],
                "median_duration_s": statistics.median(finished) if finished else None,
                "latest_coverage": latest.coverage if latest else None,
                "latest_coverage_pipeline": latest.id if latest else None,
                "deployments": len(deploys), "production_deployments": len(production),
                "successful_production_deployments": sum(1 for d in production if d.status == "success"),
            })
    return rows


def gitlab_merge_request_facts(site: GitLabSite) -> list[dict[str, Any]]:
    """Per project and week of `merged_at`: `merged` MRs and `median_lead_time_h`
    (median of merged_at - created_at in hours); weeks/zero-fill as `gitlab_pipeline_facts`."""
    rows = []
    for project in sorted(site.projects, key=lambda p: p.repo):
        merged: dict[date, list[GitLabMergeRequest]] = {}
        for mr in project.merge_requests:
            if mr.merged_at is not None:
                merged.setdefault(week_start(mr.merged_at), []).append(mr)
        for week in _weeks(site):
            group = merged.get(week, [])
            rows.append({"repo": project.repo, "week_start": week, "merged": len(group),
                         "median_lead_time_h": statistics.median(
                             (mr.merged_at - mr.created_at).total_seconds() / 3600 for mr in group) if group else None})
    return rows


def _weeks(site: GitLabSite) -> list[date]:
    weeks, week = [], week_start(site.anchor - timedelta(days=site.days))
    while week <= week_start(site.anchor):
        weeks.append(week)
        week += timedelta(days=7)
    return weeks


# -- HTTP ---------------------------------------------------------------------------


def gl_time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


class _HttpError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


_ROUTES = [
    ("/groups/:id/projects", re.compile(r"^/api/v4/groups/(?P<group>[^/]+)/projects$")),
    ("/projects/:id", re.compile(r"^/api/v4/projects/(?P<project>[^/]+)$")),
    ("/projects/:id/pipelines", re.compile(r"^/api/v4/projects/(?P<project>[^/]+)/pipelines$")),
    ("/projects/:id/pipelines/:pipeline_id",
     re.compile(r"^/api/v4/projects/(?P<project>[^/]+)/pipelines/(?P<pipeline>\d+)$")),
    ("/projects/:id/pipelines/:pipeline_id/jobs",
     re.compile(r"^/api/v4/projects/(?P<project>[^/]+)/pipelines/(?P<pipeline>\d+)/jobs$")),
    ("/projects/:id/deployments", re.compile(r"^/api/v4/projects/(?P<project>[^/]+)/deployments$")),
    ("/projects/:id/merge_requests", re.compile(r"^/api/v4/projects/(?P<project>[^/]+)/merge_requests$")),
    ("/projects/:id/releases", re.compile(r"^/api/v4/projects/(?P<project>[^/]+)/releases$")),
    ("/projects/:id/milestones", re.compile(r"^/api/v4/projects/(?P<project>[^/]+)/milestones$")),
]


class GitLabApi:
    """Serves one GitLabSite. Thread-safe: the site is read-only, counters are locked."""

    def __init__(self, site: GitLabSite, *, token: str, clock: Callable[[], float] = time.time) -> None:
        self.site = site
        self.token = token
        self.clock = clock
        self.counts = RouteCounts("gitlab")

    @property
    def request_count(self) -> int:
        return self.counts.total

    def stats(self) -> dict[str, Any]:
        return self.counts.stats()

    def handle(self, request: ApiRequest) -> ApiResponse:
        path = request.path.rstrip("/") or "/"
        route = next(((template, found.groupdict()) for template, pattern in _ROUTES
                      if (found := pattern.match(path))), None)
        self.counts.add(request.method, route[0] if route else None)
        token = request.headers.get("private-token")
        if token is None:
            scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
            token = value.strip() if scheme.lower() == "bearer" else None
        if token != self.token:
            return _json(401, {"message": "401 Unauthorized"})
        try:
            if route is None or request.method not in ("GET", "HEAD"):
                raise _HttpError(404, {"error": "404 Not Found"})
            status, body, headers = self._dispatch(route[0], route[1], request)
        except _HttpError as problem:
            return _json(problem.status, problem.body)
        return _json(status, body, headers)

    def _project(self, key: str) -> GitLabProject:
        project = self.site.project(unquote(key))
        if project is None:
            raise _HttpError(404, {"message": "404 Project Not Found"})
        return project

    def _dispatch(self, template: str, params: dict[str, str], request: ApiRequest):
        base = request.base_url + API_PREFIX
        if template == "/groups/:id/projects":
            key = unquote(params["group"])
            if key not in (str(self.site.group_id), self.site.group_path):
                raise _HttpError(404, {"message": "404 Group Not Found"})
            order_by = request.param("order_by", "created_at")
            sort = _sort(request, "desc")
            keys = {"id": lambda p: p.id, "name": lambda p: (p.name, p.id), "path": lambda p: (p.name, p.id),
                    "created_at": lambda p: (p.created_at, p.id), "updated_at": lambda p: (p.last_activity_at, p.id),
                    "last_activity_at": lambda p: (p.last_activity_at, p.id)}
            if order_by not in keys:
                raise _HttpError(400, {"error": "order_by does not have a valid value"})
            projects = sorted(self.site.projects, key=keys[order_by], reverse=sort == "desc")
            serialise = lambda p: self._project_json(p, base)  # noqa: E731
            if request.param("pagination") == "keyset":
                if order_by != "id":
                    raise _HttpError(405, {"error": "Keyset pagination is not yet available for this type of request"})
                return self._keyset(request, projects, sort, serialise)
            return self._offset(request, projects, serialise)
        if request.param("pagination") == "keyset" and template != "/projects/:id":
            raise _HttpError(405, {"error": "Keyset pagination is not yet available for this type of request"})
        project = self._project(params["project"])
        if template == "/projects/:id":
            return 200, self._project_json(project, base), []
        if template == "/projects/:id/pipelines":
            return self._offset(request, self._pipelines(project, request), lambda p: self._pipeline_basic(project, p, base))
        if template in ("/projects/:id/pipelines/:pipeline_id", "/projects/:id/pipelines/:pipeline_id/jobs"):
            pipeline = next((p for p in project.pipelines if p.id == int(params["pipeline"])), None)
            if pipeline is None:
                raise _HttpError(404, {"message": "404 Not found"})
            if template.endswith("/jobs"):
                scopes = {value for key, value in request.query if key in ("scope", "scope[]")}
                jobs = [job for job in pipeline.jobs if not scopes or job.status in scopes]
                return self._offset(request, jobs, lambda job: self._job_json(project, pipeline, job, base))
            return 200, self._pipeline_json(project, pipeline, base), []
        if template == "/projects/:id/deployments":
            return self._offset(request, self._deployments(project, request),
                                lambda d: self._deployment_json(project, d, base))
        if template == "/projects/:id/merge_requests":
            return self._offset(request, self._merge_requests(project, request),
                                lambda mr: self._merge_request_json(project, mr, base))
        if template == "/projects/:id/releases":
            order_by = request.param("order_by", "released_at")
            if order_by not in ("released_at", "created_at"):
                raise _HttpError(400, {"error": "order_by does not have a valid value"})
            releases = sorted(project.releases, key=lambda r: (getattr(r, order_by), r.tag_name),
                              reverse=_sort(request, "desc") == "desc")
            return self._offset(request, releases, lambda r: self._release_json(project, r, base))
        if template == "/projects/:id/milestones":
            state = request.param("state")
            milestones = [m for m in sorted(project.milestones, key=lambda m: m.id, reverse=True)
                          if state is None or m.state == state]
            return self._offset(request, milestones, lambda m: self._milestone_json(project, m, base))
        raise _HttpError(404, {"error": "404 Not Found"})

    # -- filters --------------------------------------------------------------------

    def _pipelines(self, project: GitLabProject, request: ApiRequest) -> list[GitLabPipeline]:
        order_by = request.param("order_by", "id")
        keys = {"id": lambda p: p.id, "status": lambda p: (p.status, p.id), "ref": lambda p: (p.ref, p.id),
                "updated_at": lambda p: (p.updated_at, p.id), "user_id": lambda p: (p.user, p.id)}
        if order_by not in keys:
            raise _HttpError(400, {"error": "order_by does not have a valid value"})
        after, before = _time_param(request, "updated_after"), _time_param(request, "updated_before")
        wanted = {name: request.param(name) for name in ("status", "ref", "sha")}
        items = [p for p in project.pipelines
                 if (after is None or p.updated_at > after) and (before is None or p.updated_at < before)
                 and all(value is None or getattr(p, name) == value for name, value in wanted.items())]
        return sorted(items, key=keys[order_by], reverse=_sort(request, "desc") == "desc")

    def _deployments(self, project: GitLabProject, request: ApiRequest) -> list[GitLabDeployment]:
        order_by = request.param("order_by", "id")
        keys = {"id": lambda d: d.id, "iid": lambda d: d.iid, "created_at": lambda d: (d.created_at, d.id),
                "updated_at": lambda d: (d.updated_at, d.id), "finished_at": lambda d: (d.finished_at or d.updated_at, d.id),
                "ref": lambda d: (d.ref, d.id)}
        if order_by not in keys:
            raise _HttpError(400, {"error": "order_by does not have a valid value"})
        after, before = _time_param(request, "updated_after"), _time_param(request, "updated_before")
        if (after or before) and order_by != "updated_at":
            raise _HttpError(400, {"message": "400 Bad request - `updated_at` filter and `updated_at` sorting must be paired"})
        environment, status = request.param("environment"), request.param("status")
        items = [d for d in project.deployments
                 if (after is None or d.updated_at > after) and (before is None or d.updated_at < before)
                 and (environment is None or d.environment == environment) and (status is None or d.status == status)]
        return sorted(items, key=keys[order_by], reverse=_sort(request, "asc") == "desc")

    def _merge_requests(self, project: GitLabProject, request: ApiRequest) -> list[GitLabMergeRequest]:
        state = request.param("state", "all")
        if state not in ("opened", "closed", "locked", "merged", "all"):
            raise _HttpError(400, {"error": "state does not have a valid value"})
        order_by = request.param("order_by", "created_at")
        keys = {"created_at": lambda m: (m.created_at, m.id), "updated_at": lambda m: (m.updated_at, m.id),
                "title": lambda m: (m.title, m.id), "merged_at": lambda m: (m.merged_at or m.created_at, m.id)}
        if order_by not in keys:
            raise _HttpError(400, {"error": "order_by does not have a valid value"})
        bounds = {name: _time_param(request, name) for name in
                  ("updated_after", "updated_before", "created_after", "created_before")}
        items = [m for m in project.merge_requests
                 if (state == "all" or m.state == state)
                 and (bounds["updated_after"] is None or m.updated_at > bounds["updated_after"])
                 and (bounds["updated_before"] is None or m.updated_at < bounds["updated_before"])
                 and (bounds["created_after"] is None or m.created_at > bounds["created_after"])
                 and (bounds["created_before"] is None or m.created_at < bounds["created_before"])]
        return sorted(items, key=keys[order_by], reverse=_sort(request, "desc") == "desc")

    # -- pagination -----------------------------------------------------------------

    def _offset(self, request: ApiRequest, items: list, serialise: Callable[[Any], Any]):
        per_page = min(_positive_int(request.param("per_page"), DEFAULT_PER_PAGE), MAX_PER_PAGE)
        page = _positive_int(request.param("page"), 1)
        total = len(items)
        total_pages = max(math.ceil(total / per_page), 1)
        counted = total <= MAX_COUNTED_RECORDS
        start = (page - 1) * per_page
        body = [serialise(item) for item in items[start:start + per_page]]
        has_next = start + per_page < total
        headers = [("X-Page", str(page)), ("X-Per-Page", str(per_page)),
                   ("X-Next-Page", str(page + 1) if has_next else ""),
                   ("X-Prev-Page", str(page - 1) if page > 1 else "")]
        if counted:
            headers += [("X-Total", str(total)), ("X-Total-Pages", str(total_pages))]

        def url(target: int) -> str:
            query = [(k, v) for k, v in request.query if k not in ("page", "per_page")]
            query += [("page", str(target)), ("per_page", str(per_page))]
            return f"<{request.base_url}{API_PREFIX}{request.path}?{urlencode(query)}>"
        links = []
        if page > 1:
            links.append(f'{url(page - 1)}; rel="prev"')
        if has_next:
            links.append(f'{url(page + 1)}; rel="next"')
        links.append(f'{url(1)}; rel="first"')
        if counted:
            links.append(f'{url(total_pages)}; rel="last"')
        headers.append(("Link", ", ".join(links)))
        return 200, body, headers

    def _keyset(self, request: ApiRequest, items: list, sort: str, serialise: Callable[[Any], Any]):
        per_page = min(_positive_int(request.param("per_page"), DEFAULT_PER_PAGE), MAX_PER_PAGE)
        after, before = request.param("id_after"), request.param("id_before")
        if after is not None:
            items = [item for item in items if item.id > int(after)]
        if before is not None:
            items = [item for item in items if item.id < int(before)]
        page = items[:per_page]
        headers = []
        if len(items) > per_page:
            cursor = "id_after" if sort == "asc" else "id_before"
            query = [(k, v) for k, v in request.query if k not in ("id_after", "id_before", "per_page")]
            query += [(cursor, str(page[-1].id)), ("per_page", str(per_page))]
            headers.append(("Link", f'<{request.base_url}{API_PREFIX}{request.path}?{urlencode(query)}>; rel="next"'))
        return 200, [serialise(item) for item in page], headers

    # -- serialisers ----------------------------------------------------------------

    def _user_json(self, username: str, base: str) -> dict[str, Any]:
        user_id = 100 + sum(ord(ch) * (index + 1) for index, ch in enumerate(username)) % 90_000
        return {"id": user_id, "username": username, "name": username.replace("-", " ").title(), "state": "active",
                "locked": False, "avatar_url": f"{base}/uploads/-/system/user/avatar/{user_id}/avatar.png",
                "web_url": f"{base}/{username}"}

    def _project_json(self, project: GitLabProject, base: str) -> dict[str, Any]:
        web = f"{base}/{project.path_with_namespace}"
        host = base.split("://", 1)[-1].split("/", 1)[0].split(":")[0]
        namespace = {"id": self.site.group_id, "name": self.site.group_path, "path": self.site.group_path,
                     "kind": "group", "full_path": self.site.group_path, "parent_id": None, "avatar_url": None,
                     "web_url": f"{base}/groups/{self.site.group_path}"}
        return {
            "id": project.id, "description": project.description, "name": project.name,
            "name_with_namespace": f"{self.site.group_path} / {project.name}", "path": project.name,
            "path_with_namespace": project.path_with_namespace, "created_at": gl_time(project.created_at),
            "default_branch": project.default_branch, "tag_list": [], "topics": [project.team],
            "ssh_url_to_repo": f"git@{host}:{project.path_with_namespace}.git",
            "http_url_to_repo": f"{web}.git", "web_url": web, "readme_url": f"{web}/-/blob/{project.default_branch}/README.md",
            "forks_count": 0, "avatar_url": None, "star_count": 0,
            "last_activity_at": gl_time(project.last_activity_at), "namespace": namespace,
            "visibility": "private", "archived": False, "empty_repo": False,
            "_links": {"self": f"{base}/api/v4/projects/{project.id}",
                       "merge_requests": f"{base}/api/v4/projects/{project.id}/merge_requests",
                       "repo_branches": f"{base}/api/v4/projects/{project.id}/repository/branches"},
        }

    def _pipeline_basic(self, project: GitLabProject, pipeline: GitLabPipeline, base: str) -> dict[str, Any]:
        return {"id": pipeline.id, "iid": pipeline.iid, "project_id": project.id, "sha": pipeline.sha,
                "ref": pipeline.ref, "status": pipeline.status, "source": "push",
                "created_at": gl_time(pipeline.created_at), "updated_at": gl_time(pipeline.updated_at),
                "web_url": f"{base}/{project.path_with_namespace}/-/pipelines/{pipeline.id}", "name": None}

    def _pipeline_json(self, project: GitLabProject, pipeline: GitLabPipeline, base: str) -> dict[str, Any]:
        payload = self._pipeline_basic(project, pipeline, base)
        coverage = pipeline.coverage
        payload.update({
            "before_sha": "0" * 40, "tag": False, "yaml_errors": None, "user": self._user_json(pipeline.user, base),
            "started_at": gl_time(pipeline.started_at), "finished_at": gl_time(pipeline.finished_at),
            "committed_at": None, "duration": pipeline.duration, "queued_duration": pipeline.queued_duration,
            "coverage": None if coverage is None else f"{coverage:.2f}",
            "detailed_status": {"icon": f"status_{pipeline.status}", "text": pipeline.status,
                                "label": {"success": "passed"}.get(pipeline.status, pipeline.status),
                                "group": pipeline.status, "has_details": True,
                                "details_path": f"/{project.path_with_namespace}/-/pipelines/{pipeline.id}"},
        })
        return payload

    def _job_json(self, project: GitLabProject, pipeline: GitLabPipeline, job: GitLabJob, base: str) -> dict[str, Any]:
        duration = job.duration
        payload = {
            "id": job.id, "status": job.status, "stage": job.stage, "name": job.name, "ref": pipeline.ref,
            "tag": False, "coverage": job.coverage, "allow_failure": False,
            "created_at": gl_time(job.created_at), "started_at": gl_time(job.started_at),
            "finished_at": gl_time(job.finished_at), "erased_at": None,
            "duration": None if duration is None else round(duration, 6),
            "queued_duration": None if job.started_at is None else
            round((job.started_at - job.created_at).total_seconds(), 6),
            "user": self._user_json(pipeline.user, base),
            "commit": {"id": pipeline.sha, "short_id": pipeline.sha[:8], "created_at": gl_time(pipeline.created_at),
                       "title": "", "message": "", "author_name": pipeline.user,
                       "author_email": f"{pipeline.user}@example.com"},
            "pipeline": {"id": pipeline.id, "iid": pipeline.iid, "project_id": project.id, "sha": pipeline.sha,
                         "ref": pipeline.ref, "status": pipeline.status, "source": "push",
                         "created_at": gl_time(pipeline.created_at), "updated_at": gl_time(pipeline.updated_at),
                         "web_url": f"{base}/{project.path_with_namespace}/-/pipelines/{pipeline.id}"},
            "web_url": f"{base}/{project.path_with_namespace}/-/jobs/{job.id}",
            "project": {"ci_job_token_scope_enabled": False}, "artifacts": [], "runner": None,
            "artifacts_expire_at": None, "archived": False, "tag_list": ["docker"],
        }
        if job.status == "failed":
            payload["failure_reason"] = "script_failure"
        return payload

    def _deployment_json(self, project: GitLabProject, deployment: GitLabDeployment, base: str) -> dict[str, Any]:
        environment_id = project.id * 10 + (1 if deployment.environment == "production" else 2)
        return {
            "id": deployment.id, "iid": deployment.iid, "ref": deployment.ref, "sha": deployment.sha,
            "created_at": gl_time(deployment.created_at), "updated_at": gl_time(deployment.updated_at),
            "finished_at": gl_time(deployment.finished_at), "status": deployment.status,
            "user": self._user_json(deployment.user, base),
            "environment": {"id": environment_id, "name": deployment.environment, "slug": deployment.environment,
                            "external_url": f"https://{deployment.environment}.{project.name}.example.com",
                            "state": "available", "tier": deployment.environment,
                            "created_at": gl_time(project.created_at), "updated_at": gl_time(deployment.updated_at)},
            "deployable": self._job_json(project, deployment.pipeline, deployment.job, base),
        }

    def _milestone_json(self, project: GitLabProject, milestone: GitLabMilestone, base: str) -> dict[str, Any]:
        return {"id": milestone.id, "iid": milestone.iid, "project_id": project.id, "title": milestone.title,
                "description": f"Two-week sprint {milestone.iid}", "state": milestone.state,
                "created_at": gl_time(milestone.created_at), "updated_at": gl_time(milestone.updated_at),
                "due_date": milestone.due_date.isoformat(), "start_date": milestone.start_date.isoformat(),
                "expired": milestone.due_date < self.site.anchor.date(),
                "web_url": f"{base}/{project.path_with_namespace}/-/milestones/{milestone.iid}"}

    def _release_json(self, project: GitLabProject, release: GitLabRelease, base: str) -> dict[str, Any]:
        web = f"{base}/{project.path_with_namespace}"
        return {
            "name": release.name, "tag_name": release.tag_name, "description": f"Sprint release {release.tag_name}",
            "created_at": gl_time(release.created_at), "released_at": gl_time(release.released_at),
            "upcoming_release": False, "author": self._user_json(release.author, base),
            "commit": {"id": release.sha, "short_id": release.sha[:8], "title": "", "created_at":
                       gl_time(release.created_at), "parent_ids": [], "message": "", "author_name": release.author},
            "milestones": [] if release.milestone is None else
            [self._milestone_json(project, release.milestone, base)],
            "commit_path": f"/{project.path_with_namespace}/-/commit/{release.sha}",
            "tag_path": f"/{project.path_with_namespace}/-/tags/{release.tag_name}",
            "assets": {"count": 2, "sources": [
                {"format": fmt, "url": f"{web}/-/archive/{release.tag_name}/{project.name}-{release.tag_name}.{fmt}"}
                for fmt in ("zip", "tar.gz")], "links": []},
            "evidences": [],
            "_links": {"self": f"{web}/-/releases/{release.tag_name}",
                       "edit_url": f"{web}/-/releases/{release.tag_name}/edit"},
        }

    def _merge_request_json(self, project: GitLabProject, mr: GitLabMergeRequest, base: str) -> dict[str, Any]:
        author = self._user_json(mr.author, base)
        return {
            "id": mr.id, "iid": mr.iid, "project_id": project.id, "title": mr.title, "description": "",
            "state": mr.state, "created_at": gl_time(mr.created_at), "updated_at": gl_time(mr.updated_at),
            "merged_by": author if mr.merged_at else None, "merge_user": author if mr.merged_at else None,
            "merged_at": gl_time(mr.merged_at), "closed_by": author if mr.closed_at else None,
            "closed_at": gl_time(mr.closed_at), "target_branch": mr.target_branch,
            "source_branch": mr.source_branch, "user_notes_count": 0, "upvotes": 0, "downvotes": 0,
            "author": author, "assignees": [author], "assignee": author, "reviewers": [],
            "source_project_id": project.id, "target_project_id": project.id, "labels": [], "draft": False,
            "work_in_progress": False, "milestone": None, "merge_when_pipeline_succeeds": False,
            "merge_status": "can_be_merged", "detailed_merge_status": "not_open" if mr.state != "opened" else "mergeable",
            "sha": mr.sha, "merge_commit_sha": mr.merge_commit_sha, "squash_commit_sha": mr.squash_commit_sha,
            "discussion_locked": None, "should_remove_source_branch": None, "force_remove_source_branch": True,
            "prepared_at": gl_time(mr.created_at), "reference": f"!{mr.iid}",
            "references": {"short": f"!{mr.iid}", "relative": f"!{mr.iid}",
                           "full": f"{project.path_with_namespace}!{mr.iid}"},
            "web_url": f"{base}/{project.path_with_namespace}/-/merge_requests/{mr.iid}",
            "time_stats": {"time_estimate": 0, "total_time_spent": 0, "human_time_estimate": None,
                           "human_total_time_spent": None},
            "squash": mr.squash, "squash_on_merge": mr.squash,
            "task_completion_status": {"count": 0, "completed_count": 0}, "has_conflicts": False,
            "blocking_discussions_resolved": True, "approvals_before_merge": None,
        }


def _json(status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> ApiResponse:
    return ApiResponse(status, json.dumps(body, separators=(",", ":")).encode(),
                       [("Content-Type", "application/json")] + (headers or []))


def _sort(request: ApiRequest, default: str) -> str:
    sort = request.param("sort", default)
    if sort not in ("asc", "desc"):
        raise _HttpError(400, {"error": "sort does not have a valid value"})
    return sort


def _time_param(request: ApiRequest, name: str) -> datetime | None:
    raw = request.param(name)
    if raw is None or raw == "":
        return None
    try:
        text = raw.strip().replace("Z", "+00:00")
        text = text.replace(" ", "+") if "T" in text else text.replace(" ", "T")  # an unencoded '+' arrives as ' '
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _HttpError(400, {"error": f"{name} is invalid"}) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _positive_int(raw: str | None, default: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return value if value >= 1 else default
