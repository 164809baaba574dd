"""Benchmark: GitHub extraction + load against the simulator at a given scale.

    python -m benchmarks.github_extraction --scale medium [--workers 4] [--seed 7]

Starts the simulator in a subprocess (so its in-memory org does not count towards our
memory), runs a full extraction of every stream for every repository (no detail horizon:
the complete history), loads the batches into a fresh DuckDB warehouse, then runs one
quiet incremental night. Writes benchmarks/results/<date>-github-<scale>.json with:

- requests made vs the floor: sum over streams and scopes of ceil(records / 100), where a
  child stream's scopes are its parents (a parent with no children still costs 1);
- records per second extracted and loaded;
- peak RSS of this process (extraction + load; the simulator is another process).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import requests

from extractors.extract import BatchManifest, extract_scope
from extractors.http import HttpClient
from extractors.loader import WarehouseLoader
from extractors.streams.github import GITHUB_STREAMS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
ORG_STREAMS = [s for s in GITHUB_STREAMS.values() if s.scope == "org"]
REPO_STREAMS = [s for s in GITHUB_STREAMS.values() if s.scope == "repository"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def start_simulator(scale: str, seed: int, token: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "serve", "--scale", scale, "--seed", str(seed), "--port", str(port),
         "--token", token, "--rate-limit", str(10**9)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if requests.get(f"{base}/_sim/health", timeout=1).ok:
                return process, f"{base}/github"
        except requests.RequestException:
            pass
        if process.poll() is not None:
            raise RuntimeError("simulator exited during start-up")
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("simulator did not start")


def floor_requests(manifests: list[BatchManifest]) -> tuple[int, dict[str, int]]:
    """sum over streams and scopes of ceil(records/100); child scopes are their parents."""
    per_stream: Counter = Counter()
    for manifest in manifests:
        stream = GITHUB_STREAMS[manifest.stream]
        if stream.parent is None:
            per_stream[stream.name] += max(1, math.ceil(manifest.records / 100))
            continue
        parent_manifest = next(m for m in manifests if m.stream == stream.parent and m.scope == manifest.scope)
        children = Counter()
        parent_field = next(iter(stream.parent_key_fields))
        with open(manifest.path, encoding="utf-8") as handle:
            for line in handle:
                children[json.loads(line)["payload"][parent_field]] += 1
        per_stream[stream.name] += parent_manifest.records - len(children)  # parents without children
        per_stream[stream.name] += sum(max(1, math.ceil(n / 100)) for n in children.values())
    return sum(per_stream.values()), dict(per_stream)


def run(scale: str, seed: int, workers: int, out: Path | None) -> dict:
    token = f"ghs_bench_{secrets.token_hex(8)}"
    process, base_url = start_simulator(scale, seed, token)
    work = Path(tempfile.mkdtemp(prefix=f"bench-github-{scale}-"))
    try:
        landing, warehouse = work / "landing", work / "warehouse.duckdb"
        client = HttpClient(base_url, token)
        started = time.perf_counter()
        org_manifests = extract_scope(client, ORG_STREAMS, "acme", watermarks={}, run_id="full", landing_dir=landing)
        with open(org_manifests[0].path, encoding="utf-8") as handle:
            repositories = sorted(json.loads(line)["payload"]["full_name"] for line in handle)
        request_counts = [client.request_count]

        def one(repository: str) -> list[BatchManifest]:
            scope_client = HttpClient(base_url, token)
            landed = extract_scope(scope_client, REPO_STREAMS, repository, watermarks={}, run_id="full",
                                   landing_dir=landing)
            request_counts.append(scope_client.request_count)
            return landed

        with ThreadPoolExecutor(max_workers=workers) as pool:
            manifests = org_manifests + [m for landed in pool.map(one, repositories) for m in landed]
        extract_seconds = time.perf_counter() - started
        records = sum(m.records for m in manifests)
        rss_after_extract = _peak_rss_mb()

        started = time.perf_counter()
        report = WarehouseLoader(warehouse).load(manifests)
        load_seconds = time.perf_counter() - started
        floor, floor_by_stream = floor_requests(manifests)
        made = sum(request_counts)
        made_by_stream: Counter = Counter()
        for manifest in manifests:
            made_by_stream[manifest.stream] += manifest.requests

        # A quiet night: everything incremental and conditional.
        loader = WarehouseLoader(warehouse)
        watermarks, validators = loader.read_watermarks(), loader.read_validators()
        quiet_requests = 0
        for night in ("night-1", "night-2"):
            night_manifests = []
            quiet_requests = 0
            for repository in repositories:
                scope_client = HttpClient(base_url, token)
                night_manifests += extract_scope(
                    scope_client, REPO_STREAMS, repository, run_id=night, landing_dir=landing,
                    watermarks={s: c for (s, sc), c in watermarks.items() if sc == repository},
                    validators={s: v for (s, sc), v in validators.items() if sc == repository})
                quiet_requests += scope_client.request_count
            loader.load(night_manifests)
            watermarks, validators = loader.read_watermarks(), loader.read_validators()

        result = {
            "scale": scale, "seed": seed, "workers": workers, "date": date.today().isoformat(),
            "repositories": len(repositories),
            "records": records,
            "requests": made, "floor": floor, "requests_over_floor": round(made / floor, 4),
            "requests_by_stream": dict(made_by_stream), "floor_by_stream": floor_by_stream,
            "extract_seconds": round(extract_seconds, 1), "load_seconds": round(load_seconds, 1),
            "records_per_second_extracted": round(records / extract_seconds),
            "records_per_second_loaded": round(records / load_seconds),
            "inserted": report.inserted,
            "peak_rss_mb_after_extract": round(rss_after_extract, 1),
            "peak_rss_mb": round(_peak_rss_mb(), 1),
            "landing_bytes": sum(os.path.getsize(m.path) for m in manifests),
            "quiet_night_requests": quiet_requests,
            "quiet_night_floor": len(repositories) * sum(1 for s in REPO_STREAMS if not s.parent),
        }
    finally:
        process.terminate()
        process.wait(timeout=10)
    target = out or RESULTS / f"{date.today().isoformat()}-github-{scale}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=1, help="repositories extracted concurrently (threads)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    result = run(args.scale, args.seed, args.workers, args.out)
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("_by_stream")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
