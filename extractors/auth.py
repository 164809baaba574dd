"""Where each request's Authorization header comes from, and each credential's rate budget.

- `TokenPool`: one or several personal access tokens (or installation tokens handed in);
  every request uses the token with the most remaining primary budget, round-robin among
  equals, so a large organisation spreads over several tokens' hourly limits.
- `GitHubAppAuth`: a GitHub App installation. A JWT signed with the App's private key
  (RS256, PyJWT) is exchanged at `POST /app/installations/{id}/access_tokens` for an
  installation token, which is cached until five minutes before it expires.

Secrets stay inside these objects: `repr()` shows counts, never a token or key, and errors
name the URL and status only.
"""

from __future__ import annotations

import base64
import threading
import time
from datetime import datetime, timezone
from typing import Callable, Sequence

import requests

from extractors.errors import AuthenticationError

# Refresh an installation token this long before GitHub says it expires (clock skew, long pages).
INSTALLATION_TOKEN_MARGIN_SECONDS = 300


def epoch_seconds(raw: str) -> float:
    """A rate-limit reset as epoch seconds: GitHub and GitLab send epoch seconds (octokit
    recordings milliseconds; no real reset is in year 5000), Jira an ISO 8601 timestamp."""
    try:
        value = float(raw)
    except ValueError:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    return value / 1000.0 if value > 1e11 else value


def rate_limit_headers(headers: "requests.structures.CaseInsensitiveDict") -> tuple[str | None, str | None]:
    """(remaining, reset) from `X-RateLimit-*` (GitHub, Jira) or `RateLimit-*` (GitLab)."""
    remaining = headers.get("X-RateLimit-Remaining", headers.get("RateLimit-Remaining"))
    reset = headers.get("X-RateLimit-Reset", headers.get("RateLimit-Reset"))
    return remaining, reset


class Credentials:
    """Slots (one per token) with their last known primary rate-limit budget."""

    def __init__(self, slots: int, clock: Callable[[], float] = time.time) -> None:
        if slots < 1:
            raise ValueError("at least one credential is needed")
        self.clock = clock
        self._remaining: list[int | None] = [None] * slots  # None: not known yet
        self._reset: list[float | None] = [None] * slots
        self._turn = 0
        self._lock = threading.Lock()

    @property
    def slots(self) -> int:
        return len(self._remaining)

    def renew(self, slot: int) -> bool:
        """After a 401: get a fresh secret for `slot` if this kind of credential can (True)."""
        return False

    def header(self, slot: int) -> str | None:  # pragma: no cover - interface
        raise NotImplementedError

    def _available(self, slot: int, now: float) -> bool:
        reset = self._reset[slot]
        return self._remaining[slot] != 0 or reset is None or reset <= now

    def choose(self) -> int | None:
        """The slot to use next (most remaining budget, round-robin among equals); None if all are spent."""
        now = self.clock()
        with self._lock:
            best: int | None = None
            best_score = -1.0
            count = self.slots
            for offset in range(count):
                slot = (self._turn + offset) % count
                if not self._available(slot, now):
                    continue
                remaining = self._remaining[slot]
                reset = self._reset[slot]
                # Unknown budget, or a window that has reset since: assume a full budget.
                fresh = remaining is None or (reset is not None and reset <= now)
                score = float("inf") if fresh else float(remaining)
                if score > best_score:
                    best, best_score = slot, score
            if best is not None:
                self._turn = (best + 1) % count
            return best

    def earliest_reset(self) -> float | None:
        """When the first spent slot gets its budget back (None: nothing is spent)."""
        now = self.clock()
        with self._lock:
            resets = [r for slot, r in enumerate(self._reset) if r is not None and not self._available(slot, now)]
        return min(resets) if resets else None

    def note(self, slot: int, response: requests.Response) -> None:
        """Record the budget the server reported for the credential that made `response`."""
        remaining, reset = rate_limit_headers(response.headers)
        if remaining is None:
            return
        with self._lock:
            try:
                self._remaining[slot] = int(remaining)
                self._reset[slot] = epoch_seconds(reset) if reset else self._reset[slot]
            except ValueError:
                return

    def exhaust(self, slot: int, reset_epoch: float) -> None:
        """A 403 primary-limit answer: this slot is spent until `reset_epoch`."""
        with self._lock:
            self._remaining[slot] = 0
            self._reset[slot] = reset_epoch


class Anonymous(Credentials):
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__(1, clock)

    def header(self, slot: int) -> str | None:
        return None

    def __repr__(self) -> str:
        return "Anonymous()"


