"""GitLab REST v4 streams: pipelines (with their details and jobs), deployments, merge
requests, releases and milestones of each project, and the project listing of a group.

Scopes: `gitlab_group` (a group's full path, `acme` or `acme/mobile`) and `gitlab_project`
(a project's full path, `acme/web-app`). GitLab takes a full path as ONE URL-encoded path
segment (`/projects/acme%2Fweb-app`), so the placeholder is the whole path quoted with no
safe characters: a `/`, `%2F`, `?`, `#`, quote or space can never leave its segment.

Replication, per stream:
- pipelines, deployments, merge requests: filtered server-side by `updated_after`
  (watermark - overlap, only on incremental reads) and listed by `updated_at`, oldest
  first, so a night reads what changed in the window and nothing older. Offset pages over
  a changing list can skip a record that shifts across a page boundary while paging;
  oldest first, the record that changed is read again at the end, and the one skipped is
  still inside the next night's overlap. GitLab requires deployments' `updated_after` to
  be paired with `order_by=updated_at`.
- pipeline details and jobs: children of the pipelines landed in the run, re-read only for
  pipelines whose `updated_at` moved since they were loaded. The pipeline list carries
  only GitLab's "basic" fields; `started_at`, `finished_at`, `duration`,
  `queued_duration` and `coverage` are on the single pipeline. One request per changed
  pipeline buys GitLab's own numbers (its `duration` leaves out queueing and overlapping
  jobs, which the jobs alone cannot reproduce once jobs are retried or manual). Both are
  `bounded_backfill`: a first sync may read them only for recent pipelines (detail_horizon).
  Jobs are the latest attempt of each (GitLab's default, without `include_retried`).
- releases: listed newest first by `created_at`; a night stops at the first release
  created before the window (edits of older releases wait for a full refresh). Not by
  `released_at`: an upcoming release is dated in the future, and a watermark there would
  hide every release published before that date.
- milestones: few per project, read whole.

Pagination: `Link: rel="next"` (offset and keyset) with `X-Next-Page` as the fallback
where a proxy drops `Link` (`XNextPagePaginator`); keyset (`pagination=keyset`, by id) for
the group's project listing, with offset where an older GitLab refuses keyset (405).

People: authors, assignees, reviewers, mergers, closers, pipeline and deployment users,
job users and runners, and commit author names/e-mails are dropped (team KPIs need none).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Iterator, Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import requests

from extractors.errors import HttpError
from extractors.pagination import PageRequest
from extractors.streams.base import Stream, register_scope_kind

if TYPE_CHECKING:
    from extractors.http import HttpClient

log = logging.getLogger("extractors.streams.gitlab")

PER_PAGE = 100


# -- scopes ---------------------------------------------------------------------------


def encoded_full_path(full_path: str) -> str:
    """`acme/web-app` -> `acme%2Fweb-app`: one path segment, as GitLab's `:id` expects."""
    segments = full_path.split("/")
    for segment in segments:
        # GitLab paths start with a letter, digit or '_': '.' and '..' never name a
        # namespace, and refusing them keeps dot-segment normalisation out of play.
        if not segment or segment in (".", "..") or segment != segment.strip():
            raise ValueError(f"a GitLab path is 'group/.../name' with non-empty names, got {full_path!r}")
    return quote(full_path, safe="")


def _gitlab_group(scope: str) -> dict[str, str]:
    return {"group": encoded_full_path(scope)}


def _gitlab_project(scope: str) -> dict[str, str]:
    if "/" not in scope:
        raise ValueError(f"a GitLab project scope is 'group/.../project', got {scope!r}")
    return {"project": encoded_full_path(scope)}


register_scope_kind("gitlab_group", _gitlab_group)
register_scope_kind("gitlab_project", _gitlab_project)


# -- pagination -------------------------------------------------------------------------


@dataclass(frozen=True)
class XNextPagePaginator:
    """GitLab offset pagination: `Link rel="next"` when sent, else the `X-Next-Page` header
    (empty on the last page), applied to the URL just requested."""

    def next_request(
        self, previous: PageRequest, response: requests.Response, records: list[dict]
    ) -> PageRequest | None:
        link = response.links.get("next")
        if link and link.get("url"):
            return PageRequest(url=link["url"], params=None)
        next_page = (response.headers.get("X-Next-Page") or "").strip()
        if not next_page.isdigit() or not response.url:
            return None
        parts = urlsplit(response.url)
        query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "page"]
        query.append(("page", next_page))
        return PageRequest(url=urlunsplit(parts._replace(query=urlencode(query))), params=None)


