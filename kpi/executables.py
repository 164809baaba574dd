"""Commands of this virtualenv (airflow, dbt, kpi): its bin/ need not be on PATH."""

from __future__ import annotations

import sys
from pathlib import Path


def venv_executable(name: str) -> str:
    """The `name` installed beside this interpreter, else `name` as PATH finds it."""
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name
