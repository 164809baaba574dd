"""Fault injection for the simulator: a plan of rules the HTTP server consults per request.

A rule matches requests by path (fnmatch, or a regex when `regex=True`, always
against the full path including the source prefix, e.g. `/github/repos/*/pulls`)
and optionally by method. Every matching request is counted; the rule fires from
the `after + 1`-th match on, at most `times` times (None = forever), each time
with `probability` drawn from a RNG seeded per rule, so a plan replays exactly.

Kinds of fault (one per rule):
  status            answer `status` (e.g. 502) with a small JSON error body
  connection_reset  close the socket (RST) without any response
  delay             sleep `delay_seconds`, then serve normally (stacks with others)
  truncated_body    send the full Content-Length but only `fraction` of the body, then close
  rate_limited      `style="primary"`: 403 + X-RateLimit-Remaining: 0 + reset in `reset_in` s;
                    `style="secondary"`: `status` (403 or 429) + Retry-After: `retry_after`;
                    `style="gitlab"`: GitLab's quota, 429 "Retry later" + RateLimit-Remaining: 0,
                    RateLimit-Reset in `reset_in` s and Retry-After: `reset_in`
  revoke_token      once fired, every request to that source gets 401 Bad credentials
                    until the plan is cleared (use `after=N` for "revoke after N requests")
  mutate_while_paging  run `callback()` before serving the request (use `after=N` to
                    mutate after the N-th matching request), then serve normally
"""

from __future__ import annotations

import fnmatch
import json
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Callable, Mapping

FAULT_KINDS = ("status", "connection_reset", "delay", "truncated_body", "rate_limited", "revoke_token",
               "mutate_while_paging")
RATE_LIMIT_STYLES = ("primary", "secondary", "gitlab")
# Faults that replace the normal response; the first one that fires wins.
TERMINAL_KINDS = ("status", "connection_reset", "truncated_body", "rate_limited", "revoke_token")
RULE_FIELDS = ("path", "fault", "method", "regex", "after", "times", "probability", "seed", "status",
               "delay_seconds", "fraction", "style", "retry_after", "reset_in", "mutation", "params", "message")


class FaultConfigError(ValueError):
    pass


@dataclass
class FaultRule:
    path: str
    fault: str
    method: str | None = None
    regex: bool = False
    after: int = 0
    times: int | None = None
    probability: float = 1.0
    seed: int | None = None  # default: derived from the plan seed and the rule's position
    status: int = 502
    delay_seconds: float = 0.0
    fraction: float = 0.5
    style: str = "primary"
    retry_after: int = 1
    reset_in: int = 1
    mutation: str | None = None  # JSON: name of a mutation the server registered
    params: dict[str, Any] = field(default_factory=dict)  # passed to a named mutation
    message: str | None = None
    callback: Callable[[], object] | None = None  # Python: the mutation itself
    # Runtime counters.
    matched: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.fault not in FAULT_KINDS:
            raise FaultConfigError(f"unknown fault {self.fault!r}; known: {', '.join(FAULT_KINDS)}")
        if self.method is not None:
            self.method = self.method.upper()
        if not 0.0 <= self.probability <= 1.0:
            raise FaultConfigError("probability must be within [0, 1]")
        if self.after < 0 or (self.times is not None and self.times < 0):
            raise FaultConfigError("after and times must not be negative")
        if self.fault == "rate_limited" and self.style not in RATE_LIMIT_STYLES:
            raise FaultConfigError(f"style must be one of {', '.join(RATE_LIMIT_STYLES)}")
        if self.fault == "truncated_body" and not 0.0 <= self.fraction < 1.0:
            raise FaultConfigError("fraction must be within [0, 1)")
        if self.fault == "mutate_while_paging" and self.callback is None and self.mutation is None:
            raise FaultConfigError("mutate_while_paging needs a callback (Python) or a mutation name (JSON)")
        try:
            self._pattern = re.compile(self.path if self.regex else fnmatch.translate(self.path))
        except re.error as problem:
            raise FaultConfigError(f"bad path pattern {self.path!r}: {problem}") from None
        self._rng: random.Random | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and self._pattern.fullmatch(path) is not None

    def to_json(self) -> dict[str, Any]:
        payload = {name: getattr(self, name) for name in RULE_FIELDS}
        payload.update(matched=self.matched, fired=self.fired, callback=self.callback is not None)
        return payload


@dataclass
class FaultDecision:
    """What the server must do with one request."""
    terminal: FaultRule | None = None
    delay_seconds: float = 0.0
    mutations: list[FaultRule] = field(default_factory=list)
    revoked: bool = False  # the source's token was revoked earlier

    @property
    def kind(self) -> str | None:
        if self.revoked:
            return "revoke_token"
        return self.terminal.fault if self.terminal else None


