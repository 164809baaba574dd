"""Jenkins streams: the builds of each job, and the Coverage plugin's numbers of each build.

Scope: one job, named by its full name (`payments/ledger`: folders and job separated by
`/`, which Jenkins forbids inside a name). `discover_jenkins_jobs` lists the buildable
jobs of a controller by walking its folders.

Replication of `jenkins__builds` (its own read loop, `read_builds`): Jenkins lists a job's
builds newest first (`allBuilds`, by build number; a build gets its number and its start
`timestamp` in the same moment, so number order is start order) and pages it with the
`tree` range `{m,n}`, which also keeps the controller from loading every build record.
A night reads pages of 100 until it reaches a build started before watermark - overlap.

The cursor is the build's start (`started_at`, ISO 8601 from the epoch-ms `timestamp`),
which is what the listing is sorted by. A build still running at the previous sync is
re-read the next night: it started within one build duration before that sync, and the
watermark (the newest start read) is no later than the sync, so the next bound,
watermark - overlap, lies before its start whenever the overlap exceeds the longest build
(Jenkins builds are bounded by their timeouts; the default 72 h does). Its record then
changes (result, end, duration) and the loader rewrites it. A cursor that moves when a
build finishes would not follow the listing's order, and the early stop would miss builds.

Coverage (`jenkins__build_coverage`): one request per finished SUCCESS/UNSTABLE build in
the increment that carries the Coverage plugin's build action, never for others (no
404 storm on controllers without the plugin); a build's coverage is not re-read once its
`finished_at` is loaded (`change_field`). The archived report itself is not parsed here:
each build lists its artifacts with the API path to download them.

People: culprits, change-set authors, e-mails and messages, and the user who started a
build are not requested (`tree` selects only what team KPIs use).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Iterator, Mapping
from urllib.parse import quote

from extractors.errors import ExtractError
from extractors.reports.errors import ReportContext
from extractors.reports.landing import file_records, is_report_name
from extractors.streams.base import Stream, register_scope_kind

if TYPE_CHECKING:
    from extractors.http import HttpClient

log = logging.getLogger("extractors.streams.jenkins")

BUILDS_PAGE_SIZE = 100
HEAD_RECHECKS = 3  # re-reads of a job's first page after paging, until it holds still

# Items that hold other items. A multibranch project's children are its branch jobs, an
# organization folder's children are multibranch projects: both are walked.
FOLDER_CLASSES = frozenset({
    "com.cloudbees.hudson.plugins.folder.Folder",
    "jenkins.branch.OrganizationFolder",
    "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject",
})
# Items that have builds. Anything else (agent templates, views, unknown plugins) is skipped.
BUILDABLE_CLASSES = frozenset({
    "org.jenkinsci.plugins.workflow.job.WorkflowJob",
    "hudson.model.FreeStyleProject",
    "hudson.maven.MavenModuleSet",
    "hudson.matrix.MatrixProject",
})
MAX_FOLDER_DEPTH = 10

# The Coverage plugin (io.jenkins.plugins:coverage, and code-coverage-api before it) adds
# this action to a build that recorded coverage; its REST API is `<build>/coverage/api/json`.
COVERAGE_ACTION_PREFIX = "io.jenkins.plugins.coverage."
COVERAGE_ACTION_SUFFIX = ".CoverageBuildAction"
RESULTS_WITH_COVERAGE = ("SUCCESS", "UNSTABLE")

# What a build page selects. `changeSet` is the freestyle spelling, `changeSets` Pipeline's.
BUILD_TREE = (
    "number,result,building,timestamp,duration,estimatedDuration,queueId,url,"
    "actions[lastBuiltRevision[SHA1,branch[name]],remoteUrls,failCount,skipCount,totalCount,causes[_class]],"
    "artifacts[relativePath],changeSet[items[commitId]],changeSets[items[commitId]]"
)


# -- scope --------------------------------------------------------------------------


def job_segments(full_name: str) -> list[str]:
    """The names along a job's full name, each checked to stay one URL path segment."""
    segments = full_name.split("/")
    for segment in segments:
        if not segment or segment in (".", "..") or segment != segment.strip():
            raise ValueError(f"a Jenkins job scope is 'folder/.../job' with non-empty names, got {full_name!r}")
    return segments