class TokenPool(Credentials):
    def __init__(self, tokens: Sequence[str], scheme: str = "Bearer",
                 clock: Callable[[], float] = time.time) -> None:
        unique = list(dict.fromkeys(token.strip() for token in tokens if token and token.strip()))
        if not unique:
            raise ValueError("TokenPool needs at least one non-empty token")
        super().__init__(len(unique), clock)
        self._headers = [f"{scheme} {token}" for token in unique]

    def header(self, slot: int) -> str | None:
        return self._headers[slot]

    def __repr__(self) -> str:
        return f"TokenPool({self.slots} tokens)"


class GitHubAppAuth(Credentials):
    """Installation tokens of a GitHub App, minted from the App's id and private key."""

    def __init__(self, app_id: str | int, private_key: str, installation_id: str | int, base_url: str, *,
                 clock: Callable[[], float] = time.time, session: requests.Session | None = None,
                 timeout: float = 30.0) -> None:
        super().__init__(1, clock)
        if not str(app_id).strip() or not private_key or not str(installation_id).strip():
            raise ValueError("a GitHub App needs app_id, private_key and installation_id")
        self.app_id = str(app_id).strip()
        self.installation_id = str(installation_id).strip()
        self._private_key = private_key
        self._base_url = base_url.rstrip("/")
        self._session = session or requests.Session()
        self._timeout = timeout
        self._token: str | None = None
        self._expires_at = 0.0
        self._token_lock = threading.Lock()
        self.exchanges = 0  # token requests made (for tests and logs)

    def __repr__(self) -> str:
        return f"GitHubAppAuth(app_id={self.app_id!r}, installation_id={self.installation_id!r})"

    def app_jwt(self) -> str:
        """The App's JWT: issued 60 s in the past (clock drift), valid 9 minutes (GitHub allows 10)."""
        import jwt  # PyJWT, installed with Airflow

        now = int(self.clock())
        return jwt.encode({"iat": now - 60, "exp": now + 540, "iss": self.app_id}, self._private_key, algorithm="RS256")

    @property
    def token_url(self) -> str:
        return f"{self._base_url}/app/installations/{self.installation_id}/access_tokens"

    def installation_token(self) -> str:
        with self._token_lock:
            if self._token is None or self.clock() >= self._expires_at - INSTALLATION_TOKEN_MARGIN_SECONDS:
                self._token, self._expires_at = self._exchange()
            return self._token

    def invalidate(self) -> None:
        with self._token_lock:
            self._token, self._expires_at = None, 0.0

    def renew(self, slot: int) -> bool:
        # An installation token can be revoked before it expires (app reinstalled, token
        # rotated): the App's key mints a new one. A second 401 is then a real refusal.
        self.invalidate()
        return True

    def _exchange(self) -> tuple[str, float]:
        self.exchanges += 1
        url = self.token_url
        try:
            response = self._session.post(
                url, timeout=self._timeout,
                headers={"Authorization": f"Bearer {self.app_jwt()}", "Accept": "application/vnd.github+json"},
            )
        except requests.RequestException as exc:
            raise AuthenticationError(0, url, f"installation token request failed: {type(exc).__name__}") from None
        if response.status_code != 201:
            message = ""
            try:
                body = response.json()
                message = body.get("message", "") if isinstance(body, dict) else ""
            except ValueError:
                pass
            raise AuthenticationError(response.status_code, url, f"GitHub App token exchange refused {message}".strip())
        body = response.json()
        expires = datetime.fromisoformat(str(body["expires_at"]).replace("Z", "+00:00")).timestamp()
        return str(body["token"]), expires

    def header(self, slot: int) -> str | None:
        return f"Bearer {self.installation_token()}"


def credentials_from(token: "str | Sequence[str] | Credentials | None", scheme: str = "Bearer",
                     clock: Callable[[], float] = time.time) -> Credentials:
    if isinstance(token, Credentials):
        return token
    if token is None or token == "":
        return Anonymous(clock)
    if isinstance(token, str):
        return TokenPool([token], scheme, clock)
    return TokenPool(list(token), scheme, clock)


def basic_credentials(user: str, token: str, clock: Callable[[], float] = time.time) -> Credentials:
    """HTTP Basic `user:token` (Jira Cloud: e-mail and API token; Jenkins: user and API token)."""
    if not user or ":" in user:
        raise ValueError("a Basic-auth user must be non-empty and contain no ':'")
    encoded = base64.b64encode(f"{user}:{token}".encode()).decode("ascii")
    return TokenPool([encoded], "Basic", clock)
