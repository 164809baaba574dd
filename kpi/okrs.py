"""OKRs as code: config/okrs/<period>.yaml, one file per quarter (the format is written in
the header of config/okrs/2026-Q4.yaml).

`load_okrs()` reads every file of the folder and checks the schema, the references (KPI ids
of the catalogue, teams and repositories of the pipeline configuration), the ids (unique
across all periods), the alignment (objectives align to objectives of their period, never
to key results, without cycles), the direction of each target, the weights and the
check-ins. It raises one OkrValidationError listing every error found, each as
`file:line: message`; the line comes from the YAML node tree, so it is the line of the
offending key. A valid folder becomes an OkrSet, whose rows the warehouse loads.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from kpi.catalogue import KpiCatalogue, load_catalogue
from kpi.config import PROJECT_ROOT, PipelineConfig, load_config

OKR_DIR = PROJECT_ROOT / "config" / "okrs"

OBJECTIVE_COLUMNS = {
    "period": "VARCHAR", "objective_id": "VARCHAR", "title": "VARCHAR", "level": "VARCHAR",
    "owner_team": "VARCHAR", "owner_person": "VARCHAR", "parent_objective_id": "VARCHAR",
    "objective_type": "VARCHAR", "description": "VARCHAR", "period_start": "DATE", "period_end": "DATE",
    "source_file": "VARCHAR", "source_line": "INTEGER",
}
KEY_RESULT_COLUMNS = {
    "period": "VARCHAR", "key_result_id": "VARCHAR", "objective_id": "VARCHAR", "title": "VARCHAR",
    "weight": "DOUBLE", "kind": "VARCHAR", "kpi_id": "VARCHAR", "scope": "VARCHAR", "repository": "VARCHAR",
    "baseline": "DOUBLE", "target": "DOUBLE", "direction": "VARCHAR", "unit": "VARCHAR",
    "source_file": "VARCHAR", "source_line": "INTEGER",
}
CHECK_IN_COLUMNS = {
    "period": "VARCHAR", "key_result_id": "VARCHAR", "check_in_date": "DATE", "value": "DOUBLE",
    "confidence": "DOUBLE", "note": "VARCHAR",
}

LEVELS = ("company", "team", "individual")
OBJECTIVE_TYPES = ("committed", "aspirational")
SCOPES = ("team", "repository")
WEIGHT_TOLERANCE = 1e-9

_PERIOD_RE = re.compile(r"^(\d{4})-Q([1-4])$")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_REPOSITORY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}/[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

# Keys of each mapping: (required, optional).
_FILE_KEYS = (("period", "objectives"), ())
_OBJECTIVE_KEYS = (("id", "title", "level", "owner", "type", "key_results"), ("parent", "description"))
_OWNER_KEYS = (("team",), ("person",))
_KEY_RESULT_KEYS = (("id", "title", "weight"), ("kpi", "manual"))  # and exactly one of kpi, manual
_KPI_KEYS = (("id", "scope", "baseline", "target"), ("repository",))
_MANUAL_KEYS = (("unit", "baseline", "target"), ("check_ins",))
_CHECK_IN_KEYS = (("date", "value", "confidence"), ("note",))
_HINTS = {"direction": "the direction of a KPI comes from the KPI catalogue, and a manual key result's "
                       "from baseline to target: remove it",
          "kpi_id": "write kpi: {id: ...}"}

OkrError = tuple[str, int, str]  # (file, 1-based line, message)


class OkrValidationError(ValueError):
    """OKR files are wrong: every error found, one per line, as `file:line: message`."""

    def __init__(self, errors: list[OkrError]):
        self.errors = sorted(errors, key=lambda error: (error[0], error[1]))
        super().__init__("\n".join(f"{file}:{line}: {message}" for file, line, message in self.errors))


def period_bounds(period: str) -> tuple[date, date]:
    """A quarter's first day and the first day after it: 2026-Q4 -> (2026-10-01, 2027-01-01)."""
    match = _PERIOD_RE.match(period)
    if not match:
        raise ValueError(f"expected a period like 2026-Q4, got {period!r}")
    year, quarter = int(match.group(1)), int(match.group(2))
    start = date(year, 3 * quarter - 2, 1)
    return start, date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)


