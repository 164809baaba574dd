"""One whole pipeline run over the simulated `small` organisation (or `medium`, see
KPI_TEST_SCALE below), shared by the mart tests.

Every source (GitHub, Jira, Jenkins, GitLab) is extracted over HTTP from one simulator,
with every detail stream read for all history and no rate limit (all history is more than
an hour of budget), then loaded, built, audited and published in-process. The warehouse's
"now" (KPI_AS_OF) is the simulator's anchor, so week ranges end where the truth's do.
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from kpi.config import PROJECT_ROOT, load_config
from kpi.demo import simulator_connections
from kpi.pipeline import run_all
from simulator.simulation import Credentials, build_simulation

ANCHOR = datetime(2026, 11, 23, tzinfo=timezone.utc)


# The mart-vs-truth tests run on `small` by default; KPI_TEST_SCALE=medium runs the same
# tests on the medium org (about 10 minutes of extraction on 2 cores, so not in `make test`),
# and KPI_TEST_WAREHOUSE=DIR keeps that run's warehouse in DIR and reuses it when it is there.
SCALE_ENV, WAREHOUSE_ENV = "KPI_TEST_SCALE", "KPI_TEST_WAREHOUSE"
SCALES = ("small", "medium")


def configured_scale() -> str:
    scale = os.environ.get(SCALE_ENV, "small")
    if scale not in SCALES:
        raise ValueError(f"{SCALE_ENV}={scale!r}: the mart tests run on one of {', '.join(SCALES)}")
    return scale


def simulated_teams(simulation: Any) -> list[dict[str, Any]]:
    """The `teams:` configuration of the simulated org: each team's repositories and Jira projects."""
    teams: dict[str, dict[str, list[str]]] = {}
    for repo in simulation.org.repositories:
        teams.setdefault(repo.team, {"repositories": [], "jira_projects": []})["repositories"].append(repo.full_name)
    for project in simulation.jira.projects:
        teams.setdefault(project.team, {"repositories": [], "jira_projects": []})["jira_projects"].append(project.key)
    return [{"name": name, **owned} for name, owned in sorted(teams.items())]


def build_small_warehouse(root: Path, scale: str | None = None) -> dict[str, Any]:
    """One whole pipeline run over the simulated org of `scale` (default: $KPI_TEST_SCALE or
    small) in `root`; a run already completed in `root` (its published warehouse and the
    scale it was built for are there) is reused."""
    scale = scale or configured_scale()
    simulation = build_simulation(scale, seed=7, anchor=ANCHOR)
    config_path, marker = root / "pipeline.yaml", root / "built-for-scale"
    if marker.is_file() and marker.read_text() == scale and config_path.is_file():
        config = load_config(config_path)
        if config.published_warehouse.is_file():
            return {"simulation": simulation, "org": simulation.org, "config": config}
    settings = yaml.safe_load((PROJECT_ROOT / "config" / "pipeline.yaml").read_text())
    settings["warehouse"]["data_dir"] = str(root / "data")
    if scale != "small":  # the committed config maps the small org's teams; a bigger org has more
        settings["teams"] = simulated_teams(simulation)
        settings["sources"]["jira"]["projects"] = [project.key for project in simulation.jira.projects]
    for source in ("github", "jenkins", "gitlab"):
        settings["sources"][source]["detail_backfill_days"] = None  # the whole history: exact truth
    root.mkdir(parents=True, exist_ok=True)
    config_path.write_text(yaml.safe_dump(settings))
    credentials = Credentials()
    saved = dict(os.environ)
    try:
        with simulation.server(credentials, rate_limit=10**9) as server:
            os.environ.update(simulator_connections(server, credentials))
            os.environ["KPI_AS_OF"] = ANCHOR.isoformat()
            config = load_config(config_path)
            run_all(config, run_id="small_marts")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    marker.write_text(scale)
    return {"simulation": simulation, "org": simulation.org, "config": config}


def query(path: Path, sql: str) -> list[dict[str, Any]]:
    """Rows of `sql` on a DuckDB file opened read-only, as dicts."""
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def published_state(published: Path) -> tuple:
    """(inode, mtime, run id) of a published warehouse: equal only if it was left untouched."""
    import duckdb

    stat = os.stat(published)
    with duckdb.connect(str(published), read_only=True) as connection:
        run_id = connection.execute("select run_id from meta.publication").fetchone()[0]
    return stat.st_ino, stat.st_mtime_ns, run_id


def naive(moment: datetime | None) -> datetime | None:
    """A truth timestamp as the marts store it: UTC without a zone."""
    return None if moment is None else moment.astimezone(timezone.utc).replace(tzinfo=None)


def close(a: float | None, b: float | None) -> bool:
    """Equal within 1e-9 (floating point), or both missing."""
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=0, abs_tol=1e-9)
