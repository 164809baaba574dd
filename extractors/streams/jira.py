"""Jira streams (Cloud `/rest/api/3`, Server/Data Center `/rest/api/2`), one scope per project.

- `jira__issues`: the project's issues through JQL search,
  `project = "KEY" [AND updated >= "watermark - overlap"] ORDER BY updated ASC, key ASC`,
  with `expand=changelog`. Cloud pages the enhanced search (`/rest/api/3/search/jql`,
  `nextPageToken`/`isLast`); Server/DC pages `/rest/api/2/search` by `startAt` against
  `total`, in windows of `updated` so edits made while it pages cannot shift issues past it
  (`_search_in_windows`). The cursor is the issue's `fields.updated`.
  Histories come inline when the search returned all of them; otherwise the whole changelog
  is paged from `/issue/{id}/changelog`.
- `jira__project_versions`: the project's fix versions (release dates), read whole.
- `jira__issue_keys`: every current issue id of the project (a key listing): when it loads,
  issues of the project missing from it are marked deleted in `raw.jira__issues`. It costs
  one search over the whole project, so it runs on a cadence (`streams_for(reconcile=)`).

Records keep what the metrics need and no people: the product reports per team, so
assignee, reporter, creator and changelog authors are not stored (nor person-valued
changelog items). Embedded objects keep ids and names only, so a version being released
or a project renamed does not silently leave stale copies inside unchanged issues.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator, Mapping, Sequence

import requests

from extractors import jql
from extractors.errors import ExtractError, HttpError
from extractors.extract import parse_cursor
from extractors.http import HttpClient, extract_records
from extractors.pagination import PageRequest, SinglePage
from extractors.streams.base import Stream, register_scope_kind

log = logging.getLogger("extractors.streams.jira")

ISSUES = "jira__issues"
VERSIONS = "jira__project_versions"
ISSUE_KEYS = "jira__issue_keys"


def _jira_project(scope: str) -> dict[str, str]:
    return {"project": jql.project_key(scope)}


register_scope_kind("jira_project", _jira_project)


# -- paginators ---------------------------------------------------------------------


@dataclass(frozen=True)
class NextPageTokenPaginator:
    """Jira Cloud enhanced search: send back `nextPageToken` until `isLast` (there is no total)."""

    def next_request(
        self, previous: PageRequest, response: requests.Response, records: list[dict]
    ) -> PageRequest | None:
        body = response.json()
        token = body.get("nextPageToken")
        if body.get("isLast") or not token:
            return None
        return PageRequest(previous.url, {**(previous.params or {}), "nextPageToken": token})


@dataclass(frozen=True)
class StartAtPaginator:
    """Offset paging (`startAt`/`maxResults`): Server/DC search (`total`), changelog pages (`isLast`).

    The next offset advances by the records received, not by `maxResults`: a server may
    return fewer than asked for (Jira caps page sizes by its own settings)."""

    def next_request(
        self, previous: PageRequest, response: requests.Response, records: list[dict]
    ) -> PageRequest | None:
        body = response.json()
        if not records or body.get("isLast") is True:
            return None
        params = dict(previous.params or {})
        start = int(params.get("startAt", 0)) + len(records)
        total = body.get("total")
        if total is not None and start >= int(total):
            return None
        params["startAt"] = start
        return PageRequest(previous.url, params)


# -- flavours ------------------------------------------------------------------------


@dataclass(frozen=True)
class Flavour:
    name: str
    api_version: str  # the /rest/api/{v} of every path
    search_path: str
    search_paginator: NextPageTokenPaginator | StartAtPaginator
    # The key listing's page: Cloud serves up to 5000 when only `id` is asked for; Server/DC
    # serves up to jira.search.views.default.max (1000 by default) and needs `created` to
    # page in windows. Issues with their changelogs page by 100.
    key_page_size: int
    key_fields: str

    def path(self, suffix: str) -> str:
        return f"/rest/api/{self.api_version}{suffix}"


FLAVOURS: dict[str, Flavour] = {
    "cloud": Flavour("cloud", "3", "/rest/api/3/search/jql", NextPageTokenPaginator(),
                     key_page_size=5000, key_fields="id"),
    # Offset pages are read in windows of the sort field (see `_search_in_windows`).
    "server": Flavour("server", "2", "/rest/api/2/search", StartAtPaginator(),
                      key_page_size=1000, key_fields="created"),
}


def flavour_named(name: str) -> Flavour:
    try:
        return FLAVOURS[name]
    except KeyError:
        raise ValueError(f"unknown Jira flavour {name!r}: expected one of {sorted(FLAVOURS)}") from None


# -- custom fields -------------------------------------------------------------------


@dataclass(frozen=True)
class JiraFieldMapping:
    """Which Jira fields hold the issue's severity, environment and owning team.

    Values are field ids (`customfield_10010`, or a system id such as `environment`);
    None when the site has no such field. `resolve_field_mapping` finds ids by field name.
    """

    severity: str | None = None
    environment: str | None = None
    team: str | None = None

    def __post_init__(self) -> None:
        for role, value in self.roles().items():
            if value is not None:
                try:
                    jql.field_id(value)
                except ValueError as error:
                    raise ValueError(f"jira field mapping {role}: {error}") from None

    def roles(self) -> dict[str, str | None]:
        return {"severity": self.severity, "environment": self.environment, "team": self.team}

    def mapped(self) -> dict[str, str]:
        """role -> field id, for the roles this site has."""
        return {role: value for role, value in self.roles().items() if value is not None}


def resolve_field_mapping(client: HttpClient, flavour: str, names: Mapping[str, str]) -> JiraFieldMapping:
    """Field ids for `names` (role -> field id or field *name*), names looked up in `/field`.

    An id passes through. A name (case-insensitive) is looked up among custom fields first:
    Jira has system fields whose names custom fields commonly reuse (a site's "Environment"
    select list next to the system "Environment" text). It must match exactly one field of
    the first kind that has it: Jira allows two custom fields with the same name, and
    guessing between them is refused.
    """
    unknown_roles = set(names) - set(JiraFieldMapping().roles())
    if unknown_roles:
        raise ValueError(f"jira field mapping: unknown roles {sorted(unknown_roles)}")
    ids: dict[str, str] = {}
    to_look_up: dict[str, str] = {}
    for role, value in names.items():
        try:
            ids[role] = jql.field_id(value)
        except ValueError:
            to_look_up[role] = value
    if to_look_up:
        catalogue = client.get_json(flavour_named(flavour).path("/field")) or []
        for role, name in to_look_up.items():
            named = [f for f in catalogue if str(f.get("name", "")).casefold() == str(name).casefold()]
            custom = [f["id"] for f in named if f.get("custom")]
            matches = custom or [f["id"] for f in named]
            if len(matches) != 1:
                found = "no field" if not matches else f"{len(matches)} fields ({', '.join(matches)})"
                raise ValueError(f"jira field mapping {role}: {found} named {name!r}; configure the field id instead")
            ids[role] = matches[0]
    return JiraFieldMapping(**ids)


# -- record shaping ------------------------------------------------------------------

# Issue fields requested and kept: field id -> the parts of its object kept (None: the
# value as it is). Objects keep ids and names (their details live in their own streams).
ISSUE_FIELDS: Mapping[str, tuple[str, ...] | None] = {
    "summary": None,
    "issuetype": ("id", "name", "subtask"),
    "status": ("id", "name", "statusCategory.key", "statusCategory.name"),
    "statuscategorychangedate": None,
    "priority": ("id", "name"),
    "resolution": ("id", "name"),
    "resolutiondate": None,
    "created": None,
    "updated": None,
    "project": ("id", "key"),
    "fixVersions": ("id", "name"),
    "labels": None,
}
# Parts of a custom field value kept (select options, cascading selects, Atlassian teams).
CUSTOM_VALUE_PARTS = ("id", "value", "name", "key", "child.id", "child.value")
# Changelog items about people are not kept (see the module docstring).
PERSON_FIELDS = frozenset({"assignee", "reporter", "creator"})
HISTORY_ITEM_PARTS = ("field", "fieldtype", "fieldId", "from", "fromString", "to", "toString")


def _pick(value: Any, parts: Sequence[str] | None) -> Any:
    """Keep `parts` (dotted paths) of an object, element-wise for a list; scalars unchanged."""
    if parts is None or value is None:
        return value
    if isinstance(value, list):
        return [_pick(item, parts) for item in value]
    if not isinstance(value, Mapping):
        return value
    kept: dict[str, Any] = {}
    for path in parts:
        head, _, rest = path.partition(".")
        if head not in value:
            continue
        if rest:
            nested = _pick(value[head], (rest,))
            if isinstance(nested, dict) and isinstance(kept.get(head), dict):
                kept[head].update(nested)
            else:
                kept[head] = nested
        else:
            kept[head] = value[head]
    return kept


def _text(value: Any) -> str | None:
    """A custom field value as text: an option's value, a team's name, a list joined by ', '."""
    if value is None:
        return None
    if isinstance(value, list):
        texts = [text for text in (_text(item) for item in value) if text]
        return ", ".join(texts) or None
    if isinstance(value, Mapping):
        for name in ("value", "name", "key", "id"):
            if value.get(name) is not None:
                return str(value[name])
        return None
    return str(value)


def _history(history: Mapping[str, Any]) -> dict[str, Any]:
    items = [_pick(item, HISTORY_ITEM_PARTS) for item in history.get("items") or []
             if item.get("field") not in PERSON_FIELDS]
    return {"id": str(history["id"]), "created": history.get("created"), "items": items}


def _history_order(history: Mapping[str, Any]) -> tuple:
    created = parse_cursor(history.get("created"))
    identifier = str(history.get("id", ""))
    return (created is None, created, int(identifier) if identifier.isdigit() else 0, identifier)


def issue_record(issue: Mapping[str, Any], fields: JiraFieldMapping,
                 histories: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The stored shape of one search result (or `GET /issue/{key}?expand=changelog`).

    `histories`: the complete changelog when it had to be paged; None takes the inline one.
    Histories are de-duplicated by id and ordered oldest first (Cloud inlines the newest).
    The mapped custom fields are also lifted to top-level `severity`, `environment` and
    `team` as text, so models need not know the site's field ids.
    """
    source = issue.get("fields") or {}
    kept = {name: _pick(source[name], parts) for name, parts in ISSUE_FIELDS.items() if name in source}
    for field_id in fields.mapped().values():
        if field_id in source:
            kept[field_id] = _pick(source[field_id], CUSTOM_VALUE_PARTS)
    if histories is None:
        histories = (issue.get("changelog") or {}).get("histories") or []
    unique = {str(history["id"]): history for history in histories}
    ordered = sorted(unique.values(), key=_history_order)
    record: dict[str, Any] = {
        "id": str(issue["id"]),
        "key": issue["key"],
        "fields": kept,
        "changelog": {"total": len(ordered), "histories": [_history(history) for history in ordered]},
    }
    for role, field_id in fields.roles().items():
        record[role] = _text(source.get(field_id)) if field_id else None
    return record


