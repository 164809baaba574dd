"""How OKR scores become statuses and successes: config/okr_scoring.yaml, validated.

One place, read by the dbt models (loaded as raw.config__okr_scoring) and by the
simulator's ground truth (simulator/truth_okrs.py), so both judge key results alike.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kpi.config import PROJECT_ROOT, ConfigError

SCORING_PATH = PROJECT_ROOT / "config" / "okr_scoring.yaml"
SCORING_COLUMNS = {"on_track_within": "DOUBLE", "at_risk_within": "DOUBLE",
                   "committed_success": "DOUBLE", "aspirational_success": "DOUBLE"}
STATUSES = ("no_data", "on_track", "at_risk", "off_track")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Success(_Strict):
    committed: float = Field(gt=0, le=1)
    aspirational: float = Field(gt=0, le=1)


class OkrScoring(_Strict):
    on_track_within: float = Field(ge=0, le=1)
    at_risk_within: float = Field(ge=0, le=1)
    success: Success

    @model_validator(mode="after")
    def _ordered(self) -> "OkrScoring":
        if self.at_risk_within < self.on_track_within:
            raise ValueError("at_risk_within must be at least on_track_within")
        return self

    def status(self, score: float | None, expected_progress: float) -> str:
        """The status of a score at an expected progress (the rule the models apply)."""
        if score is None:
            return "no_data"
        if score >= expected_progress - self.on_track_within:
            return "on_track"
        if score >= expected_progress - self.at_risk_within:
            return "at_risk"
        return "off_track"

    def success_threshold(self, objective_type: str) -> float:
        return self.success.committed if objective_type == "committed" else self.success.aspirational

    def rows(self) -> list[dict]:
        return [{"on_track_within": self.on_track_within, "at_risk_within": self.at_risk_within,
                 "committed_success": self.success.committed, "aspirational_success": self.success.aspirational}]


def load_scoring(path: Path = SCORING_PATH) -> OkrScoring:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return OkrScoring.model_validate(raw)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror})") from None
    except (yaml.YAMLError, ValidationError) as error:
        raise ConfigError(f"{path}: invalid OKR scoring rules: {error}") from None
