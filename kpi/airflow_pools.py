"""The Airflow pools the `kpi_nightly` DAG runs in, sized from config/pipeline.yaml.

- `kpi_warehouse` (1 slot): every task that opens the working DuckDB file. DuckDB allows
  one writer per file and a reader cannot open it while another process writes, so these
  tasks never overlap, even across DAG runs (a backfill beside the nightly run).
- `kpi_api_<source>` (`sources.<source>.max_parallel_scopes` slots): the scopes of one
  source extracted at once, so a large organisation does not open hundreds of concurrent
  connections to one API (and one token's rate budget).

A task in a pool that does not exist is never scheduled, so `airflow db migrate` must be
followed by `kpi airflow-pools --apply` (the demo, the compose stack's init container and
the scale-out test do it). Pool names are fixed: the DAG file must not read configuration
when it is parsed.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kpi.executables import venv_executable

if TYPE_CHECKING:  # the DAG file imports this module: keep its parse cheap
    from kpi.config import PipelineConfig

SOURCES = ("github", "gitlab", "jenkins", "jira")
WAREHOUSE_POOL = "kpi_warehouse"


def api_pool(source: str) -> str:
    return f"kpi_api_{source}"


@dataclass(frozen=True)
class Pool:
    name: str
    slots: int
    description: str


def pool_definitions(config: "PipelineConfig") -> list[Pool]:
    pools = [Pool(WAREHOUSE_POOL, 1, "tasks that open the working DuckDB warehouse (one writer per file)")]
    for source in SOURCES:
        settings = getattr(config.sources, source)
        # An unconfigured source still gets its pool (1 slot): its empty mapped task must resolve.
        slots = settings.max_parallel_scopes if settings is not None else 1
        pools.append(Pool(api_pool(source), slots, f"{source} scopes extracted at once (max_parallel_scopes)"))
    return pools


def apply_pools(config: "PipelineConfig", airflow: str | None = None, env: dict[str, str] | None = None) -> list[Pool]:
    """Create or resize every pool with `airflow pools set` (idempotent)."""
    airflow = airflow or venv_executable("airflow")
    pools = pool_definitions(config)
    for pool in pools:
        completed = subprocess.run([airflow, "pools", "set", pool.name, str(pool.slots), pool.description],
                                   env=env, capture_output=True, text=True)
        if completed.returncode != 0:
            raise RuntimeError(f"`airflow pools set {pool.name}` failed (exit {completed.returncode}): "
                               f"{completed.stderr.strip()[-500:]}")
    return pools