def changelog_is_complete(issue: Mapping[str, Any]) -> bool:
    """True when the inline changelog holds every history (Cloud search inlines at most 100)."""
    changelog = issue.get("changelog")
    if not isinstance(changelog, Mapping):
        return False
    histories = changelog.get("histories") or []
    total = changelog.get("total")
    return total is not None and len(histories) >= int(total)


# -- readers ---------------------------------------------------------------------------

# How often a Cloud search is started again when its page token is refused.
SEARCH_ATTEMPTS = 3
# A JQL query built for "issues whose sort field is at or after this moment" (None: all).
QueryFrom = Callable[[datetime | None], str]


def search(client: HttpClient, stream: Stream, query_from: QueryFrom, since: datetime | None,
           sort_field: str) -> Iterator[dict[str, Any]]:
    """Every issue of `query_from(since)`, ordered by `sort_field`, through the stream's endpoint.

    Issues may be yielded twice (the batch keeps each one's newest version)."""
    if isinstance(stream.paginator, StartAtPaginator):
        return _search_in_windows(client, stream, query_from, since, sort_field)
    return _search_with_page_tokens(client, stream, query_from(since))


def _search_with_page_tokens(client: HttpClient, stream: Stream, query: str) -> Iterator[dict[str, Any]]:
    """Cloud: follow `nextPageToken`. Cloud answers 400 to a token whose result set changed
    or expired; the search then starts again."""
    for attempt in range(1, SEARCH_ATTEMPTS + 1):
        pages_read = 0
        try:
            for page in client.paginate(stream.path, {**stream.params, "jql": query},
                                        records_path=stream.records_path, paginator=stream.paginator):
                pages_read += 1
                yield from page.records
            return
        except HttpError as error:
            if error.status != 400 or pages_read == 0:
                raise
            log.warning("%s: page token refused after %d pages (%s); searching again (%d/%d)",
                        stream.name, pages_read, error.message, attempt, SEARCH_ATTEMPTS)
    raise ExtractError(f"{stream.name}: {stream.path} refused its page token {SEARCH_ATTEMPTS} times")