class FaultPlan:
    """Thread-safe ordered list of rules plus the sources whose tokens were revoked."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._revoked_sources: set[str] = set()
        self.fired_by_kind: Counter[str] = Counter()

    def add(self, path: str, fault: str, **options: Any) -> FaultRule:
        """Append a rule, e.g. `plan.add("/github/repos/*/pulls", "status", status=502, times=2)`."""
        return self.add_rule(FaultRule(path=path, fault=fault, **options))

    def add_rule(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            position = len(self._rules)
            rule._rng = random.Random(f"{self.seed}:{position}" if rule.seed is None else rule.seed)
            self._rules.append(rule)
        return rule

    def add_json(self, payload: Any) -> list[FaultRule]:
        """One rule object or a list of them, as accepted by `POST /_sim/faults`."""
        items = payload if isinstance(payload, list) else [payload]
        rules = [rule_from_json(item) for item in items]
        return [self.add_rule(rule) for rule in rules]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._revoked_sources.clear()
            self.fired_by_kind.clear()

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def revoked(self, source: str) -> bool:
        with self._lock:
            return source in self._revoked_sources

    def decide(self, method: str, path: str, source: str) -> FaultDecision:
        decision = FaultDecision()
        with self._lock:
            if source in self._revoked_sources:
                decision.revoked = True
                return decision
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                rule.matched += 1
                if rule.matched <= rule.after or (rule.times is not None and rule.fired >= rule.times):
                    continue
                if rule.probability < 1.0 and rule._rng.random() >= rule.probability:
                    continue
                rule.fired += 1
                self.fired_by_kind[rule.fault] += 1
                if rule.fault == "delay":
                    decision.delay_seconds += rule.delay_seconds
                elif rule.fault == "mutate_while_paging":
                    decision.mutations.append(rule)
                else:
                    decision.terminal = rule
                    if rule.fault == "revoke_token":
                        self._revoked_sources.add(source)
                    break
        return decision

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"fired": dict(sorted(self.fired_by_kind.items())),
                    "revoked_sources": sorted(self._revoked_sources),
                    "rules": [rule.to_json() for rule in self._rules]}


def rule_from_json(item: Any) -> FaultRule:
    if not isinstance(item, Mapping):
        raise FaultConfigError("a fault rule must be a JSON object")
    unknown = set(item) - set(RULE_FIELDS) - {"revoke_token_after"}
    if unknown:
        raise FaultConfigError(f"unknown rule fields: {sorted(unknown)}")
    if "path" not in item or "fault" not in item:
        raise FaultConfigError("a fault rule needs 'path' and 'fault'")
    options = dict(item)
    if "revoke_token_after" in options:  # the brief's spelling, kept as an alias
        options["after"] = options.pop("revoke_token_after")
    try:
        return FaultRule(**options)
    except TypeError as problem:
        raise FaultConfigError(str(problem)) from None


# -- responses for terminal faults ---------------------------------------------------


def fault_response(rule: FaultRule | None, now: float | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) for `status`, `rate_limited` and `revoke_token` (rule None = revoked)."""
    now = time.time() if now is None else now
    if rule is None or rule.fault == "revoke_token":
        return _json(401, rule.message if rule and rule.message else "Bad credentials")
    if rule.fault == "status":
        return _json(rule.status, rule.message or _REASONS.get(rule.status, "Injected failure"))
    if rule.fault == "rate_limited":
        if rule.style == "primary":
            status, headers, body = _json(403, rule.message or "API rate limit exceeded (simulated).")
            headers += [("X-RateLimit-Limit", "5000"), ("X-RateLimit-Remaining", "0"),
                        ("X-RateLimit-Used", "5000"), ("X-RateLimit-Reset", str(int(now) + rule.reset_in)),
                        ("X-RateLimit-Resource", "core")]
            return status, headers, body
        if rule.style == "gitlab":  # docs.gitlab.com/security/rate_limits: headers of a throttled request
            reset = int(now) + rule.reset_in
            headers = [("Content-Type", "text/plain; charset=utf-8"), ("RateLimit-Limit", "2000"),
                       ("RateLimit-Observed", "2001"), ("RateLimit-Remaining", "0"),
                       ("RateLimit-Reset", str(reset)), ("RateLimit-ResetTime", formatdate(reset, usegmt=True)),
                       ("Retry-After", str(rule.reset_in))]
            return 429, headers, (rule.message or "Retry later").encode() + b"\n"
        status = rule.status if rule.status in (403, 429) else 403
        status, headers, body = _json(status, rule.message or "You have exceeded a secondary rate limit. "
                                      "Please wait a few minutes before you try again.")
        headers.append(("Retry-After", str(rule.retry_after)))
        return status, headers, body
    raise ValueError(f"{rule.fault} has no canned response")


_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def _json(status: int, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    body = json.dumps({"message": message, "documentation_url": "https://docs.github.com/rest",
                       "status": str(status)}, separators=(",", ":")).encode()
    return status, [("Content-Type", "application/json; charset=utf-8")], body
