"""The one HTTP client every extractor uses: auth, retries, rate limits, pagination.

Streams never talk HTTP themselves; they declare a path and a paginator and this module
does the looping. Tokens live in an `extractors.auth.Credentials` object and are only put
in each request's Authorization header: never logged, put in an exception or shown by
repr(). `requests` follows redirects (GitHub answers renamed repositories with 301) and
keeps the Authorization header only when the redirect stays on the same origin.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping, Sequence
from urllib.parse import urlsplit

import requests

from extractors.auth import Credentials, credentials_from, epoch_seconds, rate_limit_headers
from extractors.errors import (
    AuthenticationError,
    ExtractError,
    ForeignUrlRefused,
    HttpError,
    PermissionDenied,
    RateLimitDeferred,
    RetriesExhausted,
)
from extractors.pagination import LinkHeaderPaginator, PageRequest, Paginator

log = logging.getLogger("extractors.http")

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Network-level failures worth retrying: resets, refused connections, timeouts and
# bodies shorter than their Content-Length (urllib3 raises, requests wraps them).
_TRANSIENT_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


@dataclass
class Page:
    """One page of a listing: its records and the raw response (headers, status)."""

    records: list[dict]
    response: requests.Response = field(repr=False)
    url: str = ""
    not_modified: bool = False  # 304 to a conditional request: the listing is unchanged

    @property
    def etag(self) -> str | None:
        return self.response.headers.get("ETag")

    @property
    def has_next(self) -> bool:
        return bool(self.response.links.get("next"))


class _Retry(Exception):
    """Internal signal: this attempt failed in a retryable way."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait  # None = use exponential backoff


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


