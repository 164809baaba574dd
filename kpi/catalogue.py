"""The KPI catalogue (config/kpi_catalogue.yaml): one definition per KPI.

Both the dbt marts (model `meta.kpi_id`) and the simulator's ground truth
(`simulator.truth.<truth>`) cite these entries; tests hold them to it.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from kpi.config import PROJECT_ROOT

CATALOGUE_PATH = PROJECT_ROOT / "config" / "kpi_catalogue.yaml"
Dimension = Literal["team", "repository", "week", "severity", "release"]
PeriodFacts = Literal["in_period", "latest_per_repository", "open_at_period_end"]
PeriodValue = Literal["count", "sum", "ratio", "percent", "mean", "median", "max"]
PERIOD_GRAINS = ("week", "month", "quarter")  # kpi_period; kpi_daily has the day

# How each `value` method fills numerator and denominator (see the catalogue's header).
_ZERO_FILLABLE = {"count", "sum", "ratio"}
_LATEST_TEAM_VALUES = {"percent", "sum", "max"}


class PeriodAggregation(BaseModel):
    """How a KPI's value for a day, week, month or quarter is computed from that period's facts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    facts: PeriodFacts
    value: PeriodValue
    zero_filled: bool
    repository_rows: bool
    rule: str = Field(min_length=40)

    @model_validator(mode="after")
    def _consistent(self) -> "PeriodAggregation":
        if self.zero_filled and self.value not in _ZERO_FILLABLE:
            raise ValueError(f"value {self.value!r} cannot be zero-filled (only {', '.join(sorted(_ZERO_FILLABLE))}): "
                             "a median, maximum, mean or percent of no facts is no data, never 0")
        if self.facts == "latest_per_repository":
            if self.value not in _LATEST_TEAM_VALUES:
                raise ValueError(f"facts latest_per_repository combines repositories with one of "
                                 f"{', '.join(sorted(_LATEST_TEAM_VALUES))}, not {self.value!r}")
            if not self.repository_rows:
                raise ValueError("facts latest_per_repository is a per-repository value: repository_rows must be true")
        if self.facts == "open_at_period_end" and self.value != "count":
            raise ValueError("facts open_at_period_end counts the facts open at the period's end: value must be count")
        return self


class KpiDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{2,62}$")
    name: str
    family: Literal["dora", "delivery", "quality", "security", "performance"]
    definition: str = Field(min_length=40)
    unit: str
    direction: Literal["higher_is_better", "lower_is_better"]
    grain: list[Dimension] = Field(min_length=1)
    sources: list[str] = Field(min_length=1)
    mart: str = Field(pattern=r"^kpi_[a-z0-9_]+$")
    value_column: str
    truth: str = Field(pattern=r"^[a-z][a-z0-9_]+$")
    status: Literal["planned", "implemented"]
    period_aggregation: PeriodAggregation

    @model_validator(mode="after")
    def _team_level(self) -> "KpiDefinition":
        if "team" not in self.grain:
            raise ValueError("a KPI is computed for a whole team: its grain must include 'team'")
        if self.period_aggregation.facts == "latest_per_repository" and "repository" not in self.grain:
            raise ValueError("period_aggregation.facts latest_per_repository needs 'repository' in the grain")
        return self


def _number(value: object) -> object:
    """A threshold: a number, or a fraction written "1/7" (kept exact until it becomes a float)."""
    if isinstance(value, str) and "/" in value:
        numerator, _, denominator = value.partition("/")
        try:
            return float(Fraction(int(numerator.strip()), int(denominator.strip())))
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"expected a number or a fraction like 1/7, got {value!r}") from None
    return value


Threshold = Annotated[float, BeforeValidator(_number)]
OPERATORS = ("at_least", "above", "at_most", "below")  # >=, >, <=, <
HIGHER_OPERATORS = {"at_least", "above"}


