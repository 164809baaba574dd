"""GitHub REST streams. Adding a stream means adding one entry to GITHUB_STREAMS."""

from __future__ import annotations

from extractors.streams.base import Stream

PULL_REQUEST_FIELDS = (
    "id", "number", "state", "title", "user", "created_at", "updated_at", "closed_at",
    "merged_at", "merge_commit_sha", "draft", "head", "base", "labels", "html_url",
    "author_association",
)

_STREAMS = (
    Stream(
        name="github__repositories",
        source="github",
        path="/orgs/{org}/repos",
        primary_key=("id",),
        cursor_field="updated_at",
        scope="org",
        params={"type": "all", "per_page": 100},
        replication="full",
    ),
    Stream(
        name="github__pull_requests",
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
)

GITHUB_STREAMS: dict[str, Stream] = {stream.name: stream for stream in _STREAMS}
