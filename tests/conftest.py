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
    sources), shared by the mart tests: see tests/support/small_warehouse.py. Under xdist
    (`make test`) the first worker that needs it builds it in the session's shared temporary
    folder while holding a lock; the others wait, then reuse it."""
    from filelock import FileLock

    from tests.support.small_warehouse import WAREHOUSE_ENV, build_small_warehouse

    kept = os.environ.get(WAREHOUSE_ENV)
    if kept:
        root = Path(kept)
    elif os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.getbasetemp().parent / "small_warehouse"  # one per session, all workers
    else:
        root = tmp_path_factory.mktemp("small_warehouse")
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{root}.lock"):
        return build_small_warehouse(root)


# The slowest files, first: `make test` runs the suite on two xdist workers that take whole
# files (--dist loadfile) in collection order, so these start at once, one per worker, and
# the many short files fill in around them instead of waiting at the end.
SLOWEST_FIRST = ("test_scale_out.py", "test_failure_handling.py", "test_end_to_end.py",
                 "test_incremental_marts.py", "test_github_extraction.py", "test_corruption.py",
                 "test_security.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: position for position, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order
