"""Requests a source API answered, per "METHOD template" — one counter for every source."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class RouteCounts:
    """Thread-safe (the server handles requests on many threads)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, method: str, template: str | None) -> None:
        with self._lock:
            self._counts[f"{method} {template or '<unmatched>'}"] += 1

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def stats(self) -> dict[str, Any]:
        """`{"<source>_requests": total, "routes": {"GET /path/template": n}}`."""
        with self._lock:
            routes = dict(sorted(self._counts.items()))
        return {f"{self.source}_requests": sum(routes.values()), "routes": routes}