class Condition(BaseModel):
    """A comparison of a value with a threshold: exactly one of at_least (>=), above (>),
    at_most (<=) or below (<). Shared by the DORA levels and the team scorecards."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at_least: Threshold | None = None
    above: Threshold | None = None
    at_most: Threshold | None = None
    below: Threshold | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "Condition":
        given = [name for name in OPERATORS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(OPERATORS)} (got {', '.join(given) or 'none'})")
        return self

    @property
    def operator(self) -> str:
        return next(name for name in OPERATORS if getattr(self, name) is not None)

    @property
    def threshold(self) -> float:
        return getattr(self, self.operator)

    def holds(self, value: float) -> bool:
        """Whether `value` satisfies the condition (the SQL macro condition_holds says the same)."""
        threshold = self.threshold
        return {"at_least": value >= threshold, "above": value > threshold,
                "at_most": value <= threshold, "below": value < threshold}[self.operator]


DORA_LEVELS = ("elite", "high", "medium", "low")


class DoraLevel(Condition):
    """One DORA performance level: it holds when its condition holds (checked elite first);
    the last level (low) has no condition and takes every other value."""

    level: Literal["elite", "high", "medium", "low"]

    @model_validator(mode="after")
    def _exactly_one(self) -> "DoraLevel":
        given = [name for name in OPERATORS if getattr(self, name) is not None]
        if self.level == "low":
            if given:
                raise ValueError("low is every value the other levels leave: it takes no threshold")
        elif len(given) != 1:
            raise ValueError(f"level {self.level}: give exactly one of {', '.join(OPERATORS)}")
        return self


class DoraKey(BaseModel):
    """One of the four keys: which KPI, what is compared (`value`: the KPI's period value;
    `per_day`: the value / days in the period), the exact rule, and the levels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kpi_id: str
    measure: Literal["value", "per_day"]
    rule: str = Field(min_length=40)
    levels: list[DoraLevel]

    @model_validator(mode="after")
    def _ordered(self) -> "DoraKey":
        if tuple(level.level for level in self.levels) != DORA_LEVELS:
            raise ValueError(f"{self.kpi_id}: levels must be {', '.join(DORA_LEVELS)}, in that order")
        operators = {level.operator for level in self.levels[:-1]}
        if not (operators <= HIGHER_OPERATORS or operators.isdisjoint(HIGHER_OPERATORS)):
            raise ValueError(f"{self.kpi_id}: the levels mix 'higher' (at_least, above) and 'lower' (at_most, below) "
                             "thresholds")
        thresholds = [level.threshold for level in self.levels[:-1]]
        higher = operators <= HIGHER_OPERATORS
        if thresholds != sorted(thresholds, reverse=higher):
            raise ValueError(f"{self.kpi_id}: thresholds must {'fall' if higher else 'rise'} from elite to medium "
                             f"(got {thresholds})")
        return self

    @property
    def higher_is_better(self) -> bool:
        return self.levels[0].operator in HIGHER_OPERATORS

    def level_of(self, value: float | None, days_in_period: int) -> str | None:
        """The level of a period's value (None: no data, no level)."""
        if value is None:
            return None
        measured = value / days_in_period if self.measure == "per_day" else value
        return next(level.level for level in self.levels if level.level == "low" or level.holds(measured))


