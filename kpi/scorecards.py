"""Team scorecards (config/scorecards.yaml): how each team agrees to score its KPIs.

A team's scorecard names the period it is read at (week, month or quarter) and one rule
per KPI: points added when the KPI's value for the period meets the team's target
(`met`), points taken when it falls below the team's floor (`missed`); in between, 0; a
period without data scores 0 and says `no_data`. The value is the team's kpi_period
value (computed from the period's facts). Rules score teams, never people.

Validated with pydantic like kpi/config.py: an unknown key, an unknown team, an unknown
KPI id, a target pointing the KPI's worse way or targets that overlap fail with the
file, the key path and what was expected. The rules reach the warehouse as the reference
table raw.config__scorecard_rules (kpi.pipeline.load_raw), where marts.kpi_scorecard
reads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from kpi.catalogue import HIGHER_OPERATORS, Condition, KpiCatalogue, load_catalogue
from kpi.config import ConfigError, _format_validation_error

_SYMBOL = {"at_least": ">=", "above": ">", "at_most": "<=", "below": "<"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(Condition):
    """A condition and the points it gives: met -> points added (> 0), missed -> points taken (< 0)."""

    points: int

    def describe(self) -> str:
        return f"{_SYMBOL[self.operator]} {self.threshold:g}: {self.points:+d}"


class Rule(_Strict):
    kpi_id: str = Field(description="a KPI id of config/kpi_catalogue.yaml")
    met: Target | None = Field(default=None, description="the target: points added when it holds (points > 0)")
    missed: Target | None = Field(default=None, description="the floor: points taken when it holds (points < 0)")
    description: str | None = Field(default=None, description="the rule as the team agreed it, in words")

    @field_validator("kpi_id")
    @classmethod
    def _known_kpi(cls, kpi_id: str, info: ValidationInfo) -> str:
        catalogue: KpiCatalogue = (info.context or {}).get("catalogue") or load_catalogue()
        known = [kpi.id for kpi in catalogue.implemented]
        if kpi_id not in known:
            raise ValueError(f"unknown KPI id {kpi_id!r}; known: {', '.join(known)}")
        return kpi_id

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> "Rule":
        if self.met is None and self.missed is None:
            raise ValueError("give met (points added) and/or missed (points taken)")
        if self.met is not None and self.met.points <= 0:
            raise ValueError(f"met.points adds points: it must be positive (got {self.met.points})")
        if self.missed is not None and self.missed.points >= 0:
            raise ValueError(f"missed.points takes points: it must be negative (got {self.missed.points})")
        catalogue: KpiCatalogue = (info.context or {}).get("catalogue") or load_catalogue()
        higher = catalogue.get(self.kpi_id).direction == "higher_is_better"
        better, worse = ("at_least or above", "at_most or below") if higher else ("at_most or below", "at_least or above")
        if self.met is not None and (self.met.operator in HIGHER_OPERATORS) != higher:
            raise ValueError(f"{self.kpi_id} is {'higher' if higher else 'lower'} is better: met takes {better}")
        if self.missed is not None and (self.missed.operator in HIGHER_OPERATORS) == higher:
            raise ValueError(f"{self.kpi_id} is {'higher' if higher else 'lower'} is better: missed takes {worse}")
        if self.met is not None and self.missed is not None and _overlap(self.met, self.missed, higher):
            raise ValueError(f"met ({self.met.describe()}) and missed ({self.missed.describe()}) overlap: "
                             "a value would both add and take points")
        return self

    def describe(self) -> str:
        parts = [f"met {self.met.describe()}"] if self.met else []
        parts += [f"missed {self.missed.describe()}"] if self.missed else []
        return "; ".join(parts)


def _overlap(met: Target, missed: Target, higher: bool) -> bool:
    """Whether one value satisfies both (met points the better way, missed the worse way)."""
    if higher:  # met: v >= a / v > a; missed: v < b / v <= b
        a, b = met.threshold, missed.threshold
        return b > a or (b == a and met.operator == "at_least" and missed.operator == "at_most")
    a, b = met.threshold, missed.threshold   # met: v <= a / v < a; missed: v > b / v >= b
    return b < a or (b == a and met.operator == "at_most" and missed.operator == "at_least")


class Scorecard(_Strict):
    team: str
    period_grain: Literal["week", "month", "quarter"] = Field(description="the period the rules are read at")
    rules: list[Rule] = Field(min_length=1)

    @field_validator("team")
    @classmethod
    def _known_team(cls, team: str, info: ValidationInfo) -> str:
        teams = (info.context or {}).get("teams")
        if teams is not None and team not in teams:
            raise ValueError(f"unknown team {team!r}; teams in the pipeline configuration: {', '.join(sorted(teams))}")
        return team

    @model_validator(mode="after")
    def _one_rule_per_kpi(self) -> "Scorecard":
        ids = [rule.kpi_id for rule in self.rules]
        duplicates = sorted({kpi_id for kpi_id in ids if ids.count(kpi_id) > 1})
        if duplicates:
            raise ValueError(f"one rule per KPI: {', '.join(duplicates)} appear more than once")
        return self


class Scorecards(_Strict):
    scorecards: list[Scorecard] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_scorecard_per_team_and_grain(self) -> "Scorecards":
        keys = [(card.team, card.period_grain) for card in self.scorecards]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError("one scorecard per team and period_grain: "
                             + ", ".join(f"{team} ({grain})" for team, grain in duplicates) + " appear twice")
        return self

    def rule_rows(self) -> list[dict[str, Any]]:
        """The rules as rows of raw.config__scorecard_rules."""
        rows = []
        for card in self.scorecards:
            for rule in card.rules:
                rows.append({
                    "team": card.team, "period_grain": card.period_grain, "kpi_id": rule.kpi_id,
                    "rule": rule.describe(), "description": rule.description,
                    "met_operator": rule.met.operator if rule.met else None,
                    "met_threshold": rule.met.threshold if rule.met else None,
                    "met_points": rule.met.points if rule.met else None,
                    "missed_operator": rule.missed.operator if rule.missed else None,
                    "missed_threshold": rule.missed.threshold if rule.missed else None,
                    "missed_points": rule.missed.points if rule.missed else None,
                })
        return rows


SCORECARD_RULE_COLUMNS = {
    "team": "VARCHAR", "period_grain": "VARCHAR", "kpi_id": "VARCHAR", "rule": "VARCHAR", "description": "VARCHAR",
    "met_operator": "VARCHAR", "met_threshold": "DOUBLE", "met_points": "INTEGER",
    "missed_operator": "VARCHAR", "missed_threshold": "DOUBLE", "missed_points": "INTEGER",
}


def load_scorecards(path: Path, teams: list[str] | set[str] | None = None,
                    catalogue: KpiCatalogue | None = None) -> Scorecards:
    """Read and validate a scorecards file; `teams` (the pipeline's team names) refuses
    unknown teams. Raises ConfigError naming the file, the key path and what was expected."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read scorecards ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with a `scorecards` list at the top level")
    context = {"catalogue": catalogue or load_catalogue(), "teams": None if teams is None else set(teams)}
    try:
        return Scorecards.model_validate(raw, context=context)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(Path(path), exc).replace("invalid configuration",
                                                                            "invalid scorecards", 1)) from None