def _newest_changes(client: HttpClient, stream: Stream, query: str, stop_below: datetime) -> Iterator[dict[str, Any]]:
    """Cloud, newest first: the issues of `query` down to the first one updated before
    `stop_below` (older ones were read by earlier nights); the next page is never asked for.
    A result that changes meanwhile is searched again from the newest (`_search_with_page_tokens`)."""
    for issue in _search_with_page_tokens(client, stream, query):
        updated = parse_cursor(stream.cursor_of(issue))
        if updated is not None and updated < stop_below:
            return
        yield issue


def _search_in_windows(client: HttpClient, stream: Stream, query_from: QueryFrom, since: datetime | None,
                       sort_field: str) -> Iterator[dict[str, Any]]:
    """Server/DC offset paging, made safe against a result that changes while it is paged.

    Plain `startAt` paging over `ORDER BY updated` loses issues: one updated meanwhile jumps
    to the end, one deleted leaves a gap, and the issue after the page boundary slides into a
    page already read. So each page is asked for with a fresh query starting at the minute of
    the last issue read (`sort_field >= that minute`, startAt 0): what changes behind that
    minute no longer shifts anything ahead of it, and a changed issue only moves forward,
    into a later window. `startAt` only advances while a single minute holds more than a page.
    """
    def sort_value(issue: Mapping[str, Any]) -> Any:
        return (issue.get("fields") or {}).get(sort_field)

    start_at = 0
    at_boundary: dict[str, Any] = {}  # issues read from the minute the window starts at
    while True:
        body = client.get_json(stream.path, {**stream.params, "jql": query_from(since), "startAt": start_at})
        issues = extract_records(body, stream.records_path, stream.path)
        # A new window re-lists its first minute: skip what was read unchanged from it.
        yield from (issue for issue in issues if at_boundary.get(str(issue.get("id"))) != sort_value(issue))
        total = int((body or {}).get("total") or 0)
        if not issues or start_at + len(issues) >= total:
            return
        boundary = _minute(parse_cursor(sort_value(issues[-1])))
        if boundary is None:
            raise ExtractError(f"{stream.name}: search results lack fields.{sort_field}; cannot page safely")
        if since is not None and boundary <= since:
            start_at += len(issues)  # more than a page within one minute
        else:
            since, start_at, at_boundary = boundary, 0, {}
        at_boundary.update((str(issue.get("id")), sort_value(issue)) for issue in issues
                           if _minute(parse_cursor(sort_value(issue))) == boundary)