class DoraLevels(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(min_length=40)
    keys: list[DoraKey]

    def key(self, kpi_id: str) -> DoraKey:
        for key in self.keys:
            if key.kpi_id == kpi_id:
                return key
        raise KeyError(f"no DORA levels for {kpi_id!r}")


class KpiCatalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kpis: list[KpiDefinition]
    dora_levels: DoraLevels

    @model_validator(mode="after")
    def _unique(self) -> "KpiCatalogue":
        for attribute in ("id", "mart"):
            values = [getattr(kpi, attribute) for kpi in self.kpis]
            duplicates = sorted({v for v in values if values.count(v) > 1})
            if duplicates:
                raise ValueError(f"duplicate KPI {attribute}: {', '.join(duplicates)}")
        dora = sorted(kpi.id for kpi in self.kpis if kpi.family == "dora")
        keyed = [key.kpi_id for key in self.dora_levels.keys]
        if sorted(keyed) != dora:
            raise ValueError(f"dora_levels.keys must name each DORA KPI once ({', '.join(dora)}); got {', '.join(keyed)}")
        for key in self.dora_levels.keys:
            if key.higher_is_better != (self.get(key.kpi_id).direction == "higher_is_better"):
                raise ValueError(f"dora_levels {key.kpi_id}: elite must be the better end "
                                 f"({self.get(key.kpi_id).direction})")
        return self

    def get(self, kpi_id: str) -> KpiDefinition:
        for kpi in self.kpis:
            if kpi.id == kpi_id:
                return kpi
        raise KeyError(f"unknown KPI id {kpi_id!r}; known: {', '.join(k.id for k in self.kpis)}")

    @property
    def implemented(self) -> list[KpiDefinition]:
        return [kpi for kpi in self.kpis if kpi.status == "implemented"]


def kpi_reference_rows(catalogue: KpiCatalogue | None = None) -> list[dict]:
    """The catalogue as rows of the warehouse's reference table raw.config__kpis, so the
    models read each KPI's period aggregation from the one place it is written."""
    catalogue = catalogue or load_catalogue()
    return [{
        "kpi_id": kpi.id, "name": kpi.name, "family": kpi.family, "unit": kpi.unit, "direction": kpi.direction,
        "mart": kpi.mart, "value_column": kpi.value_column, "status": kpi.status,
        "definition": " ".join(kpi.definition.split()),
        "period_facts": kpi.period_aggregation.facts, "period_value": kpi.period_aggregation.value,
        "zero_filled": kpi.period_aggregation.zero_filled,
        "repository_rows": kpi.period_aggregation.repository_rows,
        "period_rule": " ".join(kpi.period_aggregation.rule.split()),
    } for kpi in catalogue.kpis]


def dora_level_reference_rows(catalogue: KpiCatalogue | None = None) -> list[dict]:
    """The DORA thresholds as rows of raw.config__dora_levels (one per key and level), so
    dora_metrics reads them from the catalogue, the one place they are written."""
    catalogue = catalogue or load_catalogue()
    return [{
        "kpi_id": key.kpi_id, "measure": key.measure, "level": level.level, "level_rank": rank,
        "operator": None if level.level == "low" else level.operator,
        "threshold": None if level.level == "low" else level.threshold,
    } for key in catalogue.dora_levels.keys for rank, level in enumerate(key.levels, start=1)]


DORA_LEVEL_REFERENCE_COLUMNS = {"kpi_id": "VARCHAR", "measure": "VARCHAR", "level": "VARCHAR", "level_rank": "INTEGER",
                                "operator": "VARCHAR", "threshold": "DOUBLE"}

KPI_REFERENCE_COLUMNS = {
    "kpi_id": "VARCHAR", "name": "VARCHAR", "family": "VARCHAR", "unit": "VARCHAR", "direction": "VARCHAR",
    "mart": "VARCHAR", "value_column": "VARCHAR", "status": "VARCHAR", "definition": "VARCHAR",
    "period_facts": "VARCHAR", "period_value": "VARCHAR", "zero_filled": "BOOLEAN", "repository_rows": "BOOLEAN",
    "period_rule": "VARCHAR",
}


def load_catalogue(path: Path = CATALOGUE_PATH) -> KpiCatalogue:
    try:
        return KpiCatalogue.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValidationError as exc:
        raise ValueError(f"{path}: invalid KPI catalogue\n{exc}") from None


README_BEGIN = "<!-- kpi-catalogue:begin (generated from config/kpi_catalogue.yaml by `kpi catalogue`) -->"
README_END = "<!-- kpi-catalogue:end -->"


def render_markdown(catalogue: KpiCatalogue | None = None) -> str:
    """The catalogue as the README's KPI section: one entry per KPI, definition verbatim."""
    catalogue = catalogue or load_catalogue()
    lines = [README_BEGIN, ""]
    for kpi in catalogue.kpis:
        better = "higher is better" if kpi.direction == "higher_is_better" else "lower is better"
        where = f"`marts.{kpi.mart}.{kpi.value_column}`" if kpi.status == "implemented" else "not built yet"
        lines += [
            f"#### {kpi.name} (`{kpi.id}`)",
            f"*{kpi.family} · {kpi.unit}, {better} · per {' × '.join(kpi.grain)} · {where}*",
            "",
            " ".join(kpi.definition.split()),
            "",
            f"*Per period* (`{kpi.period_aggregation.facts}`, `{kpi.period_aggregation.value}`"
            f"{', zero-filled' if kpi.period_aggregation.zero_filled else ''}"
            f"{', team and repository rows' if kpi.period_aggregation.repository_rows else ', team rows'}): "
            + " ".join(kpi.period_aggregation.rule.split()),
            "",
        ]
    lines += _render_dora_levels(catalogue)
    return "\n".join(lines + [README_END])


_SYMBOLS = {"at_least": "≥", "above": ">", "at_most": "≤", "below": "<"}


def _render_dora_levels(catalogue: KpiCatalogue) -> list[str]:
    """The DORA levels as a table, the exact rule per key, and the source, verbatim."""
    def bound(level: DoraLevel, measure: str) -> str:
        if level.level == "low":
            return "otherwise"
        threshold = level.threshold
        shown = f"1/{round(1 / threshold)}" if measure == "per_day" and 0 < threshold < 1 else f"{threshold:g}"
        return f"{_SYMBOLS[level.operator]} {shown}"

    lines = ["#### DORA performance levels (`dora_levels`, read by `marts.dora_metrics`)", "",
             "| key | measure | elite | high | medium | low |", "|---|---|---|---|---|---|"]
    for key in catalogue.dora_levels.keys:
        measure = "value / days in the period" if key.measure == "per_day" else "the period's value"
        lines.append(f"| {catalogue.get(key.kpi_id).name} (`{key.kpi_id}`) | {measure} | "
                     + " | ".join(bound(level, key.measure) for level in key.levels) + " |")
    lines.append("")
    for key in catalogue.dora_levels.keys:
        lines += [f"- `{key.kpi_id}`: " + " ".join(key.rule.split())]
    lines += ["", "*Source:* " + " ".join(catalogue.dora_levels.source.split()), ""]
    return lines
