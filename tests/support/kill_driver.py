"""One night of extraction + load for the Jenkins source, as a process that can be killed.

    python -m tests.support.kill_driver CONFIG RUN_ID [--hold-before-last-commit]

Runs `extract_listings` -> `plan_scopes` -> `extract_source_scope` per scope -> the loader
(one transaction per scope). With --hold-before-last-commit the load stops inside the
transaction of its last scope, after every batch of that scope was merged and its
watermarks written but before COMMIT: it prints HOLDING (and the committed scopes) and waits
on stdin, which the test never writes, so it is there, deterministically, when the test
sends SIGKILL. The client's secret comes from $KPI_JENKINS_DEFAULT_USER and
$KPI_JENKINS_DEFAULT_TOKEN (what the pipeline reads outside Airflow), without the Airflow
connection lookup.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from extractors.auth import basic_credentials
from extractors.extract import BatchManifest
from extractors.http import HttpClient
from extractors.loader import LoadReport, WarehouseLoader
from kpi import pipeline
from kpi.config import PipelineConfig, load_config
from kpi.credentials import token_env_var, user_env_var

HOLDING = "HOLDING"


def client(config: PipelineConfig) -> HttpClient:
    settings = config.sources.jenkins
    credentials = basic_credentials(os.environ[user_env_var(settings.connection_id)],
                                    os.environ[token_env_var(settings.connection_id)])
    return HttpClient(settings.base_url, credentials, backoff_base=0.01, backoff_max=0.05)


def night(config: PipelineConfig, run_id: str, hold_before_last_commit: bool = False) -> tuple[list[dict[str, Any]], LoadReport]:
    listings = pipeline.extract_listings(config, run_id, clients={"jenkins": client(config)})
    planned = pipeline.plan_scopes(config, listings, clients={"jenkins": client(config)})
    results = [pipeline.extract_source_scope(config, scope, run_id, client=client(config)) for scope in planned]
    manifests = [BatchManifest.from_file(path) for path in listings + pipeline.scope_manifests(results)]
    loader = WarehouseLoader(config.working_warehouse)
    if hold_before_last_commit:
        _hold_after(loader, manifests[-1], [m.scope for m in manifests if m.scope != manifests[-1].scope])
    return results, loader.load(manifests)


def _hold_after(loader: WarehouseLoader, last: BatchManifest, committed_scopes: list[str]) -> None:
    """Make `loader` stop, inside its transaction, once it merged `last` (its final batch)."""
    merge = loader._merge_batch

    def merge_then_hold(con, manifest, **options):
        loaded = merge(con, manifest, **options)
        if manifest.path == last.path:
            print(HOLDING, json.dumps({"scope": manifest.scope, "committed": sorted(set(committed_scopes))}),
                  flush=True)
            sys.stdin.read()  # never returns: the test kills this process here
        return loaded

    loader._merge_batch = merge_then_hold


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("run_id")
    parser.add_argument("--hold-before-last-commit", action="store_true")
    args = parser.parse_args(argv)
    results, report = night(load_config(args.config), args.run_id, args.hold_before_last_commit)
    print(json.dumps({"statuses": {r["scope"]: r["status"] for r in results}, "inserted": report.inserted}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