def job_path(full_name: str) -> str:
    """`payments/ledger` -> `/job/payments/job/ledger`; every name is quoted whole, so a `%`,
    `?`, `#`, quote or space stays inside its segment and `..` is refused."""
    return "".join(f"/job/{quote(segment, safe='')}" for segment in job_segments(full_name))


def _usable_name(name: Any) -> bool:
    if not isinstance(name, str) or "/" in name:
        return False
    try:
        job_segments(name)
    except ValueError:
        return False
    return True


def _jenkins_job(scope: str) -> dict[str, str]:
    return {"job": scope, "job_path": job_path(scope)}


register_scope_kind("jenkins_job", _jenkins_job)


# -- discovery ----------------------------------------------------------------------


def discover_jenkins_jobs(client: "HttpClient", folders: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Full names of the buildable jobs under `folders` (full names; none: the whole controller).

    One request per folder (`tree=jobs[name,url,_class]`). Names Jenkins would never
    produce ('/' inside, '.', '..') are skipped with a warning rather than followed.
    """
    found: list[str] = []
    pending: list[tuple[str, int]] = [(folder, 0) for folder in folders] if folders else [("", 0)]
    while pending:
        folder, depth = pending.pop()
        path = (job_path(folder) if folder else "") + "/api/json"
        body = client.get_json(path, {"tree": "jobs[name,url,_class]"})
        for item in (body or {}).get("jobs") or []:
            name, kind = item.get("name"), item.get("_class")
            if not _usable_name(name):
                log.warning("skipping Jenkins item %r in %r: not a usable job name", name, folder or "/")
                continue
            full_name = f"{folder}/{name}" if folder else name
            if kind in BUILDABLE_CLASSES:
                found.append(full_name)
            elif kind in FOLDER_CLASSES:
                if depth + 1 >= MAX_FOLDER_DEPTH:
                    log.warning("not descending into %s: folders nested deeper than %d", full_name, MAX_FOLDER_DEPTH)
                    continue
                pending.append((full_name, depth + 1))
            else:
                log.debug("skipping Jenkins item %s of class %s", full_name, kind)
    return sorted(found)


# -- record shaping -----------------------------------------------------------------


def iso_from_epoch_ms(epoch_ms: int | None) -> str | None:
    """Jenkins times are epoch milliseconds; cursors and raw tables want ISO 8601 UTC."""
    if epoch_ms is None:
        return None
    moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=int(epoch_ms))
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _artifact_api_path(build_path: str, relative_path: str) -> str | None:
    segments = relative_path.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        return None  # not a path Jenkins archives; never let it climb out of the build
    return f"{build_path}/artifact/" + "/".join(quote(segment, safe="") for segment in segments)


def _checkouts(actions: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each git checkout of the build (one BuildData action each, in checkout order)."""
    checkouts = []
    for action in actions:
        revision = action.get("lastBuiltRevision")
        if not revision:
            continue
        branch = next((b.get("name") for b in revision.get("branch") or [] if isinstance(b, Mapping)), None)
        checkouts.append({"sha": revision.get("SHA1"), "branch": branch,
                          "remote_urls": list(action.get("remoteUrls") or [])})
    return checkouts


def _change_commit_ids(raw: Mapping[str, Any]) -> list[str]:
    change_sets = list(raw.get("changeSets") or []) + ([raw["changeSet"]] if raw.get("changeSet") else [])
    return [item["commitId"] for change_set in change_sets if isinstance(change_set, Mapping)
            for item in change_set.get("items") or [] if isinstance(item, Mapping) and item.get("commitId")]


def _artifacts(build_path: str, raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = []
    for artifact in raw.get("artifacts") or []:
        relative = artifact.get("relativePath") if isinstance(artifact, Mapping) else None
        if relative:
            found.append({"relative_path": relative, "api_path": _artifact_api_path(build_path, relative)})
    return found


def _records_coverage(actions: list[Mapping[str, Any]]) -> bool:
    return any(str(action.get("_class", "")).startswith(COVERAGE_ACTION_PREFIX)
               and str(action.get("_class", "")).endswith(COVERAGE_ACTION_SUFFIX) for action in actions)


def build_record(job: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """One build as landed: result, times, the commit built, tests, artifacts; no people."""
    number = int(raw["number"])
    building = bool(raw.get("building"))
    result = None if building else raw.get("result")
    started_ms = raw.get("timestamp")
    duration_ms = None if building else raw.get("duration")
    actions = [action for action in raw.get("actions") or [] if isinstance(action, Mapping)]
    # A Pipeline may check out several repositories (shared libraries too). `commit_sha`
    # and `branch` are the first checkout's; `checkouts` keeps every one with its remote
    # URLs, so a mart can pick the repository's own where that matters.
    checkouts = _checkouts(actions)
    tests = next((action for action in actions if "totalCount" in action), {})
    build_path = f"{job_path(job)}/{number}"
    return {
        "job": job,
        "number": number,
        "result": result,
        "building": building,
        "started_at": iso_from_epoch_ms(started_ms),
        "finished_at": None if started_ms is None or duration_ms is None
        else iso_from_epoch_ms(int(started_ms) + int(duration_ms)),
        "duration_ms": duration_ms,
        "estimated_duration_ms": raw.get("estimatedDuration"),
        "queue_id": raw.get("queueId"),
        "url": raw.get("url"),
        "commit_sha": checkouts[0]["sha"] if checkouts else None,
        "branch": checkouts[0]["branch"] if checkouts else None,
        "checkouts": checkouts,
        "change_commit_ids": _change_commit_ids(raw),
        # Cause classes only (SCM change, timer, user, upstream): who clicked is not kept.
        "trigger_causes": [cause.get("_class") for action in actions for cause in action.get("causes") or []
                           if isinstance(cause, Mapping) and cause.get("_class")],
        "tests_total": tests.get("totalCount"),
        "tests_failed": tests.get("failCount"),
        "tests_skipped": tests.get("skipCount"),
        "artifacts": _artifacts(build_path, raw),
        # Set only where a coverage read is due: the build finished SUCCESS or UNSTABLE and
        # the Coverage plugin recorded a result. The child stream reads exactly these.
        "coverage_api": f"{build_path}/coverage/api/json"
        if result in RESULTS_WITH_COVERAGE and _records_coverage(actions) else None,
    }


def _percent(text: Any) -> float | None:
    """'83.51%' -> 83.51 (a decimal comma, as some locales render it, is accepted)."""
    if text is None:
        return None
    cleaned = str(text).strip().rstrip("%").strip()
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        return float(cleaned)
    except ValueError:
        return None


def _count(text: Any) -> int | None:
    """'12,345' or '12345' -> 12345 (grouping separators dropped)."""
    if text is None:
        return None
    cleaned = str(text).strip().replace(",", "").replace("\u00a0", "").replace(" ", "").replace("'", "")
    try:
        return int(cleaned)
    except ValueError:
        return None


def coverage_record(job: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The Coverage plugin's project numbers; `project_statistics` keeps every metric as sent."""
    statistics = dict(body.get("projectStatistics") or {})
    return {
        "job": job,
        "line_percent": _percent(statistics.get("line")),
        "branch_percent": _percent(statistics.get("branch")),
        "loc": _count(statistics.get("loc")),
        "project_statistics": statistics,
        "project_delta": dict(body.get("projectDelta") or {}),
        "quality_gate": (body.get("qualityGates") or {}).get("overallResult"),
    }


# -- read loops -----------------------------------------------------------------------


def _parse_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def read_builds(client: "HttpClient", stream: Stream, variables: Mapping[str, Any],
                watermark: str | None, overlap: timedelta) -> Iterator[dict[str, Any]]:
    """Pages of 100 builds, newest first, down to the first build started before the bound.

    A build started or finished while we page lands on the first page, which was already
    read (and shifts the others down: a build read twice is kept once). After more than one
    page the first page is read again, until it holds still (at most HEAD_RECHECKS times), so
    the batch has every build in its newest state; a one-page read has nothing to re-check.
    """
    bound_ms = None
    if watermark:
        bound_ms = (_parse_iso(watermark) - overlap).timestamp() * 1000
    path = f"{variables['job_path']}/api/json"

    def page(start: int) -> list[dict[str, Any]] | None:
        body = client.get_json(path, {"tree": f"allBuilds[{BUILD_TREE}]{{{start},{start + BUILDS_PAGE_SIZE}}}"})
        builds = (body or {}).get("allBuilds")
        if builds is not None and not isinstance(builds, list):
            raise ExtractError(f"{stream.name}: allBuilds of {path} is not a list")
        return builds

    def within(builds: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
        """The builds started after the bound, and whether the bound was reached."""
        if bound_ms is None:
            return builds, False
        kept = [raw for raw in builds if raw.get("timestamp") is None or raw["timestamp"] >= bound_ms]
        return kept, len(kept) < len(builds)  # newest first: every later build started earlier still

    start = 0
    head = page(0)
    if head is None:
        return  # not a job with builds (e.g. a folder renamed into its place)
    builds = head
    while True:
        kept, reached_bound = within(builds)
        for raw in kept:
            yield build_record(variables["job"], raw)
        if reached_bound or len(builds) < BUILDS_PAGE_SIZE:
            break
        start += BUILDS_PAGE_SIZE
        builds = page(start) or []
    if start == 0:
        return
    for _ in range(HEAD_RECHECKS):
        again = page(0) or []
        if again == head:
            return
        log.info("%s: the first page of %s changed while paging; reading it again", stream.name, path)
        for raw in within(again)[0]:
            yield build_record(variables["job"], raw)
        head = again


def read_build_coverage(client: "HttpClient", stream: Stream, variables: Mapping[str, Any],
                        watermark: str | None, overlap: timedelta) -> Iterator[dict[str, Any]]:
    """The coverage of one build, when its record says a read is due (`coverage_api`)."""
    path = variables.get("coverage_api")
    if not path:
        return
    yield coverage_record(variables["job"], client.get_json(path) or {})


MAX_ARTIFACT_BYTES = 256 * 1024 * 1024


def read_build_reports(client: "HttpClient", stream: Stream, variables: Mapping[str, Any],
                       watermark: str | None, overlap: timedelta) -> Iterator[dict[str, Any]]:
    """The reports a finished build archived (coverage files and the like), parsed, one
    record per file; names that carry no report are not downloaded."""
    if not variables.get("finished_at"):
        return
    context = ReportContext(repository=str(variables["job"]), run_id=str(variables["number"]), source="jenkins")
    for artifact in variables.get("artifacts") or []:
        relative, api_path = artifact.get("relative_path"), artifact.get("api_path")
        if not api_path or not is_report_name(relative.rsplit("/", 1)[-1], stream.params.get("report_name_patterns")):
            continue
        data = client.download(api_path, MAX_ARTIFACT_BYTES)
        for record in file_records(data, filename=relative, context=context):
            yield {**record, "job": variables["job"], "number": variables["number"]}


_STREAMS = (
    Stream(
        name="jenkins__builds",
        source="jenkins",
        path="{job_path}/api/json",
        primary_key=("job", "number"),
        cursor_field="started_at",
        scope="jenkins_job",
        replication="sorted_desc",
        reader=read_builds,
        # A build's children (coverage) are read once it finished; its end never moves after.
        change_field="finished_at",
    ),
    Stream(
        name="jenkins__build_coverage",
        source="jenkins",
        path="{coverage_api}",
        primary_key=("job", "number"),
        cursor_field="finished_at",
        scope="jenkins_job",
        parent="jenkins__builds",
        parent_key_fields={"number": "number", "finished_at": "finished_at", "coverage_api": "coverage_api"},
        reader=read_build_coverage,
        # One request per build: a first sync of years of builds may be limited to the
        # recent ones with extract_scope's detail_horizon (full_refresh reads all).
        bounded_backfill=True,
    ),
    # Archived report files (exact line counts; the Coverage plugin rounds to a percent).
    Stream(
        name="jenkins__build_reports",
        source="jenkins",
        path="{job_path}/{number}/artifact",
        primary_key=("job", "number", "file_name"),
        scope="jenkins_job",
        parent="jenkins__builds",
        parent_key_fields={"number": "number", "finished_at": "finished_at", "artifacts": "artifacts"},
        reader=read_build_reports,
        bounded_backfill=True,
        change_field=None,
    ),
)

JENKINS_STREAMS: dict[str, Stream] = {stream.name: stream for stream in _STREAMS}
