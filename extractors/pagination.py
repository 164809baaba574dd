"""Paginators: given the request just made and its response, say which request comes next.

A paginator is a small frozen object so it can sit inside a frozen `Stream` declaration.
New styles (Jira `nextPageToken` / `startAt`, GitLab offset/keyset) implement the same
`next_request` method; the HTTP client loops, the paginator only decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol

import requests


@dataclass(frozen=True)
class PageRequest:
    """One request of a paginated read: a path or absolute URL plus query params."""

    url: str
    params: Mapping[str, Any] | None = None


class Paginator(Protocol):
    def next_request(
        self, previous: PageRequest, response: requests.Response, records: list[dict]
    ) -> PageRequest | None:
        """The next page's request, or None when the listing is exhausted."""
        ...


@dataclass(frozen=True)
class LinkHeaderPaginator:
    """RFC 8288 `Link: <url>; rel="next"` (GitHub, GitLab offset mode).

    The next URL already carries every query parameter, so params are not resent.
    """

    rel: str = "next"

    def next_request(
        self, previous: PageRequest, response: requests.Response, records: list[dict]
    ) -> PageRequest | None:
        link = response.links.get(self.rel)
        if not link or not link.get("url"):
            return None
        return PageRequest(url=link["url"], params=None)


@dataclass(frozen=True)
class SinglePage:
    """Endpoints that are not paginated at all."""

    def next_request(
        self, previous: PageRequest, response: requests.Response, records: list[dict]
    ) -> PageRequest | None:
        return None
