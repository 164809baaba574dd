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

    @model_validator(mode="after")
    def _team_level(self) -> "KpiDefinition":
        if "team" not in self.grain:
            raise ValueError("a KPI is computed for a whole team: its grain must include 'team'")
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
        ]
    return "\n".join(lines + [README_END])
