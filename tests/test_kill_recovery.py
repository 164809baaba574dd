"""`kill -9` of the pipeline in the middle of a load, then a rerun: exact, no loss, no duplicate.

A Jenkins controller of two jobs (two scopes) is simulated in this process; the night runs
in a subprocess (tests/support/kill_driver.py), whose loader stops inside the transaction of
its last scope — every batch of it merged, its watermarks written, not committed — and says
so on stdout. The test then sends SIGKILL. (At that moment the first scope's commit is in
DuckDB's write-ahead log, not yet checkpointed into the file: reopening replays it.) Afterwards the warehouse holds the first scope
exactly as a clean run loads it and nothing of the second (no row, no watermark), and a
rerun leaves the raw layer and the watermarks equal to the clean run's.

The other faults, source by source, are in tests/test_fault_matrix.py.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import yaml

from kpi.config import PROJECT_ROOT, load_config
from kpi.credentials import token_env_var, user_env_var
from simulator.generator import generate_org
from simulator.gitlab import generate_gitlab
from simulator.jenkins import generate_jenkins
from simulator.jira import generate_jira
from simulator.simulation import JENKINS_USER, Credentials, Simulation
from tests.support import kill_driver

ANCHOR = datetime(2026, 11, 23, tzinfo=timezone.utc)
JOBS_OF = ("acme/billing-service", "acme/ledger")  # payments/billing-service, payments/ledger
DAYS = 12
STARTUP_LIMIT = 120  # seconds: only a guard against a hung child, never a synchronisation


def simulation() -> Simulation:
    org = generate_org("small", seed=7, anchor=ANCHOR)
    repositories = [repo for repo in org.repositories if repo.full_name in JOBS_OF]
    return Simulation(org=org, jira=generate_jira(org.teams, org.seed, org.anchor, DAYS, 30),
                      jenkins=generate_jenkins(repositories, org.seed, org.anchor, DAYS),
                      gitlab=generate_gitlab([], org.seed, org.anchor, DAYS))


def write_config(root: Path, base_url: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "pipeline.yaml"
    path.write_text(yaml.safe_dump({
        "warehouse": {"data_dir": str(root / "data")},
        "sources": {"jenkins": {"base_url": f"{base_url}/jenkins", "detail_backfill_days": None}},
        "deployments": {"production_environments": ["production"]},
        "teams": [{"name": "everyone", "repositories": ["acme/*"]}],
    }))
    return path


def raw_layer(warehouse: Path) -> dict[str, Any]:
    """Every raw record (key, scope, cursor, payload) and every watermark: what a rerun must equal."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [name for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' "
            "and table_name like 'jenkins\\_\\_%' escape '\\' order by 1").fetchall()]
        layer: dict[str, Any] = {}
        for table in tables:
            records = con.execute(f'select record_key, scope, updated_at, payload::varchar from raw."{table}"').fetchall()
            keyed = {key: (scope, updated, payload) for key, scope, updated, payload in records}
            assert len(keyed) == len(records), f"{table} holds a record key twice"
            layer[table] = keyed
        layer["_stream_state"] = dict(((stream, scope), cursor) for stream, scope, cursor in con.execute(
            "select stream, scope, cursor_value from raw._stream_state").fetchall())
    return layer


def only_scopes(layer: dict[str, Any], scopes: set[str]) -> dict[str, Any]:
    kept = {table: {key: row for key, row in rows.items() if row[0] in scopes}
            for table, rows in layer.items() if table != "_stream_state"}
    kept["_stream_state"] = {key: cursor for key, cursor in layer["_stream_state"].items() if key[1] in scopes}
    return kept


def killed_mid_load(config_path: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run the night in a subprocess, SIGKILL it while its last scope's transaction is open;
    returns what it said it was holding."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.kill_driver", str(config_path), "killed-night",
         "--hold-before-last-commit"],
        cwd=PROJECT_ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True)
    try:
        holding = None
        with selectors.DefaultSelector() as selector:
            selector.register(child.stdout, selectors.EVENT_READ)
            while holding is None:
                assert selector.select(timeout=STARTUP_LIMIT), "the driver never reached the held transaction"
                line = child.stdout.readline()
                assert line, f"the driver ended (exit {child.wait()}) before holding its transaction"
                if line.startswith(kill_driver.HOLDING):
                    holding = json.loads(line.removeprefix(kill_driver.HOLDING))
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=STARTUP_LIMIT) == -signal.SIGKILL
        return holding
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_load_killed_inside_its_transaction_keeps_only_committed_scopes_and_the_rerun_is_exact(
        tmp_path, monkeypatch):
    credentials = Credentials()
    with simulation().server(credentials) as server:
        secrets = {user_env_var("jenkins_default"): JENKINS_USER, token_env_var("jenkins_default"): credentials.jenkins_token}
        for name, value in secrets.items():
            monkeypatch.setenv(name, value)
        # given: what a clean night loads
        clean_config = load_config(write_config(tmp_path / "clean", server.base_url))
        kill_driver.night(clean_config, "clean-night")
        clean = raw_layer(clean_config.working_warehouse)
        assert clean["jenkins__builds"] and clean["jenkins__build_coverage"]

        # when: a night is killed with its last scope's batches merged but not committed
        config_path = write_config(tmp_path / "killed", server.base_url)
        config = load_config(config_path)
        env = {**os.environ, **secrets, "PYTHONPATH": str(PROJECT_ROOT)}
        holding = killed_mid_load(config_path, env)
        held, committed = holding["scope"], set(holding["committed"])

        # then: the committed scope is there as a clean run has it, the held one not at all
        scopes = {row[0] for row in clean["jenkins__builds"].values()}
        assert scopes == committed | {held} and committed
        after_kill = raw_layer(config.working_warehouse)
        assert after_kill == only_scopes(clean, committed)
        assert not {scope for _, scope in after_kill["_stream_state"]} & {held}  # its watermarks did not move

        # when: the night is run again
        results, report = kill_driver.night(config, "rerun")

        # then: exactly the clean night's records and watermarks, nothing lost or twice
        assert {result["status"] for result in results} == {"ok"}
        assert raw_layer(config.working_warehouse) == clean
        assert report.inserted == sum(len(clean[table]) for table in clean if table != "_stream_state") - sum(
            len(after_kill[table]) for table in after_kill if table != "_stream_state")