PAGINATOR = XNextPagePaginator()


# -- shaping ------------------------------------------------------------------------------


PROJECT_FIELDS = (
    "id", "name", "path", "path_with_namespace", "namespace.id", "namespace.full_path", "default_branch",
    "topics", "archived", "visibility", "created_at", "web_url",
)
PIPELINE_FIELDS = (
    "id", "iid", "project_id", "sha", "ref", "status", "source", "name", "created_at", "updated_at", "web_url",
)
# What the single pipeline adds to the list entry (its `user` is dropped).
PIPELINE_DETAIL_FIELDS = (
    "id", "status", "updated_at", "started_at", "finished_at", "committed_at", "duration", "queued_duration",
    "coverage", "tag", "before_sha",
)
JOB_FIELDS = (
    "id", "name", "stage", "status", "ref", "tag", "coverage", "allow_failure", "failure_reason",
    "created_at", "started_at", "finished_at", "duration", "queued_duration", "web_url", "artifacts",
)
DEPLOYMENT_FIELDS = (
    "id", "iid", "ref", "sha", "status", "created_at", "updated_at", "finished_at",
    "environment.id", "environment.name", "environment.tier",
    "deployable.id", "deployable.name", "deployable.stage", "deployable.pipeline.id",
)
MERGE_REQUEST_FIELDS = (
    "id", "iid", "project_id", "title", "state", "draft", "created_at", "updated_at", "merged_at", "closed_at",
    "target_branch", "source_branch", "source_project_id", "target_project_id", "sha", "merge_commit_sha",
    "squash_commit_sha", "squash", "labels", "milestone.id", "milestone.iid", "web_url",
)
# `expired` is left out: GitLab derives it from today's date, so it would rewrite a
# milestone the day its due date passes although nothing about it changed.
MILESTONE_FIELDS = (
    "id", "iid", "project_id", "group_id", "title", "state", "created_at", "updated_at", "start_date", "due_date",
    "web_url",
)


