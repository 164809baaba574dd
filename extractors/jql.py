"""JQL built from configuration, never by pasting text into a query.

Every configured value reaches a query through one of these doors:
- `project_key`: only `^[A-Z][A-Z0-9_]{1,9}$` (Jira's default key rule, 2-10 characters),
  then quoted as a string literal;
- `field_id`: only `customfield_<digits>` or a known system field id (names sent in
  `fields=`, never spliced into a clause);
- `literal`: a double-quoted JQL string with `\\` and `"` escaped, so whatever it holds
  stays one value;
- `date_literal`: a `"yyyy/MM/dd HH:mm"` literal from a datetime, never from text.
Anything else is refused with a ValueError naming the value.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{1,9}$")
CUSTOM_FIELD = re.compile(r"^customfield_[0-9]{1,18}$")
# System field ids this warehouse may request (the REST ids of `fields=` and `/field`).
SYSTEM_FIELDS = frozenset({
    "summary", "issuetype", "status", "priority", "resolution", "resolutiondate", "created", "updated",
    "statuscategorychangedate", "project", "fixVersions", "versions", "labels", "components", "duedate",
    "environment", "issuelinks", "parent", "subtasks", "id", "key",
})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def project_key(value: object) -> str:
    """A project key as configured, or ValueError: the key is both a URL segment and a JQL value."""
    if not isinstance(value, str) or not PROJECT_KEY.fullmatch(value):
        raise ValueError(
            f"invalid Jira project key {value!r}: expected 2-10 upper-case letters, digits or '_', "
            "starting with a letter (e.g. PAY)"
        )
    return value


def field_id(value: object) -> str:
    """A field id (`customfield_10010` or a system id such as `fixVersions`), or ValueError."""
    if not isinstance(value, str) or not (CUSTOM_FIELD.fullmatch(value) or value in SYSTEM_FIELDS):
        raise ValueError(
            f"invalid Jira field id {value!r}: expected customfield_<digits> or one of {sorted(SYSTEM_FIELDS)}"
        )
    return value


def literal(value: str) -> str:
    """`value` as one double-quoted JQL string: `\\` and `"` escaped, control characters refused."""
    if not isinstance(value, str):
        raise ValueError(f"a JQL string literal must be text, got {type(value).__name__}")
    if _CONTROL.search(value):
        raise ValueError(f"control characters are not allowed in a JQL value: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def date_literal(moment: datetime) -> str:
    """`"yyyy/MM/dd HH:mm"` in UTC, floored to the minute (JQL's finest date precision).

    Jira reads JQL dates in the time zone of the user running the query, so a bound written
    in UTC falls up to 12 hours late for an account west of UTC: the Jira overlap (14 hours
    by default) covers any zone; the simulator reads JQL dates as UTC.
    """
    if moment.tzinfo is None:
        raise ValueError("JQL dates are built from timezone-aware datetimes only")
    return literal(moment.astimezone(timezone.utc).strftime("%Y/%m/%d %H:%M"))


def project_issues(project: str, updated_since: datetime | None = None, *, newest_first: bool = False) -> str:
    """Every issue of a project, or those updated since a moment; oldest change first (or
    newest first).

    `key` breaks ties between issues updated in the same millisecond, so the order is total.
    """
    clauses = [f"project = {literal(project_key(project))}"]
    if updated_since is not None:
        clauses.append(f"updated >= {date_literal(updated_since)}")
    direction = "DESC" if newest_first else "ASC"
    return " AND ".join(clauses) + f" ORDER BY updated {direction}, key {direction}"


def project_issue_keys(project: str, created_since: datetime | None = None) -> str:
    """Every issue of a project (created since a moment), oldest first: the key listing that
    detects deletions. Creation order does not change when issues are edited."""
    clauses = [f"project = {literal(project_key(project))}"]
    if created_since is not None:
        clauses.append(f"created >= {date_literal(created_since)}")
    return " AND ".join(clauses) + " ORDER BY created ASC, key ASC"
