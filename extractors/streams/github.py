"""GitHub REST streams. Adding a stream means adding one entry to GITHUB_STREAMS.

Replication, per stream:
- `sorted_desc`: the endpoint lists newest first by `cursor_field`; a read stops at the
  first record older than watermark - overlap (`sort=updated&direction=desc` where the
  endpoint offers it).
- `incremental_params`: the endpoint filters server-side (`since` on /issues,
  `created=>=DATE` on Actions runs), sent only when a watermark exists.
- children (`parent=`): read once per parent record landed in the same run, so they
  follow the parent's increment (reviews/commits of the pull requests updated in the
  window, statuses of the deployments in the window, jobs/artifacts of recent runs).
Every stream also sends `If-None-Match` with the first page's ETag of the previous run
(see extractors.extract): an unchanged scope costs one 304.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Iterator, Mapping

from extractors.http import HttpClient
from extractors.reports.errors import ReportContext
from extractors.reports.landing import archive_records, is_report_name
from extractors.streams.base import Stream, register_scope_kind

log = logging.getLogger(__name__)

MAX_ARTIFACT_BYTES = 256 * 1024 * 1024


def _org(scope: str) -> dict[str, str]:
    if not scope or "/" in scope:
        raise ValueError(f"an org scope is one login, got {scope!r}")
    return {"org": scope, "owner": scope}


def _repository(scope: str) -> dict[str, str]:
    owner, sep, repo = scope.partition("/")
    if not sep or not owner or not repo or "/" in repo:
        raise ValueError(f"a repository scope is 'owner/repo', got {scope!r}")
    return {"org": owner, "owner": owner, "repo": repo}


register_scope_kind("org", _org)
register_scope_kind("repository", _repository)


def read_artifact_reports(
    client: HttpClient, stream: Stream, variables: Mapping[str, Any], watermark: str | None, overlap: timedelta,
) -> Iterator[dict[str, Any]]:
    """Download one artifact (a ZIP) and yield one record per report inside it (see
    extractors.reports.landing: a report that does not parse is a `rejected` record).
    Not downloaded: artifacts of pull-request runs (the KPIs read the default branch's
    reports), expired ones (GitHub keeps them 90 days by default) and names that carry no
    report (stream param `artifact_name_patterns`)."""
    name = str(variables["artifact_name"])
    if (variables.get("run_event") == "pull_request" or variables.get("artifact_expired")
            or not is_report_name(name, stream.params.get("artifact_name_patterns"))):
        return
    repository = f"{variables['owner']}/{variables['repo']}"
    data = client.download(f"/repos/{repository}/actions/artifacts/{variables['artifact_id']}/zip", MAX_ARTIFACT_BYTES)
    yield from archive_records(data, archive_name=f"{name}.zip",
                               context=ReportContext(repository=repository, run_id=str(variables["run_id"]),
                                                     source="github"))


# head/base carry whole repository objects whose counters change on every push: keeping
# them would rewrite every pull request of the window each night for nothing.
PULL_REQUEST_FIELDS = (
    "id", "number", "state", "title", "user.login", "user.id", "user.type", "created_at",
    "updated_at", "closed_at", "merged_at", "merge_commit_sha", "draft",
    "head.ref", "head.sha", "head.label", "base.ref", "base.sha", "base.label",
    "labels", "html_url", "author_association",
)

# Dates and ancestry only: who wrote a commit is not a team-level fact.
COMMIT_FIELDS = ("sha", "parents", "commit.author.date", "commit.committer.date")

_STREAMS = (
    # Read whole every night it changed (the scopes of the night), newest update first so
    # that an unchanged first page (304) proves the listing unchanged: a quiet night costs
    # one request however many pages the organisation fills. (On a 304 night the scopes are
    # the repositories the warehouse holds, deleted ones included: their streams answer 404
    # and are skipped.)
    Stream(
        name="github__repositories",
        first_page_reflects_changes=True,
        source="github",
        path="/orgs/{org}/repos",
        primary_key=("id",),
        cursor_field="updated_at",
        scope="org",
        params={"type": "all", "sort": "updated", "direction": "desc", "per_page": 100},
        replication="full",
    ),
    Stream(
        name="github__pull_requests",
        first_page_reflects_changes=True,
        source="github",
        path="/repos/{owner}/{repo}/pulls",
        primary_key=("id",),
        cursor_field="updated_at",
        scope="repository",
        params={"state": "all", "sort": "updated", "direction": "desc", "per_page": 100},
        replication="sorted_desc",
        keep_fields=PULL_REQUEST_FIELDS,
    ),
    # Listed newest first and not filterable by update time: re-reading the overlap
    # window also re-reads the statuses of recent deployments, which still change.
    Stream(
        name="github__deployments",
        source="github",
        path="/repos/{owner}/{repo}/deployments",
        primary_key=("id",),
        cursor_field="created_at",
        scope="repository",
        params={"per_page": 100},
        replication="sorted_desc",
    ),
    Stream(
        name="github__deployment_statuses",
        source="github",
        path="/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
        primary_key=("id",),
        cursor_field="updated_at",
        scope="repository",
        params={"per_page": 100},
        replication="full",
        parent="github__deployments",
        parent_key_fields={"deployment_id": "id"},
    ),
    # Children of the pull requests landed in this run (updated within the window).
    Stream(
        name="github__pull_request_reviews",
        bounded_backfill=True,
        source="github",
        path="/repos/{owner}/{repo}/pulls/{pull_number}/reviews",
        primary_key=("id",),
        cursor_field="submitted_at",
        params={"per_page": 100},
        parent="github__pull_requests",
        parent_key_fields={"pull_number": "number", "pull_request_id": "id"},
    ),
    # The commits of a pull request map it to deployments (deployment sha in its commits).
    Stream(
        name="github__pull_request_commits",
        bounded_backfill=True,
        source="github",
        path="/repos/{owner}/{repo}/pulls/{pull_number}/commits",
        primary_key=("pull_request_id", "sha"),
        params={"per_page": 100},
        parent="github__pull_requests",
        parent_key_fields={"pull_number": "number", "pull_request_id": "id"},
        keep_fields=COMMIT_FIELDS,
    ),
    # The default branch's history (GitHub: the default branch when no `sha` is given),
    # newest first; `since` filters on the commit date. Its parent links let the marts
    # tell which commits a deployment shipped, without timestamps standing in for ancestry.
    Stream(
        name="github__commits",
        source="github",
        path="/repos/{owner}/{repo}/commits",
        primary_key=("sha",),
        cursor_field="commit.committer.date",
        params={"per_page": 100},
        incremental_params={"since": "{since_iso}"},
        keep_fields=COMMIT_FIELDS,
        key_includes_scope=True,  # a fork shares commits with its parent repository
        change_field=None,
    ),
    # Listed newest first by publication; edits to releases older than the window are
    # not re-read (releases are rarely edited; a full refresh picks them up).
    Stream(
        name="github__releases",
        source="github",
        path="/repos/{owner}/{repo}/releases",
        primary_key=("id",),
        cursor_field="published_at",
        params={"per_page": 100},
        replication="sorted_desc",
    ),
    # Few per repository: read whole (one page, so mostly a 304).
    Stream(
        name="github__milestones",
        source="github",
        path="/repos/{owner}/{repo}/milestones",
        primary_key=("id",),
        cursor_field="updated_at",
        params={"state": "all", "per_page": 100},
    ),
    # /issues lists pull requests too (with a `pull_request` key): those are dropped.
    Stream(
        name="github__issues",
        source="github",
        path="/repos/{owner}/{repo}/issues",
        primary_key=("id",),
        cursor_field="updated_at",
        params={"state": "all", "sort": "updated", "direction": "desc", "per_page": 100},
        replication="sorted_desc",
        incremental_params={"since": "{since_iso}"},
        exclude_if_present=("pull_request",),
        first_page_reflects_changes=True,
    ),
    # Newest first by creation; runs finish within hours, so re-reading the runs created
    # in the window (created=>=DATE) catches their completion.
    Stream(
        name="github__workflow_runs",
        source="github",
        path="/repos/{owner}/{repo}/actions/runs",
        primary_key=("id",),
        cursor_field="created_at",
        params={"per_page": 100},
        records_path="workflow_runs",
        incremental_params={"created": ">={since_date}"},
        keep_fields=(
            "id", "name", "node_id", "head_branch", "head_sha", "path", "run_number", "run_attempt",
            "event", "status", "conclusion", "workflow_id", "url", "html_url", "pull_requests",
            "created_at", "updated_at", "run_started_at", "actor", "triggering_actor",
            "head_commit", "display_title",
        ),
    ),
    Stream(
        name="github__workflow_jobs",
        bounded_backfill=True,
        source="github",
        path="/repos/{owner}/{repo}/actions/runs/{run_id}/jobs",
        primary_key=("id",),
        cursor_field="started_at",
        params={"per_page": 100},
        records_path="jobs",
        parent="github__workflow_runs",
        parent_key_fields={"run_id": "id"},
    ),
    Stream(
        name="github__workflow_artifacts",
        bounded_backfill=True,
        source="github",
        path="/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts",
        primary_key=("id",),
        cursor_field="updated_at",
        params={"per_page": 100},
        records_path="artifacts",
        parent="github__workflow_runs",
        parent_key_fields={"run_id": "id", "run_event": "event"},
    ),
    # The reports inside report artifacts (coverage, SARIF, OpenAPI, benchmarks), parsed
    # by extractors.reports: one record per report file, or a `rejected` one with the reason.
    Stream(
        name="github__artifact_reports",
        bounded_backfill=True,
        source="github",
        path="/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/zip",
        primary_key=("run_id", "file_name"),
        key_includes_scope=True,
        parent="github__workflow_artifacts",
        parent_key_fields={"artifact_id": "id", "artifact_name": "name", "artifact_expired": "expired",
                           "run_id": "run_id", "run_event": "run_event"},
        reader=read_artifact_reports,
        change_field=None,
    ),
    # Alert numbers are per repository: keys carry the scope.
    Stream(
        name="github__code_scanning_alerts",
        source="github",
        path="/repos/{owner}/{repo}/code-scanning/alerts",
        primary_key=("number",),
        cursor_field="updated_at",
        params={"sort": "updated", "direction": "desc", "per_page": 100},
        replication="sorted_desc",
        key_includes_scope=True,
        first_page_reflects_changes=True,
    ),
    # Cursor pagination (`after`, no `page`): followed through Link rel="next".
    Stream(
        name="github__dependabot_alerts",
        source="github",
        path="/repos/{owner}/{repo}/dependabot/alerts",
        primary_key=("number",),
        cursor_field="updated_at",
        params={"sort": "updated", "direction": "desc", "per_page": 100},
        replication="sorted_desc",
        key_includes_scope=True,
        first_page_reflects_changes=True,
    ),
)

GITHUB_STREAMS: dict[str, Stream] = {stream.name: stream for stream in _STREAMS}