def _minute(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(second=0, microsecond=0)


@dataclass(frozen=True)
class IssueReader:
    """`jira__issues`: the project's issues updated since watermark - overlap (all on a first run)."""

    flavour: Flavour
    fields: JiraFieldMapping
    changelog_page_size: int = 100  # the most Jira serves per changelog page
    # Cloud's enhanced search is eventually consistent: an issue can reach the index after
    # one updated later. A later night re-reads this far behind the watermark.
    index_lag: timedelta = timedelta(hours=1)

    def __call__(self, client: HttpClient, stream: Stream, variables: Mapping[str, Any],
                 watermark: str | None, overlap: timedelta) -> Iterator[dict[str, Any]]:
        project = variables["project"]
        since = parse_cursor(watermark) - overlap if watermark else None
        if watermark and isinstance(stream.paginator, NextPageTokenPaginator):
            # Cloud, a later night: newest first, stopping at the first issue updated before
            # the watermark less the index lag. The JQL bound only has to be early enough in
            # any account time zone; the stop reads each issue's own `updated`, an instant,
            # so a quiet night costs one page however busy the overlap window was.
            stop_below = parse_cursor(watermark) - min(overlap, self.index_lag)
            issues = _newest_changes(client, stream, jql.project_issues(project, since, newest_first=True),
                                     stop_below)
        else:
            issues = search(client, stream, lambda moment: jql.project_issues(project, moment), since, "updated")
        for issue in issues:
            histories = None
            if not changelog_is_complete(issue):
                try:
                    histories = list(self.changelog(client, issue))
                except HttpError as error:
                    if error.status != 404:
                        raise
                    # Deleted since the search listed it: not an error of the stream (a 404
                    # escaping would make the extractor skip the whole stream as unavailable).
                    log.warning("%s: %s vanished before its changelog was read; skipped", stream.name,
                                issue.get("key"))
                    continue
            yield issue_record(issue, self.fields, histories)

    def changelog(self, client: HttpClient, issue: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every history of the issue, from the first. Needed when the inline changelog is
        short of its total: Cloud inlines at most 100 histories (Server/DC inlines all)."""
        path = self.flavour.path(f"/issue/{issue['id']}/changelog")
        for page in client.paginate(path, {"startAt": 0, "maxResults": self.changelog_page_size},
                                    records_path="values", paginator=StartAtPaginator()):
            yield from page.records


@dataclass(frozen=True)
class IssueKeyReader:
    """`jira__issue_keys`: every current issue id (and key) of the project, ignoring watermarks.
    Ordered by creation, which edits do not change (see `_search_in_windows`)."""

    def __call__(self, client: HttpClient, stream: Stream, variables: Mapping[str, Any],
                 watermark: str | None, overlap: timedelta) -> Iterator[dict[str, Any]]:
        project = variables["project"]
        for issue in search(client, stream, lambda moment: jql.project_issue_keys(project, moment), None, "created"):
            yield {"id": str(issue["id"]), "key": issue["key"]}


# -- declarations ----------------------------------------------------------------------

VERSION_FIELDS = ("id", "name", "description", "projectId", "releaseDate", "userReleaseDate", "startDate",
                  "released", "archived")


def jira_streams(flavour: str, fields: JiraFieldMapping) -> dict[str, Stream]:
    """The Jira streams for a site of this flavour (`cloud` | `server`) and field mapping."""
    site = flavour_named(flavour)
    requested = [*ISSUE_FIELDS, *fields.mapped().values()]
    streams = (
        Stream(
            name=ISSUES,
            source="jira",
            path=site.search_path,
            primary_key=("id",),  # ids survive moves between projects; keys do not
            cursor_field="fields.updated",
            scope="jira_project",
            params={"fields": ",".join(dict.fromkeys(requested)), "expand": "changelog", "maxResults": 100},
            records_path="issues",
            paginator=site.search_paginator,
            reader=IssueReader(site, fields),
            change_field=None,  # no child streams
        ),
        Stream(
            name=VERSIONS,
            source="jira",
            path=site.path("/project/{project}/versions"),
            primary_key=("id",),
            scope="jira_project",
            paginator=SinglePage(),
            keep_fields=VERSION_FIELDS,  # not `overdue`: it flips daily without any change
            change_field=None,
        ),
        Stream(
            name=ISSUE_KEYS,
            source="jira",
            path=site.search_path,
            primary_key=("id",),  # the record key of jira__issues
            scope="jira_project",
            params={"fields": site.key_fields, "maxResults": site.key_page_size},
            records_path="issues",
            paginator=site.search_paginator,
            reader=IssueKeyReader(),
            key_listing_of=ISSUES,
            change_field=None,
        ),
    )
    return {stream.name: stream for stream in streams}


def streams_for(flavour: str, fields: JiraFieldMapping, *, reconcile: bool) -> list[Stream]:
    """Tonight's streams for one project: issues and versions, plus the key listing when a
    reconciliation is due (see `reconcile_due`)."""
    streams = jira_streams(flavour, fields)
    return [streams[ISSUES], streams[VERSIONS], *([streams[ISSUE_KEYS]] if reconcile else [])]


def reconcile_due(last_reconciled: datetime | None, every: timedelta, now: datetime) -> bool:
    """A project's key listing is due when it never loaded, or loaded `every` ago or longer
    (`WarehouseLoader.read_last_loaded(ISSUE_KEYS)` gives the last load per project)."""
    return last_reconciled is None or now - last_reconciled >= every
