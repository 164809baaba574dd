"""Run dbt as a subprocess against the working warehouse.

A subprocess keeps dbt's logging and global state out of the Airflow task process, and
its exit code is the contract. Target and log folders live under the data directory,
so the source tree stays clean and parallel environments do not collide.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess

from kpi.config import PROJECT_ROOT, PipelineConfig
from kpi.executables import venv_executable

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
log = logging.getLogger(__name__)


class DbtError(RuntimeError):
    pass


def dbt_vars(config: PipelineConfig) -> dict:
    return {
        "production_environments": list(config.deployments.production_environments),
        "first_deployment_lookback_days": config.deployments.first_deployment_lookback_days,
        "incident_attribution_hours": config.deployments.incident_attribution_hours,
        "unassigned_team": config.unassigned_team,
    }


def run_dbt(config: PipelineConfig, command: str = "build", extra_args: list[str] | None = None,
            extra_env: dict[str, str] | None = None) -> str:
    """Run `dbt <command>` on the working warehouse; raise DbtError with dbt's output on failure."""
    env = {
        **os.environ,
        **(extra_env or {}),
        "KPI_WAREHOUSE_PATH": str(config.working_warehouse),
        "DBT_TARGET_PATH": str(config.data_dir / "dbt" / "target"),
        "DBT_LOG_PATH": str(config.data_dir / "dbt" / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }
    args = [
        venv_executable("dbt"), command,
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--vars", json.dumps(dbt_vars(config)),
        *(extra_args or []),
    ]
    log.info("running %s", " ".join(args[:2]))
    completed = subprocess.run(args, env=env, cwd=DBT_PROJECT_DIR, capture_output=True, text=True)
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        lines = output.splitlines()
        # The summary lines plus the database's own message (the lines after "... Error in").
        failing = [line for index, line in enumerate(lines)
                   if "ERROR" in line or "FAIL" in line
                   or any(" Error in " in previous for previous in lines[max(index - 3, 0):index])]
        raise DbtError(f"dbt {command} failed (exit {completed.returncode}):\n" + "\n".join(failing[-40:] or output.splitlines()[-40:]))
    return output