@dataclass
class CheckIn:
    date: date | None
    value: float | None
    confidence: float | None
    note: str | None
    line: int


@dataclass
class KeyResult:
    id: str | None
    title: str | None
    weight: float | None
    kind: str | None  # kpi | manual
    kpi_id: str | None
    scope: str | None
    repository: str | None
    baseline: float | None
    target: float | None
    direction: str | None
    unit: str | None
    check_ins: list[CheckIn]
    line: int
    lines: dict[str, int] = field(default_factory=dict, repr=False)  # key -> line ("kpi.scope", "weight")


@dataclass
class Objective:
    period: str | None
    id: str | None
    title: str | None
    level: str | None
    owner_team: str | None
    owner_person: str | None
    parent_id: str | None
    type: str | None
    description: str | None
    source_file: str
    line: int
    key_results: list[KeyResult]
    lines: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def period_start(self) -> date:
        return period_bounds(self.period)[0]

    @property
    def period_end(self) -> date:
        return period_bounds(self.period)[1]


@dataclass
class OkrSet:
    """Valid OKRs of every period of the folder, in file order."""

    periods: list[str] = field(default_factory=list)
    objectives: list[Objective] = field(default_factory=list)

    @property
    def key_results(self) -> list[KeyResult]:
        return [key_result for objective in self.objectives for key_result in objective.key_results]

    def objective_rows(self) -> list[dict]:
        return [{
            "period": o.period, "objective_id": o.id, "title": o.title, "level": o.level,
            "owner_team": o.owner_team, "owner_person": o.owner_person, "parent_objective_id": o.parent_id,
            "objective_type": o.type, "description": o.description,
            "period_start": o.period_start, "period_end": o.period_end,
            "source_file": o.source_file, "source_line": o.line,
        } for o in self.objectives]

    def key_result_rows(self) -> list[dict]:
        return [{
            "period": o.period, "key_result_id": k.id, "objective_id": o.id, "title": k.title, "weight": k.weight,
            "kind": k.kind, "kpi_id": k.kpi_id, "scope": k.scope, "repository": k.repository,
            "baseline": k.baseline, "target": k.target, "direction": k.direction, "unit": k.unit,
            "source_file": o.source_file, "source_line": k.line,
        } for o in self.objectives for k in o.key_results]

    def check_in_rows(self) -> list[dict]:
        return [{
            "period": o.period, "key_result_id": k.id, "check_in_date": c.date, "value": c.value,
            "confidence": c.confidence, "note": c.note,
        } for o in self.objectives for k in o.key_results for c in k.check_ins]


def load_okrs(directory: Path = OKR_DIR, config: PipelineConfig | None = None,
              catalogue: KpiCatalogue | None = None) -> OkrSet:
    """Read and validate every <period>.yaml of `directory` (a missing or empty folder: no
    OKRs). Raises OkrValidationError listing every error found, each with file and line."""
    directory = Path(directory)
    files = sorted(path for pattern in ("*.yaml", "*.yml") for path in directory.glob(pattern)) \
        if directory.is_dir() else []
    if not files:
        return OkrSet()
    config = config or load_config()
    catalogue = catalogue or load_catalogue()
    errors: list[OkrError] = []
    periods: dict[str, str] = {}
    objectives: list[Objective] = []
    for path in files:
        parsed = _FileReader(path, errors).read()
        if parsed is None:
            continue
        period, file_objectives, period_line = parsed
        if period is not None:
            if period in periods:
                errors.append((_display(path), period_line, f"period {period} is also the period of {periods[period]}: "
                                                            "one file per period"))
            periods.setdefault(period, _display(path))
        objectives += file_objectives
    _check(objectives, config, catalogue, errors)
    if errors:
        raise OkrValidationError(errors)
    return OkrSet(periods=sorted(periods), objectives=objectives)


