"""Shared fixtures: the project root, the real-data corpus, isolated data directories."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Airflow reads its home at import time: give the test session its own, never ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="kpi-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(PROJECT_ROOT / "dags"))


def realdata_dir() -> Path:
    """Recorded real API responses (../shared/realdata), overridable by $KPI_REALDATA_DIR."""
    return Path(os.environ.get("KPI_REALDATA_DIR", PROJECT_ROOT.parent / "shared" / "realdata"))


@pytest.fixture
def realdata() -> Path:
    path = realdata_dir()
    if not path.is_dir():
        pytest.skip(f"real recorded data not found at {path} (set KPI_REALDATA_DIR to its location)")
    return path


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data directory, so a test never touches the developer's data/."""
    path = tmp_path / "data"
    monkeypatch.setenv("KPI_DATA_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def small_warehouse(tmp_path_factory):
    """The published warehouse of one full pipeline run over the simulated small org (all
    sources), shared by the mart tests: see tests/support/small_warehouse.py."""
    from tests.support.small_warehouse import WAREHOUSE_ENV, build_small_warehouse

    kept = os.environ.get(WAREHOUSE_ENV)
    return build_small_warehouse(Path(kept) if kept else tmp_path_factory.mktemp("small_warehouse"))
