"""Bad data on purpose: a seeded, declarative list of corruptions of the served records.

A `Corruption` names a mode, the request paths it applies to (a glob over the full path,
mount prefix included, e.g. `/github/repos/acme/web/pulls`) and the record it corrupts
(`match`: field -> value, e.g. `{"id": 123}`). The server passes every JSON response of
a matching path through `CorruptionPlan.corrupt` after the source API has answered, so
the models stay clean and a plan can be cleared to "fix the source" again. Records are
chosen with `CorruptionPlan.pick`, which draws from the plan's seeded generator, so the
same seed and the same candidates always corrupt the same records.

Modes (what an upstream API has been seen to send):
- `negative_duration`: a numeric duration below zero (`field`, e.g. `duration`), or, for a
  pair of timestamps, the end an hour before the start (`field="started_at:completed_at"`);
- `merged_before_created`: `merged_at` a day before `created_at`;
- `coverage_above_100`: a coverage percentage of 123.5 (`field`, default `coverage`);
- `duplicate_key`: the record served twice, the copy with another `id` but the same value
  of `field` (a natural key such as a pull request's `number`); with `field="id"` the
  very same record twice;
- `future_date`: `field` (default `created_at`) ten years after the simulator's clock;
- `unexpected_field`: a field the API did not have before (`field`, default
  `x_sim_added_field`) holding an object;
- `missing_field`: `field` (default `created_at`) removed from the record.

While a plan holds corruptions for a path, conditional requests to it are answered in
full (the client's `If-None-Match` is dropped), since a 304 would hide the change; a
changed body gets a new ETag.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import random
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

MODES = (
    "negative_duration", "merged_before_created", "coverage_above_100", "duplicate_key",
    "future_date", "unexpected_field", "missing_field",
)
DEFAULT_FIELD = {
    "negative_duration": "duration",
    "merged_before_created": "merged_at",
    "coverage_above_100": "coverage",
    "duplicate_key": "number",
    "future_date": "created_at",
    "unexpected_field": "x_sim_added_field",
    "missing_field": "created_at",
}
FUTURE = timedelta(days=3650)
COVERAGE_ABOVE_100 = 123.5
DUPLICATE_ID_OFFSET = 10**12


class CorruptionError(ValueError):
    """A corruption that cannot be applied as declared (unknown mode, wrong field type)."""


@dataclass(frozen=True)
class Corruption:
    mode: str
    match: Mapping[str, Any]
    path: str = "*"
    field: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise CorruptionError(f"unknown corruption mode {self.mode!r}; known: {', '.join(MODES)}")
        if not self.match:
            raise CorruptionError("a corruption needs `match` naming the record it corrupts")

    @property
    def target(self) -> str:
        return self.field or DEFAULT_FIELD[self.mode]

    def matches(self, record: Any) -> bool:
        return isinstance(record, dict) and all(record.get(k) == v for k, v in self.match.items())


def _parse(value: Any) -> datetime:
    if not isinstance(value, str):
        raise CorruptionError(f"expected an ISO 8601 timestamp, got {value!r}")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _corrupt_record(corruption: Corruption, record: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """Corrupt `record` in place; returns a record to insert after it (duplicate_key) or None."""
    mode, name = corruption.mode, corruption.target
    if mode == "negative_duration":
        if ":" in name:
            start, end = name.split(":", 1)
            record[end] = _iso(_parse(record[start]) - timedelta(hours=1))
        else:
            value = record.get(name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise CorruptionError(f"negative_duration: {name!r} is not a number in the record: {value!r}")
            record[name] = -(abs(value) or 60)
    elif mode == "merged_before_created":
        record[name] = _iso(_parse(record["created_at"]) - timedelta(days=1))
    elif mode == "coverage_above_100":
        record[name] = str(COVERAGE_ABOVE_100) if isinstance(record.get(name), str) else COVERAGE_ABOVE_100
    elif mode == "duplicate_key":
        twin = copy.deepcopy(record)
        if name != "id" and isinstance(record.get("id"), int):
            twin["id"] = record["id"] + DUPLICATE_ID_OFFSET
        return twin
    elif mode == "future_date":
        record[name] = _iso(now + FUTURE)
    elif mode == "unexpected_field":
        record[name] = {"added_by": "upstream", "note": "a field this warehouse has never seen", "level": 3}
    elif mode == "missing_field":
        record.pop(name, None)
    return None


@dataclass
class CorruptionPlan:
    """The corruptions the server applies; empty by default (the simulator serves clean data)."""

    seed: int = 0
    corruptions: list[Corruption] = field(default_factory=list)
    # The simulator's "now", for future dates; None: the wall clock.
    clock: Any = None

    def __post_init__(self) -> None:
        self._rng = random.Random(f"{self.seed}:corruption")
        self._lock = threading.Lock()
        self.applied: Counter[str] = Counter()  # mode -> records corrupted (each response counts)

    def pick(self, candidates: Iterable[Any], key: Any = None) -> Any:
        """One of `candidates`, drawn from the plan's seeded generator (sorted first, so the
        order they come in does not matter)."""
        ordered = sorted(candidates, key=key)
        if not ordered:
            raise CorruptionError("no candidate record to corrupt")
        with self._lock:
            return self._rng.choice(ordered)

    def add(self, mode: str, match: Mapping[str, Any], path: str = "*", field: str | None = None) -> Corruption:
        corruption = Corruption(mode, dict(match), path, field)
        with self._lock:
            self.corruptions.append(corruption)
        return corruption

    def extend(self, corruptions: Sequence[Corruption]) -> None:
        with self._lock:
            self.corruptions.extend(corruptions)

    def clear(self) -> None:
        with self._lock:
            self.corruptions.clear()

    def for_path(self, path: str) -> list[Corruption]:
        with self._lock:
            return [c for c in self.corruptions if fnmatch.fnmatchcase(path, c.path)]

    def corrupt(self, path: str, body: bytes) -> bytes | None:
        """The response body with this path's corruptions applied, or None when none applied."""
        wanted = self.for_path(path)
        if not wanted:
            return None
        try:
            document = json.loads(body)
        except ValueError:
            return None
        now = self.clock() if callable(self.clock) else datetime.now(UTC)
        changed = self._walk(document, wanted, now)
        if not changed:
            return None
        return json.dumps(document, separators=(",", ":")).encode()

    def _walk(self, document: Any, wanted: list[Corruption], now: datetime) -> int:
        """Corrupt the records of a response: the document itself (a detail endpoint), the
        items of a top-level list, or of a list under a top-level key (`{"jobs": [...]}`).
        Objects nested inside a record (its user, its labels) are never taken for records."""
        changed = 0
        if isinstance(document, dict):
            for corruption in wanted:
                # A single record cannot be served twice; a duplicate needs a list.
                if corruption.mode != "duplicate_key" and corruption.matches(document):
                    _corrupt_record(corruption, document, now)
                    changed += self._count(corruption.mode)
            lists = [value for value in document.values() if isinstance(value, list)]
        else:
            lists = [document] if isinstance(document, list) else []
        for records in lists:
            index = 0
            while index < len(records):
                for corruption in wanted:
                    if corruption.matches(records[index]):
                        twin = _corrupt_record(corruption, records[index], now)
                        changed += self._count(corruption.mode)
                        if twin is not None:
                            records.insert(index + 1, twin)
                            index += 1
                index += 1
        return changed

    def _count(self, mode: str) -> int:
        with self._lock:
            self.applied[mode] += 1
        return 1


def with_new_etag(headers: list[tuple[str, str]], body: bytes) -> list[tuple[str, str]]:
    """The response headers for a changed body: a new ETag, so a cache never mixes the two."""
    etag = f'W/"{hashlib.md5(body).hexdigest()}"'
    return [(name, etag if name.lower() == "etag" else value) for name, value in headers]