def _display(path: Path) -> str:
    """A file as errors and rows name it: relative to the project root when inside it."""
    absolute = path.absolute()
    try:
        return str(absolute.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(absolute)


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (date, int, float)):
        return str(value)
    return repr(value)


def _names(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(names)


class _FileReader:
    """One OKR file: its values, the line of every key path (from the YAML node tree), and
    the errors found in it. Values that are wrong become None, so that the checks after the
    schema still run on everything else."""

    def __init__(self, path: Path, errors: list[OkrError]):
        self.path = path
        self.file = _display(path)
        self.errors = errors
        self.lines: dict[tuple, int] = {(): 1}

    # Lines and errors.
    def line(self, path: tuple) -> int:
        """The line of a key path; a key that is not there: the line of its mapping."""
        while path not in self.lines:
            path = path[:-1]
        return self.lines[path]

    def error(self, path: tuple, message: str) -> None:
        self.errors.append((self.file, self.line(path), message))

    def present(self, path: tuple, keys: tuple[str, ...], prefix: str = "") -> dict[str, int]:
        """The lines of those dotted keys under `path` that are in the file (named prefix + key)."""
        found = {}
        for key in keys:
            full = path + tuple(int(part) if part.isdigit() else part for part in key.split("."))
            if full in self.lines:
                found[prefix + key] = self.lines[full]
        return found

    def _index(self, loader: yaml.SafeLoader, node: yaml.Node, path: tuple) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                try:
                    key = loader.construct_object(key_node, deep=True)
                    hash(key)
                except Exception:  # an unhashable key: left to the construction to refuse
                    continue
                line = key_node.start_mark.line + 1
                if key in seen:
                    self.errors.append((self.file, line, f"duplicate key {_shown(key)} (also at line {seen[key]}): "
                                                         "YAML would keep only the last one; give each key once"))
                seen.setdefault(key, line)
                self.lines[path + (key,)] = line
                self._index(loader, value_node, path + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.lines[path + (index,)] = item.start_mark.line + 1
                self._index(loader, item, path + (index,))

    def _load(self) -> tuple[bool, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.errors.append((self.file, 1, f"cannot read the file ({exc})"))
            return False, None
        loader, node = yaml.SafeLoader(text), None
        try:
            node = loader.get_single_node()
            if node is None:
                return True, None
            self._index(loader, node, ())
            return True, loader.construct_document(node)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            detail = ": ".join(part for part in (exc.context, exc.problem) if part)
            self.errors.append((self.file, mark.line + 1 if mark else 1, f"not valid YAML ({detail})"))
        except (yaml.YAMLError, ValueError, TypeError) as exc:  # e.g. a timestamp like 2026-13-01
            self.errors.append((self.file, self._bad_scalar_line(node) if node is not None else 1,
                                f"not valid YAML ({exc})"))
        finally:
            loader.dispose()
        return False, None

    @staticmethod
    def _bad_scalar_line(node: yaml.Node) -> int:
        """The line of the first scalar that cannot be constructed (the YAML error has no mark)."""
        pending = [node]
        while pending:
            current = pending.pop(0)
            if isinstance(current, yaml.ScalarNode):
                try:
                    yaml.SafeLoader("").construct_object(current)
                except Exception:
                    return current.start_mark.line + 1
            elif isinstance(current, yaml.MappingNode):
                pending += [part for pair in current.value for part in pair]
            elif isinstance(current, yaml.SequenceNode):
                pending += current.value
        return 1

    # Shapes and values.
    def mapping(self, value: Any, path: tuple, what: str, keys: tuple[tuple[str, ...], tuple[str, ...]]) -> dict | None:
        required, optional = keys
        if not isinstance(value, dict):
            self.error(path, f"{what} must be a mapping with {_names(required)}, got {_shown(value)}")
            return None
        allowed = required + optional
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = _HINTS.get(key) or (f"did you mean {close[0]!r}?" if close else "")
                self.error(path + (key,), f"unknown key {_shown(key)} in {what}{f' ({hint})' if hint else ''}; "
                                          f"expected keys: {_names(allowed)}")
        for key in required:
            if key not in value:
                self.error(path, f"{what} is missing the required key {key!r}")
        return value

    def text(self, m: dict | None, key: str, path: tuple, what: str, *, pattern: re.Pattern | None = None,
             expected: str = "a non-empty string", optional: bool = False) -> str | None:
        if m is None or key not in m or (optional and m[key] is None):
            return None
        value = m[key]
        if not isinstance(value, str) or not value.strip() or (pattern is not None and not pattern.match(value)):
            self.error(path + (key,), f"{what}: {key} must be {expected}, got {_shown(value)}")
            return None
        return value.strip()

    def choice(self, m: dict | None, key: str, path: tuple, what: str, choices: tuple[str, ...]) -> str | None:
        if m is None or key not in m:
            return None
        if m[key] not in choices or not isinstance(m[key], str):
            self.error(path + (key,), f"{what}: {key} must be one of {_names(choices)}, got {_shown(m[key])}")
            return None
        return m[key]

    def number(self, m: dict | None, key: str, path: tuple, what: str) -> float | None:
        if m is None or key not in m:
            return None
        value = m[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.error(path + (key,), f"{what}: {key} must be a number, got {_shown(value)}")
            return None
        return float(value)

    def day(self, m: dict | None, key: str, path: tuple, what: str) -> date | None:
        if m is None or key not in m:
            return None
        value = m[key]
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value.strip())
            except ValueError:
                pass
        if not isinstance(value, date) or isinstance(value, datetime):
            self.error(path + (key,), f"{what}: {key} must be a date like 2026-10-09, got {_shown(value)}")
            return None
        return value

    def sequence(self, m: dict | None, key: str, path: tuple, what: str, *, optional: bool = False) -> list | None:
        if m is None or key not in m or (optional and m[key] is None):
            return None
        if not isinstance(m[key], list):
            self.error(path + (key,), f"{what}: {key} must be a list, got {_shown(m[key])}")
            return None
        return m[key]

    # The file.
    def read(self) -> tuple[str | None, list[Objective], int] | None:
        """(the file's period, its objectives, the line of `period:`); None when unreadable."""
        ok, raw = self._load()
        if not ok:
            return None
        document = self.mapping(raw, (), "an OKR file", _FILE_KEYS)
        if document is None:
            return None
        declared = self.text(document, "period", (), "the file", pattern=_PERIOD_RE,
                             expected="a quarter like 2026-Q4 (year, -Q, quarter 1-4)")
        period_line = self.line(("period",))
        stem = self.path.stem
        if not _PERIOD_RE.match(stem):
            self.errors.append((self.file, period_line, f"the file name {self.path.name!r} is not a period: "
                                                        "name OKR files <period>.yaml, like 2026-Q4.yaml"))
        elif declared is not None and declared != stem:
            self.error(("period",), f"period {declared} does not match the file name {self.path.name}: "
                                    f"a file holds the OKRs of the period it is named after ({stem})")
        period = declared or (stem if _PERIOD_RE.match(stem) else None)
        items = self.sequence(document, "objectives", (), "the file") or []
        return period, [self.objective(item, ("objectives", index), index, period)
                        for index, item in enumerate(items)], period_line

    def objective(self, raw: Any, path: tuple, index: int, period: str | None) -> Objective:
        what = (f"objective {raw['id']!r}" if isinstance(raw, dict) and isinstance(raw.get("id"), str)
                else f"objective #{index + 1}")
        m = self.mapping(raw, path, what, _OBJECTIVE_KEYS)
        owner = self.mapping(m["owner"], path + ("owner",), f"{what}: owner", _OWNER_KEYS) \
            if m is not None and "owner" in m else None
        key_results = self.sequence(m, "key_results", path, what)
        if key_results == []:
            self.error(path + ("key_results",), f"{what} has no key results: an objective is measured by one or more")
        objective = Objective(
            period=period,
            id=self.text(m, "id", path, what, pattern=_ID_RE, expected="lowercase letters, digits, '-' and '_'"),
            title=self.text(m, "title", path, what),
            level=self.choice(m, "level", path, what, LEVELS),
            owner_team=self.text(owner, "team", path + ("owner",), f"{what}: owner", expected="a team name"),
            owner_person=self.text(owner, "person", path + ("owner",), f"{what}: owner",
                                   expected="a person's name", optional=True),
            parent_id=self.text(m, "parent", path, what, expected="an objective id", optional=True),
            type=self.choice(m, "type", path, what, OBJECTIVE_TYPES),
            description=self.text(m, "description", path, what, optional=True),
            source_file=self.file, line=self.line(path), key_results=[],
            lines=self.present(path, ("id", "owner", "owner.team", "owner.person", "parent", "key_results")),
        )
        if owner is not None and owner.get("person", "") is None:  # person: null is no person
            objective.lines.pop("owner.person", None)
        for kr_index, item in enumerate(key_results or []):
            objective.key_results.append(self.key_result(item, path + ("key_results", kr_index), kr_index, what))
        return objective

    def key_result(self, raw: Any, path: tuple, index: int, objective_what: str) -> KeyResult:
        what = (f"key result {raw['id']!r}" if isinstance(raw, dict) and isinstance(raw.get("id"), str)
                else f"{objective_what}: key result #{index + 1}")
        m = self.mapping(raw, path, what, _KEY_RESULT_KEYS)
        kind = None
        if m is not None:
            given = [key for key in ("kpi", "manual") if key in m]
            if len(given) == 2:
                self.error(path + ("manual",), f"{what} has both kpi and manual: give exactly one (kpi: progress "
                                               "from the warehouse, manual: progress from check-ins)")
            elif not given:
                self.error(path, f"{what} needs kpi: {{id, scope, baseline, target}} or "
                                 "manual: {unit, baseline, target, check_ins}, got neither")
            else:
                kind = given[0]
        key_result = KeyResult(
            id=self.text(m, "id", path, what, pattern=_ID_RE, expected="lowercase letters, digits, '-' and '_'"),
            title=self.text(m, "title", path, what), weight=self.number(m, "weight", path, what),
            kind=kind, kpi_id=None, scope=None, repository=None, baseline=None, target=None, direction=None,
            unit=None, check_ins=[], line=self.line(path),
        )
        key_result.lines = self.present(path, ("weight", "kpi", "manual"))
        if kind is None:
            return key_result
        body_path = path + (kind,)
        body = self.mapping(m[kind], body_path, f"{what}: {kind}", _KPI_KEYS if kind == "kpi" else _MANUAL_KEYS)
        key_result.baseline = self.number(body, "baseline", body_path, what)
        key_result.target = self.number(body, "target", body_path, what)
        if kind == "kpi":
            key_result.kpi_id = self.text(body, "id", body_path, what, expected="a KPI id of the catalogue")
            key_result.scope = self.choice(body, "scope", body_path, what, SCOPES)
            key_result.repository = self.text(body, "repository", body_path, what, pattern=_REPOSITORY_RE,
                                              expected="owner/repo", optional=True)
            if body is not None and body.get("repository", "") is None:  # repository: null is no repository
                body = {key: value for key, value in body.items() if key != "repository"}
        else:
            key_result.unit = self.text(body, "unit", body_path, what)
            for check_index, item in enumerate(self.sequence(body, "check_ins", body_path, what, optional=True) or []):
                check_path = body_path + ("check_ins", check_index)
                check_what = f"{what}: check-in #{check_index + 1}"
                check = self.mapping(item, check_path, check_what, _CHECK_IN_KEYS)
                key_result.check_ins.append(CheckIn(
                    date=self.day(check, "date", check_path, check_what),
                    value=self.number(check, "value", check_path, check_what),
                    confidence=self.number(check, "confidence", check_path, check_what),
                    note=self.text(check, "note", check_path, check_what, optional=True),
                    line=self.line(check_path)))
                key_result.lines.update(self.present(
                    body_path, (f"check_ins.{check_index}.date", f"check_ins.{check_index}.confidence"), "manual."))
        key_result.lines.update(self.present(body_path, ("id", "scope", "baseline", "target"), f"{kind}."))
        if body is not None and "repository" in body:
            key_result.lines.update(self.present(body_path, ("repository",), f"{kind}."))
        return key_result


def _line(lines: dict[str, int], key: str, default: int) -> int:
    """The line of a dotted key, else of the nearest enclosing key that is there, else `default`."""
    while key:
        if key in lines:
            return lines[key]
        key = key.rpartition(".")[0]
    return default


@dataclass
class _Named:
    """What an id names: an objective, or a key result of an objective (`owner`)."""

    kind: str  # objective | key result
    period: str | None
    file: str
    line: int
    objective: Objective | None = None
    owner: Objective | None = None


class _Ids:
    """Every id of every period's file: one namespace, so that a parent names one thing."""

    def __init__(self, objectives: list[Objective], error) -> None:
        self.named: dict[str, list[_Named]] = {}
        for objective in objectives:
            self._add(objective.id, _Named("objective", objective.period, objective.source_file,
                                           _line(objective.lines, "id", objective.line), objective=objective), error)
            for key_result in objective.key_results:
                self._add(key_result.id, _Named("key result", objective.period, objective.source_file,
                                                key_result.line, owner=objective), error)

    def _add(self, identifier: str | None, entry: _Named, error) -> None:
        if identifier is None:
            return
        if identifier in self.named:
            first = self.named[identifier][0]
            error(entry.file, entry.line, f"duplicate id {identifier!r}: {entry.kind} {identifier!r} here and the "
                                          f"{first.kind} at {first.file}:{first.line} (ids are unique across "
                                          "every period's file)")
        self.named.setdefault(identifier, []).append(entry)

    def resolve(self, identifier: str, period: str | None) -> _Named | None:
        """What a parent id names: an objective of the same period first (when an id is duplicated)."""
        entries = self.named.get(identifier, [])
        same_period = [e for e in entries if e.kind == "objective" and e.period == period]
        return (same_period or entries or [None])[0]

    def objectives_of(self, period: str | None) -> list[str]:
        return [i for i, entries in self.named.items() if any(e.kind == "objective" and e.period == period
                                                              for e in entries)]


def _check(objectives: list[Objective], config: PipelineConfig, catalogue: KpiCatalogue,
           errors: list[OkrError]) -> None:
    """The checks across fields, files and the other configuration, on what the schema let through."""
    def error(file: str, line: int, message: str) -> None:
        errors.append((file, line, message))

    ids = _Ids(objectives, error)
    teams = [team.name for team in config.teams]
    for objective in objectives:
        what = f"objective {objective.id!r}" if objective.id else f"the objective at line {objective.line}"
        _check_owner(objective, what, teams, config, error)
        _check_parent(objective, what, ids, error)
        weights = [key_result.weight for key_result in objective.key_results]
        if weights and None not in weights and abs(sum(weights) - 1) > WEIGHT_TOLERANCE:
            error(objective.source_file, _line(objective.lines, "key_results", objective.line),
                  f"{what}: the weights of its key results sum to {sum(weights):g} "
                  f"({' + '.join(f'{weight:g}' for weight in weights)}); they must sum to 1")
        for key_result in objective.key_results:
            _check_key_result(objective, key_result, config, catalogue, error)
    _check_cycles(objectives, ids, error)


def _check_owner(objective: Objective, what: str, teams: list[str], config: PipelineConfig, error) -> None:
    file, lines = objective.source_file, objective.lines
    if objective.owner_team is not None and objective.owner_team not in teams + [config.unassigned_team]:
        error(file, _line(lines, "owner.team", objective.line),
              f"{what}: unknown team {objective.owner_team!r}; teams of the pipeline configuration: "
              f"{_names(sorted(teams))} (or {config.unassigned_team})")
    if objective.level == "individual":
        if "owner" in lines and "owner.person" not in lines:
            error(file, lines["owner"], f"{what} is an individual objective: its owner names the person and the "
                                        "team, {person: <name>, team: <team>}")
    elif objective.level is not None and objective.owner_person is not None:
        error(file, _line(lines, "owner.person", objective.line),
              f"{what} is a {objective.level} objective, owned by a team: owner is {{team: <team>}} without a "
              "person (only individual objectives name one)")


def _check_parent(objective: Objective, what: str, ids: _Ids, error) -> None:
    parent, file, line = objective.parent_id, objective.source_file, _line(objective.lines, "parent", objective.line)
    if parent is None:
        return
    if objective.level == "company":
        error(file, line, f"{what} is a company objective, the top of the alignment: it has no parent "
                          f"(got parent {parent!r})")
    target = ids.resolve(parent, objective.period)
    if target is None:
        close = difflib.get_close_matches(parent, ids.objectives_of(objective.period), n=1)
        error(file, line, f"{what}: unknown parent objective {parent!r}"
                          + (f" (did you mean {close[0]!r}?)" if close else "; no objective of any period has this id"))
    elif target.kind == "key result":
        error(file, line, f"{what}: parent {parent!r} is a key result (of objective {target.owner.id!r}, "
                          f"{target.file}:{target.line}); objectives align to objectives, never to key results: "
                          f"name an objective, such as {target.owner.id!r}")
    elif objective.period is not None and target.period is not None and target.period != objective.period:
        error(file, line, f"{what}: parent {parent!r} is an objective of {target.period} ({target.file}:"
                          f"{target.line}); an objective aligns to an objective of its own period "
                          f"({objective.period})")


def _check_cycles(objectives: list[Objective], ids: _Ids, error) -> None:
    """Each alignment cycle once, at the parent line of its first objective in file order."""
    def parent_of(objective: Objective) -> Objective | None:
        target = ids.resolve(objective.parent_id, objective.period) if objective.parent_id else None
        return target.objective if target is not None and target.kind == "objective" else None

    state: dict[int, str] = {}  # id(objective) -> "walking" | "done"
    for start in objectives:
        path: list[Objective] = []
        current: Objective | None = start
        while current is not None and id(current) not in state:
            state[id(current)] = "walking"
            path.append(current)
            current = parent_of(current)
        if current is not None and state[id(current)] == "walking":
            cycle = path[path.index(current):]
            first = min(cycle, key=lambda o: (o.source_file, o.line))
            ordered = cycle[cycle.index(first):] + cycle[:cycle.index(first)]
            chain = " -> ".join(repr(o.id) for o in ordered + [first])
            error(first.source_file, _line(first.lines, "parent", first.line),
                  f"objectives {_names([repr(o.id) for o in ordered])} form an alignment cycle ({chain}): "
                  "a chain of parents must end at an objective without a parent")
        for objective in path:
            state[id(objective)] = "done"


def _check_key_result(objective: Objective, key_result: KeyResult, config: PipelineConfig,
                      catalogue: KpiCatalogue, error) -> None:
    """A key result's references, target and check-ins; sets its direction (and a KPI's unit)."""
    what = f"key result {key_result.id!r}" if key_result.id else f"the key result at line {key_result.line}"

    def fail(key: str, message: str) -> None:
        error(objective.source_file, _line(key_result.lines, key, key_result.line), f"{what}{message}")

    if key_result.weight is not None and key_result.weight <= 0:
        fail("weight", f": weight must be greater than 0, got {key_result.weight:g}")
    baseline, target = key_result.baseline, key_result.target
    if key_result.kind == "kpi":
        if objective.level == "individual":
            fail("kpi", f" links a KPI, but {objective.id!r} is an individual objective: its key results are "
                        "manual (KPIs measure teams, never a person)")
        known = [kpi.id for kpi in catalogue.kpis]
        kpi = catalogue.get(key_result.kpi_id) if key_result.kpi_id in known else None
        if key_result.kpi_id is not None and kpi is None:
            close = [k for k in known if key_result.kpi_id in k] or difflib.get_close_matches(key_result.kpi_id, known)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            fail("kpi.id", f": unknown KPI id {key_result.kpi_id!r}{hint}; KPI ids of the catalogue: {_names(known)}")
        if kpi is not None:
            key_result.direction, key_result.unit = kpi.direction, kpi.unit
        if key_result.scope == "repository":
            if "kpi.repository" not in key_result.lines:
                fail("kpi.scope", ": scope repository needs repository: owner/repo (a repository of the objective's "
                                  "owner team)")
            # kpi_period holds repository rows exactly where the catalogue's period_aggregation says so
            if kpi is not None and not (kpi.period_aggregation and kpi.period_aggregation.repository_rows):
                fail("kpi.scope", f": {kpi.id} has no repository rows in kpi_period (its catalogue "
                                  "period_aggregation.repository_rows is false): use scope team")
            owner = config.team_of(key_result.repository) if key_result.repository else None
            if owner is not None and objective.owner_team is not None and owner != objective.owner_team:
                fail("kpi.repository", f": repository {key_result.repository} belongs to team {owner} (teams in the "
                                       f"pipeline configuration), not to {objective.owner_team}, the objective's "
                                       "owner team")
        elif key_result.scope == "team" and key_result.repository is not None:
            fail("kpi.repository", ": scope team measures the whole team: remove repository (or use scope "
                                   "repository)")
        if kpi is not None and baseline is not None and target is not None:
            lower = kpi.direction == "lower_is_better"
            better = "below" if lower else "above"
            if target == baseline:
                fail("kpi.target", f": target equals the baseline ({baseline:g}); {kpi.id} is {kpi.direction}: "
                                   f"the target must be {better} the baseline")
            elif (target > baseline) == lower:
                fail("kpi.target", f": target {target:g} is {'above' if lower else 'below'} the baseline "
                                   f"{baseline:g}, but {kpi.id} is {kpi.direction} (KPI catalogue): the target must "
                                   f"be {better} the baseline")
    elif key_result.kind == "manual":
        if baseline is not None and target is not None:
            if target == baseline:
                fail("manual.target", f": target equals the baseline ({baseline:g}); a manual key result's "
                                      "direction comes from baseline to target: give a target above or below it")
            else:
                key_result.direction = "higher_is_better" if target > baseline else "lower_is_better"
        _check_check_ins(objective, key_result, fail)


def _check_check_ins(objective: Objective, key_result: KeyResult, fail) -> None:
    start, end = period_bounds(objective.period) if objective.period else (None, None)
    seen: dict[date, int] = {}
    for index, check in enumerate(key_result.check_ins):
        at = f"manual.check_ins.{index}"
        if check.date is not None:
            if start is not None and not start <= check.date < end:
                fail(f"{at}.date", f": check-in date {check.date} is outside {objective.period} "
                                   f"({start} to {date.fromordinal(end.toordinal() - 1)})")
            if check.date in seen:
                fail(f"{at}.date", f": a second check-in on {check.date} (the first is at line "
                                   f"{seen[check.date]}); one check-in per date")
            seen.setdefault(check.date, _line(key_result.lines, f"{at}.date", check.line))
        if check.confidence is not None and not 0 <= check.confidence <= 1:
            fail(f"{at}.confidence", f": check-in confidence must be between 0 and 1, got {check.confidence:g}")