def release_record(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A release with the commit it tags and the ids of its milestones (not their bodies,
    whose `expired` and `state` would rewrite the release when its sprint closes)."""
    return {
        "tag_name": raw.get("tag_name"),
        "name": raw.get("name"),
        "created_at": raw.get("created_at"),
        "released_at": raw.get("released_at"),
        "upcoming_release": raw.get("upcoming_release"),
        "commit_sha": (raw.get("commit") or {}).get("id"),
        "milestones": [{"id": milestone.get("id"), "iid": milestone.get("iid"), "title": milestone.get("title")}
                       for milestone in raw.get("milestones") or [] if isinstance(milestone, Mapping)],
    }


# -- read loops ---------------------------------------------------------------------------


def _parse_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def group_projects(client: "HttpClient", encoded_group: str) -> Iterator[dict[str, Any]]:
    """Every project of a group and its subgroups, by id (keyset; offset where refused).

    `with_shared=false`: a project shared into the group belongs to another group's team.
    """
    path = f"/groups/{encoded_group}/projects"
    params = {"include_subgroups": "true", "with_shared": "false", "order_by": "id", "sort": "asc",
              "per_page": PER_PAGE}
    try:
        for page in client.paginate(path, {**params, "pagination": "keyset"}, paginator=PAGINATOR):
            yield from page.records
    except HttpError as error:
        if error.status != 405:
            raise
        # Nothing was yielded: GitLab refuses keyset on the first request, before any page.
        log.info("keyset pagination refused for %s; listing by offset", path)
        for page in client.paginate(path, params, paginator=PAGINATOR):
            yield from page.records


def discover_gitlab_projects(client: "HttpClient", group: str) -> list[str]:
    """Full paths of the projects of `group` (a full path) and its subgroups, sorted."""
    found = []
    for project in group_projects(client, encoded_full_path(group)):
        full_path = project.get("path_with_namespace")
        try:
            _gitlab_project(full_path if isinstance(full_path, str) else "")
        except ValueError:
            log.warning("skipping GitLab project %r of group %s: not a usable path", full_path, group)
            continue
        found.append(full_path)
    return sorted(found)


def read_group_projects(client: "HttpClient", stream: Stream, variables: Mapping[str, Any],
                        watermark: str | None, overlap: timedelta) -> Iterator[dict[str, Any]]:
    yield from group_projects(client, variables["group"])


def read_single_object(client: "HttpClient", stream: Stream, variables: Mapping[str, Any],
                       watermark: str | None, overlap: timedelta) -> Iterator[dict[str, Any]]:
    """Endpoints answering one object (a single pipeline) rather than a list."""
    body = client.get_json(stream.path.format(**variables), dict(stream.params) or None)
    if body:
        yield body


def read_releases(client: "HttpClient", stream: Stream, variables: Mapping[str, Any],
                  watermark: str | None, overlap: timedelta) -> Iterator[dict[str, Any]]:
    """Newest first by `created_at`, down to the first release created before the window."""
    bound = _parse_iso(watermark) - overlap if watermark else None
    pages = client.paginate(stream.path.format(**variables), dict(stream.params), paginator=PAGINATOR)
    for page in pages:
        older_seen = False
        for raw in page.records:
            created = raw.get(stream.cursor_field)
            if bound is not None and created and _parse_iso(created) < bound:
                older_seen = True
                continue
            yield release_record(raw)
        if older_seen:
            return


# What every project-level stream shares.
# The project itself answering while a listing is refused means the feature is off there.
_PROJECT = dict(source="gitlab", scope="gitlab_project", paginator=PAGINATOR, feature_probe="/projects/{project}")

_STREAMS = (
    Stream(
        name="gitlab__projects",
        source="gitlab",
        scope="gitlab_group",
        path="/groups/{group}/projects",
        primary_key=("id",),
        cursor_field="created_at",
        reader=read_group_projects,
        keep_fields=PROJECT_FIELDS,
    ),
    Stream(
        name="gitlab__pipelines",
        path="/projects/{project}/pipelines",
        primary_key=("id",),
        cursor_field="updated_at",
        params={"order_by": "updated_at", "sort": "asc", "per_page": PER_PAGE},
        incremental_params={"updated_after": "{since_iso}"},
        keep_fields=PIPELINE_FIELDS,
        **_PROJECT,
    ),
    Stream(
        name="gitlab__pipeline_details",
        path="/projects/{project}/pipelines/{id}",
        primary_key=("id",),
        cursor_field="updated_at",
        parent="gitlab__pipelines",
        parent_key_fields={"id": "id"},
        reader=read_single_object,
        keep_fields=PIPELINE_DETAIL_FIELDS,
        bounded_backfill=True,
        **_PROJECT,
    ),
    Stream(
        name="gitlab__pipeline_jobs",
        path="/projects/{project}/pipelines/{pipeline_id}/jobs",
        primary_key=("id",),
        cursor_field="created_at",
        params={"per_page": PER_PAGE},
        parent="gitlab__pipelines",
        parent_key_fields={"pipeline_id": "id"},
        keep_fields=JOB_FIELDS,
        bounded_backfill=True,
        **_PROJECT,
    ),
    Stream(
        name="gitlab__deployments",
        path="/projects/{project}/deployments",
        primary_key=("id",),
        cursor_field="updated_at",
        params={"order_by": "updated_at", "sort": "asc", "per_page": PER_PAGE},
        incremental_params={"updated_after": "{since_iso}"},
        keep_fields=DEPLOYMENT_FIELDS,
        **_PROJECT,
    ),
    Stream(
        name="gitlab__merge_requests",
        path="/projects/{project}/merge_requests",
        primary_key=("id",),
        cursor_field="updated_at",
        params={"state": "all", "order_by": "updated_at", "sort": "asc", "per_page": PER_PAGE},
        incremental_params={"updated_after": "{since_iso}"},
        keep_fields=MERGE_REQUEST_FIELDS,
        **_PROJECT,
    ),
    # Releases have no id: the tag is unique within its project, so keys carry the scope.
    Stream(
        name="gitlab__releases",
        path="/projects/{project}/releases",
        primary_key=("tag_name",),
        cursor_field="created_at",
        params={"order_by": "created_at", "sort": "desc", "per_page": PER_PAGE},
        replication="sorted_desc",
        reader=read_releases,
        key_includes_scope=True,
        **_PROJECT,
    ),
    Stream(
        name="gitlab__milestones",
        path="/projects/{project}/milestones",
        primary_key=("id",),
        cursor_field="updated_at",
        params={"per_page": PER_PAGE},
        keep_fields=MILESTONE_FIELDS,
        **_PROJECT,
    ),
)

GITLAB_STREAMS: dict[str, Stream] = {stream.name: stream for stream in _STREAMS}
# What runs per scope kind: the group listing once per configured group, the rest per project.
GITLAB_GROUP_STREAMS = [stream for stream in _STREAMS if stream.scope == "gitlab_group"]
GITLAB_PROJECT_STREAMS = [stream for stream in _STREAMS if stream.scope == "gitlab_project"]
