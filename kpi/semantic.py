"""`kpi metrics`: the MetricFlow semantic layer (dbt-metricflow's `mf`) on the published
warehouse, read-only.

The semantic models and metrics are in dbt_project/models/semantic/. `mf` reads the semantic
manifest from `dbt_project/target/semantic_manifest.json` (a fixed path in dbt-metricflow
0.15) and connects through the dbt profile, so this module first runs `dbt parse` for the
profile's `published` target (the published DuckDB file with DuckDB's access_mode
READ_ONLY), then runs `mf` with the same target: metrics are computed on exactly what
analysts read, and never touch the pipeline's working warehouse.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kpi.config import PipelineConfig
from kpi.dbt_runner import DbtError, dbt_project_dir, dbt_vars
from kpi.executables import venv_executable


class PublishedWarehouseMissing(RuntimeError):
    pass


def _environment(config: PipelineConfig) -> dict[str, str]:
    env = {
        **os.environ,
        "KPI_DBT_TARGET": "published",
        "KPI_PUBLISHED_PATH": str(config.published_warehouse),
        "DBT_PROFILES_DIR": str(dbt_project_dir()),
        "DBT_LOG_PATH": str(config.data_dir / "dbt" / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }
    env.pop("DBT_TARGET_PATH", None)  # mf only looks in dbt_project/target
    return env


def parse_semantic_manifest(config: PipelineConfig) -> Path:
    """dbt parse for the published target; returns the semantic manifest mf reads."""
    import json

    completed = subprocess.run(
        [venv_executable("dbt"), "parse", "--project-dir", str(dbt_project_dir()),
         "--vars", json.dumps(dbt_vars(config))],
        env=_environment(config), cwd=dbt_project_dir(), capture_output=True, text=True)
    if completed.returncode != 0:
        raise DbtError(f"dbt parse failed (exit {completed.returncode}):\n"
                       + "\n".join((completed.stdout + completed.stderr).splitlines()[-30:]))
    return dbt_project_dir() / "target" / "semantic_manifest.json"


def run_mf(config: PipelineConfig, args: list[str], capture: bool = False) -> subprocess.CompletedProcess:
    """`mf <args>` on the published warehouse (e.g. ["query", "--metrics", "deployment_frequency",
    "--group-by", "metric_time__month,team"]); returns the finished process."""
    if not config.published_warehouse.exists():
        raise PublishedWarehouseMissing(f"no published warehouse at {config.published_warehouse}: "
                                        "run `make demo` or the kpi_nightly DAG first")
    parse_semantic_manifest(config)
    return subprocess.run([venv_executable("mf"), *args], env=_environment(config), cwd=dbt_project_dir(),
                          capture_output=capture, text=True)
