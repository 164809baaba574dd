"""The KPI catalogue (config/kpi_catalogue.yaml): one definition per KPI.

Both the dbt marts (model `meta.kpi_id`) and the simulator's ground truth
(`simulator.truth.<truth>`) cite these entries; tests hold them to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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


class KpiCatalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kpis: list[KpiDefinition]

    @model_validator(mode="after")
    def _unique(self) -> "KpiCatalogue":
        for attribute in ("id", "mart"):
            values = [getattr(kpi, attribute) for kpi in self.kpis]
            duplicates = sorted({v for v in values if values.count(v) > 1})
            if duplicates:
                raise ValueError(f"duplicate KPI {attribute}: {', '.join(duplicates)}")
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
    return "\n".join(lines + [README_END])
