"""`kpi metrics`: the MetricFlow semantic layer (dbt-metricflow's `mf`) on the published
warehouse, read-only.

The semantic models and metrics are in dbt_project/models/semantic/. `mf` reads the semantic
manifest from `<project>/target/semantic_manifest.json` (dbt-metricflow 0.15 takes the
target path from dbt_project.yml and ignores $DBT_TARGET_PATH) and connects through the dbt
profile, so this module copies the project's sources into the data folder (the installed
project may be read-only; the copy is a few hundred KB), runs `dbt parse` there for the
profile's `published` target (the published DuckDB file with DuckDB's access_mode
READ_ONLY), then runs `mf` there with the same target: metrics are computed on exactly what
analysts read, and never touch the pipeline's working warehouse.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from kpi.config import PipelineConfig
from kpi.dbt_runner import DbtError, dbt_project_dir, dbt_vars
from kpi.executables import venv_executable


class PublishedWarehouseMissing(RuntimeError):
    pass


def semantic_project_dir(config: PipelineConfig) -> Path:
    """A writable copy of the dbt project for `dbt parse` and `mf` (refreshed on every call:
    files removed from the project are removed from the copy too)."""
    copy = config.data_dir / "dbt" / "semantic_project"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(dbt_project_dir(), copy, ignore=shutil.ignore_patterns("target", "logs", ".user.yml"))
    return copy


def _environment(config: PipelineConfig, project: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "KPI_DBT_TARGET": "published",
        "KPI_PUBLISHED_PATH": str(config.published_warehouse),
        "DBT_PROFILES_DIR": str(project),
        "DBT_LOG_PATH": str(config.data_dir / "dbt" / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }
    env.pop("DBT_TARGET_PATH", None)  # mf only looks in <project>/target
    return env


def parse_semantic_manifest(config: PipelineConfig, project: Path) -> Path:
    """dbt parse of `project` (a semantic_project_dir copy) for the published target; returns
    the semantic manifest mf reads."""
    import json

    completed = subprocess.run(
        [venv_executable("dbt"), "parse", "--project-dir", str(project), "--vars", json.dumps(dbt_vars(config))],
        env=_environment(config, project), cwd=project, capture_output=True, text=True)
    if completed.returncode != 0:
        raise DbtError(f"dbt parse failed (exit {completed.returncode}):\n"
                       + "\n".join((completed.stdout + completed.stderr).splitlines()[-30:]))
    return project / "target" / "semantic_manifest.json"


def run_mf(config: PipelineConfig, args: list[str], capture: bool = False) -> subprocess.CompletedProcess:
    """`mf <args>` on the published warehouse (e.g. ["query", "--metrics", "deployment_frequency",
    "--group-by", "metric_time__month,team"]); returns the finished process."""
    if not config.published_warehouse.exists():
        raise PublishedWarehouseMissing(f"no published warehouse at {config.published_warehouse}: "
                                        "run `make demo` or the kpi_nightly DAG first")
    project = semantic_project_dir(config)
    parse_semantic_manifest(config, project)
    return subprocess.run([venv_executable("mf"), *args], env=_environment(config, project), cwd=project,
                          capture_output=capture, text=True)