class HttpClient:
    def __init__(
        self,
        base_url: str,
        token: "str | Sequence[str] | Credentials | None",
        *,
        auth_scheme: str = "Bearer",
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 60,
        max_rate_limit_wait: float = 900.0,
        timeout: float = 30.0,
        user_agent: str = "kpi-warehouse/0.1",
        extra_headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not urlsplit(base_url).scheme:
            raise ValueError(f"base_url must be absolute, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_rate_limit_wait = max_rate_limit_wait
        self.timeout = timeout
        self.request_count = 0
        self._sleep = sleep
        self._clock = clock
        self._random = random.Random()
        self.credentials = credentials_from(token, auth_scheme, clock)
        self.not_modified_count = 0
        self._session = requests.Session()
        self._session.headers["User-Agent"] = user_agent
        self._session.headers["Accept"] = "application/json"
        if extra_headers:
            self._session.headers.update(extra_headers)

    def __repr__(self) -> str:  # no headers: the token must not leak through repr
        return f"HttpClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "HttpClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- URLs -------------------------------------------------------------------------

    def resolve(self, path_or_url: str) -> str:
        """Join a relative path to base_url; accept absolute URLs only on our origin."""
        if urlsplit(path_or_url).scheme:
            if _origin(path_or_url) != _origin(self.base_url):
                raise ForeignUrlRefused(path_or_url, self.base_url)
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    # -- single request ---------------------------------------------------------------

    def get(self, path_or_url: str, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None) -> requests.Response:
        response, _ = self._get_json(path_or_url, params, headers)
        return response

    def get_json(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._get_json(path_or_url, params)[1]

    def download(self, path_or_url: str, max_bytes: int) -> bytes:
        """A binary body (an artifact archive), with the same retries and rate-limit handling.

        GitHub answers an artifact download with a redirect to short-lived blob storage on
        another host: requests follows it and drops the Authorization header on the way.
        """
        response, _ = self._get_json(path_or_url, None, {"Accept": "*/*"}, expect_json=False)
        body = response.content
        if len(body) > max_bytes:
            raise ExtractError(f"{response.url}: {len(body)} bytes, above the {max_bytes}-byte download limit")
        return body

    def _get_json(
        self, path_or_url: str, params: Mapping[str, Any] | None, headers: Mapping[str, str] | None = None,
        expect_json: bool = True,
    ) -> tuple[requests.Response, Any]:
        url = self.resolve(path_or_url)
        attempts = self.max_retries + 1
        last_reason = ""
        renewed = False
        for attempt in range(attempts):
            slot = self._wait_for_budget(url)
            try:
                return self._attempt(url, params, headers, slot, expect_json)
            except AuthenticationError:
                if renewed or not self.credentials.renew(slot):
                    raise
                renewed = True
                log.warning("HTTP 401 for %s: credentials renewed, retrying once", url)
                continue
            except _Retry as retry:
                last_reason = retry.reason
                if attempt == attempts - 1:
                    break
                delay = retry.wait if retry.wait is not None else self._backoff(attempt)
                log.warning(
                    "retrying %s in %.1fs (attempt %d/%d): %s",
                    url, delay, attempt + 2, attempts, retry.reason,
                )
                self._sleep(delay)
        raise RetriesExhausted(url, attempts, last_reason)

    def _attempt(
        self, url: str, params: Mapping[str, Any] | None, headers: Mapping[str, str] | None, slot: int,
        expect_json: bool = True,
    ) -> tuple[requests.Response, Any]:
        request_headers = dict(headers or {})
        authorization = self.credentials.header(slot)
        if authorization:
            # Per request, not on the session: requests drops it on a cross-origin redirect.
            request_headers["Authorization"] = authorization
        self.request_count += 1
        try:
            response = self._session.get(url, params=params, headers=request_headers, timeout=self.timeout)
        except _TRANSIENT_EXCEPTIONS as exc:
            raise _Retry(f"{type(exc).__name__}: {_redact(str(exc))}") from None

        status = response.status_code
        self.credentials.note(slot, response)
        if status == 304:
            self.not_modified_count += 1
            return response, None
        if status < 400 and not expect_json:
            return response, None
        if status < 400:
            try:
                payload = response.json() if response.content.strip() else None
            except (ValueError, json.JSONDecodeError):
                raise _Retry(f"invalid JSON body ({len(response.content)} bytes)") from None
            return response, payload
        if status == 401:
            raise AuthenticationError(status, url, "check the token")
        if status in (403, 429):
            self._handle_rate_limit(response, url, slot)  # raises _Retry when it is a limit
            if status == 403:
                raise PermissionDenied(status, url, _short_message(response))
            raise _Retry("429 Too Many Requests without rate-limit headers")
        if status >= 500:
            raise _Retry(f"HTTP {status}")
        raise HttpError(status, url, _short_message(response))

    def _backoff(self, attempt: int) -> float:
        # Full jitter (AWS architecture blog): spreads retries of concurrent workers.
        ceiling = min(self.backoff_max, self.backoff_base * (2**attempt))
        return self._random.uniform(0, ceiling)

    # -- rate limits ------------------------------------------------------------------

    def _handle_rate_limit(self, response: requests.Response, url: str, slot: int) -> None:
        headers = response.headers
        retry_after = headers.get("Retry-After")
        if retry_after is not None:
            try:
                seconds = max(float(retry_after), 0.0)
            except ValueError:
                seconds = self.backoff_base
            if seconds > self.max_rate_limit_wait:
                # GitLab's and Jira Cloud's quotas answer 429 + Retry-After (GitHub's secondary
                # limit too): a wait beyond the budget defers the scope like the primary limit,
                # instead of holding the task for that long.
                reset_at = datetime.fromtimestamp(self._clock() + seconds, tz=timezone.utc)
                log.warning("Retry-After %ss (> %.0fs) for %s; deferring", retry_after, self.max_rate_limit_wait, url)
                raise RateLimitDeferred(reset_at, url)
            raise _Retry(f"secondary rate limit (HTTP {response.status_code}), Retry-After {retry_after}", seconds)
        remaining, reset_header = rate_limit_headers(headers)
        if remaining == "0":
            # Without a reset time GitHub advises waiting at least a minute (59 + 1 s).
            try:
                reset = epoch_seconds(reset_header) if reset_header else self._clock() + 59
            except ValueError:  # an unreadable reset: GitHub's advice without one
                reset = self._clock() + 59
            self.credentials.exhaust(slot, reset)
            if self.credentials.choose() is not None:  # another token still has budget
                raise _Retry(f"primary rate limit exhausted (HTTP {response.status_code}); switching token", 0.0)
            wait = self._wait_or_defer(reset, url)
            raise _Retry(f"primary rate limit exhausted (HTTP {response.status_code})", wait)

    def _wait_for_budget(self, url: str) -> int:
        """The credential slot for the next request; waits (or defers) while every token is spent."""
        while True:
            slot = self.credentials.choose()
            if slot is not None:
                return slot
            reset = self.credentials.earliest_reset()
            if reset is None:  # pragma: no cover - choose() found nothing but nothing is spent
                return 0
            wait = self._wait_or_defer(reset, url)
            log.warning("rate limit remaining is 0; waiting %.1fs before %s", wait, url)
            self._sleep(max(wait, 0.001))

    def _wait_or_defer(self, reset_epoch: float, url: str) -> float:
        wait = max(reset_epoch + 1.0 - self._clock(), 0.0)  # +1 s: reset is whole seconds
        if wait > self.max_rate_limit_wait:
            reset_at = datetime.fromtimestamp(reset_epoch, tz=timezone.utc)
            log.warning("rate limit resets in %.0fs (> %.0fs) for %s; deferring", wait, self.max_rate_limit_wait, url)
            raise RateLimitDeferred(reset_at, url)
        return wait

    # -- listings ---------------------------------------------------------------------

    def paginate(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        records_path: str | None = None,
        paginator: Paginator | None = None,
        etag: str | None = None,
    ) -> Iterator[Page]:
        """Yield pages until the paginator finds no next request.

        The caller may stop iterating early (incremental streams do); no further request is
        sent then. With `etag`, the first request is conditional (`If-None-Match`); a 304
        yields one empty page with `not_modified=True` and ends the listing.
        """
        paginator = paginator or LinkHeaderPaginator()
        request: PageRequest | None = PageRequest(path, dict(params or {}))
        seen: set[str] = set()
        while request is not None:
            # Resolve first so a foreign next link is refused before anything is sent.
            url = self.resolve(request.url)
            signature = f"{url}?{sorted((request.params or {}).items())}"
            if signature in seen:  # a server that links a page to itself would loop forever
                raise ExtractError(f"pagination loop detected at {url}")
            seen.add(signature)
            headers = {"If-None-Match": etag} if etag and len(seen) == 1 else None
            response, payload = self._get_json(url, request.params, headers)
            if response.status_code == 304:
                yield Page(records=[], response=response, url=response.url, not_modified=True)
                return
            records = extract_records(payload, records_path, url)
            yield Page(records=records, response=response, url=response.url)
            request = paginator.next_request(request, response, records)


def extract_records(payload: Any, records_path: str | None, url: str) -> list[dict]:
    """The list of records in a page body; `records_path` is a dotted key path."""
    node = payload
    if records_path:
        for key in records_path.split("."):
            if not isinstance(node, dict) or key not in node:
                raise ExtractError(f"response of {url} has no '{records_path}' list")
            node = node[key]
    if node is None:
        return []
    if not isinstance(node, list):
        raise ExtractError(
            f"response of {url} is a {type(node).__name__}, expected a list"
            + ("" if records_path else " (declare records_path for wrapped listings)")
        )
    return node


def _redact(text: str) -> str:
    """Exception texts of urllib3 can quote request headers; never let a token through."""
    import re

    return re.sub(r"(?i)(bearer|token)\s+[A-Za-z0-9_\-.]+", r"\1 ***", text)


def _short_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason or ""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"][:200]
    return response.reason or ""
