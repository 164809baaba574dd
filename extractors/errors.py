"""Exceptions raised by the extractor core.

Messages name the URL (or batch file) that failed, never a token or header value.
"""

from __future__ import annotations

from datetime import datetime


class ExtractError(Exception):
    """Base class for every extractor failure."""


class HttpError(ExtractError):
    """A non-retryable HTTP status (4xx other than the special cases below)."""

    def __init__(self, status: int, url: str, message: str = "") -> None:
        self.status = status
        self.url = url
        self.message = message
        detail = f": {message}" if message else ""
        super().__init__(f"HTTP {status} for {url}{detail}")


class AuthenticationError(HttpError):
    """401: the token is missing, wrong or expired."""


class PermissionDenied(HttpError):
    """403 that is not a rate limit: the token lacks a scope or access."""


class RateLimitDeferred(ExtractError):
    """The primary rate limit resets later than we are willing to wait for.

    The caller (e.g. an Airflow task) should reschedule itself for `reset_at`.
    """

    def __init__(self, reset_at: datetime, url: str) -> None:
        self.reset_at = reset_at
        self.url = url
        super().__init__(f"rate limit exhausted for {url}; resets at {reset_at.isoformat()}")


class ScopeDeferred(RateLimitDeferred):
    """A scope stopped at the rate limit after some stream families were landed completely.

    `landed` holds their manifests: they can be loaded (their watermarks move); the rest of
    the scope resumes from its stored state next run. A family is a parent stream with its
    children, kept or dropped together, since a parent's watermark must not move before its
    children were read.
    """

    def __init__(self, cause: RateLimitDeferred, landed: list) -> None:
        super().__init__(cause.reset_at, cause.url)
        self.landed = landed


class RetriesExhausted(ExtractError):
    """A retryable failure persisted past max_retries."""

    def __init__(self, url: str, attempts: int, last_reason: str) -> None:
        self.url = url
        self.attempts = attempts
        self.last_reason = last_reason
        super().__init__(f"gave up on {url} after {attempts} attempts: {last_reason}")


class ForeignUrlRefused(ExtractError):
    """A URL (typically a pagination link) points outside the client's origin.

    Following it would send the token to another host.
    """

    def __init__(self, url: str, base_url: str) -> None:
        self.url = url
        super().__init__(f"refusing to request {url}: not on the origin of {base_url}")


class LoadError(ExtractError):
    """Loading a landing batch into the warehouse failed; the transaction was rolled back."""

    def __init__(self, batch_path: str, reason: str) -> None:
        self.batch_path = batch_path
        super().__init__(f"loading batch {batch_path} failed (rolled back): {reason}")
