"""Incremental marts: nightly increments give exactly the marts a full refresh gives.

Two nights over the simulated `small` organisation (every source, over HTTP): night 1
is a first build (a full refresh), the simulator then moves on a day at a time
(`Simulation.advance(1)`: new pull requests, runs, deployments, issues, updates to open
ones) and night 2 builds incrementally. A copy of the working warehouse is then
rebuilt from scratch with `--full-refresh`: every mart must equal the incremental one,
row for row (doubles compared to 1e-9, since parallel sums may add in another order).
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
import yaml

from kpi.config import PROJECT_ROOT, load_config
from kpi.dbt_runner import build_fingerprint, last_build_fingerprint
from kpi.demo import simulator_connections
from kpi.pipeline import build_marts, run_all
from kpi.publish import publish
from simulator.simulation import Credentials, build_simulation

pytestmark = pytest.mark.e2e
ANCHOR = datetime(2026, 11, 23, tzinfo=timezone.utc)
NIGHTS = 2


def _config(root: Path):
    settings = yaml.safe_load((PROJECT_ROOT / "config" / "pipeline.yaml").read_text())
    settings["warehouse"]["data_dir"] = str(root / "data")
    root.mkdir(parents=True, exist_ok=True)
    path = root / "pipeline.yaml"
    path.write_text(yaml.safe_dump(settings))
    return load_config(path)


def _builds(warehouse: Path) -> list[bool]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return [row[0] for row in connection.execute(
            "select full_refresh from ops.dbt_builds order by finished_at").fetchall()]


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    config = _config(root / "nightly")
    simulation = build_simulation("small", seed=7, anchor=ANCHOR)
    credentials = Credentials()
    monkeypatch = pytest.MonkeyPatch()
    try:
        with simulation.server(credentials, rate_limit=10**9) as server:
            for name, value in simulator_connections(server, credentials).items():
                monkeypatch.setenv(name, value)
            for night in range(NIGHTS):
                if night:
                    simulation.advance(1)
                monkeypatch.setenv("KPI_AS_OF", (ANCHOR + timedelta(days=night)).isoformat())
                run_all(config, run_id=f"night_{night + 1}")
        full = _config(root / "full")
        full.working_warehouse.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(config.working_warehouse, full.working_warehouse)
        outcome = build_marts(full, full_refresh=True)  # KPI_AS_OF: the last night's
        yield {"nightly": config, "full": full, "full_outcome": outcome}
    finally:
        monkeypatch.undo()


def _marts(connection, catalog: str) -> dict[str, list[tuple[str, str]]]:
    rows = connection.execute(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_catalog = ? and table_schema = 'marts' order by table_name, ordinal_position", [catalog]).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        tables.setdefault(table, []).append((column, data_type))
    return tables


def test_the_first_night_is_a_full_build_and_the_next_nights_are_incremental(nights):
    assert _builds(nights["nightly"].working_warehouse) == [True] + [False] * (NIGHTS - 1)
    assert nights["full_outcome"] == {"full_refresh": True, "reason": "requested"}


def test_the_incremental_night_left_out_models_whose_inputs_did_not_change(nights):
    """Night 2 (kpi.dbt_runner.incremental_exclusions): the configuration-only models and the
    staging models of streams the night's loads did not change were not rebuilt, every
    table mart was, the views were not (their definitions come with the code), and the
    mart tests the audit repeats were left to it. (The marts still equal a full refresh:
    the next test.)"""
    import json

    from kpi.dbt_runner import dbt_target_dir

    results = json.loads((dbt_target_dir(nights["nightly"]) / "run_results.json").read_text())
    built = {result["unique_id"].split(".")[-1] for result in results["results"]
             if result["unique_id"].startswith("model.")}
    tests = {result["unique_id"].split(".")[2] for result in results["results"] if result["unique_id"].startswith("test.")}
    with duckdb.connect(str(nights["nightly"].working_warehouse), read_only=True) as connection:
        unchanged = {row[0] for row in connection.execute(
            "select stream from raw._load_log where run_id = 'night_2' group by stream "
            "having sum(inserted + updated) = 0").fetchall()}
    assert {"stg_config__teams", "dim_kpis"}.isdisjoint(built)
    assert unchanged, "night 2 changed every stream: nothing here exercises leaving staging out"
    assert {f"stg_{stream}" for stream in unchanged if not stream.startswith("jira__issue")}.isdisjoint(built)
    assert {"stg_github__pull_requests", "fct_pull_requests", "kpi_daily", "kpi_period", "kpi_scorecard",
            "kpi_security"} <= built  # kpi_security, a table, reads the as-of moment
    audited = [test for test in tests if test.startswith(("not_null_", "unique_", "accepted_values_", "relationships_"))]
    assert not audited, f"mart tests the audit repeats ran in the build: {sorted(audited)}"
    views = {"kpi_deployment_frequency", "kpi_release_delay", "kpi_test_coverage"}  # per-KPI marts: views
    assert views.isdisjoint(built), "a view (definition unchanged with the code) was rebuilt"


def test_nightly_increments_and_a_full_refresh_give_identical_marts(nights, tmp_path):
    # Compared through published copies (kpi.publish writes the views as tables): a view's
    # SQL names its tables with its warehouse's own catalog, so the two working files cannot
    # be attached side by side under other names.
    for night, name in (("nightly", "nightly"), ("full", "rebuilt")):
        publish(nights[night].working_warehouse, tmp_path / f"{name}.duckdb", run_id=name,
                parquet_dir=tmp_path / f"{name}-parquet")
    with duckdb.connect() as connection:
        connection.execute("attach ? as nightly (read_only)", [str(tmp_path / "nightly.duckdb")])
        connection.execute("attach ? as rebuilt (read_only)", [str(tmp_path / "rebuilt.duckdb")])
        nightly, rebuilt = _marts(connection, "nightly"), _marts(connection, "rebuilt")
        assert nightly == rebuilt
        assert {"fct_ci_runs", "fct_pull_requests", "kpi_period", "kpi_daily", "kpi_deployment_frequency"} <= nightly.keys()
        for table, columns in nightly.items():
            select = ", ".join(f'round("{name}", 9)' if data_type == "DOUBLE" else f'"{name}"'
                               for name, data_type in columns)
            count = connection.execute(f'select count(*) from nightly.marts."{table}"').fetchone()[0]
            only_nightly = connection.execute(
                f'select count(*) from (select {select} from nightly.marts."{table}" '
                f'except all select {select} from rebuilt.marts."{table}")').fetchone()[0]
            only_rebuilt = connection.execute(
                f'select count(*) from (select {select} from rebuilt.marts."{table}" '
                f'except all select {select} from nightly.marts."{table}")').fetchone()[0]
            assert (only_nightly, only_rebuilt) == (0, 0), f"{table}: {count} rows, differ {only_nightly}/{only_rebuilt}"


def test_a_changed_team_mapping_changes_the_fingerprint_so_the_next_build_is_full(nights, tmp_path):
    config = nights["full"]
    copy = tmp_path / "work.duckdb"
    shutil.copyfile(config.working_warehouse, copy)
    before = build_fingerprint(config, copy)
    assert last_build_fingerprint(copy) == before  # unchanged: the next build would be incremental
    with duckdb.connect(str(copy)) as connection:
        connection.execute("update raw.config__repository_teams set team = 'platform' "
                           "where repository = (select min(repository) from raw.config__repository_teams)")
    assert build_fingerprint(config, copy) != before


def test_the_fingerprint_follows_the_dbt_vars(nights):
    config = nights["full"]
    before = build_fingerprint(config)
    changed = config.model_copy(update={"deployments": config.deployments.model_copy(
        update={"incident_attribution_hours": config.deployments.incident_attribution_hours + 1})})
    assert build_fingerprint(changed) != before

