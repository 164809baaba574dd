"""Benchmark: GitHub extraction + load against the simulator at a given scale.

    python -m benchmarks.github_extraction --scale medium [--workers 4] [--seed 7]

Starts the simulator in a subprocess (so its in-memory org does not count towards our
memory), runs a full extraction of every stream for every repository (no detail horizon:
the complete history), loads the batches into a fresh DuckDB warehouse, then runs one
quiet incremental night. Writes benchmarks/results/<date>-github-<scale>.json with:

- requests made vs the floor: sum over streams and scopes of ceil(records / 100), where a
  child stream's scopes are its parents (a parent with no children still costs 1);
- records per second extracted and loaded;
- peak RSS of the extraction (this process) and of the load (a child process), apart: the
  simulator is a third process, so its in-memory org counts towards neither.

The result file is written once the extraction ends and again after the load, so a load
that fails keeps the extraction's figures. `--keep DIR` keeps the landing batches and the
warehouse (e.g. to benchmark `dbt build` on it).
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
# Streams read by downloading one file per parent (not paged): a parent costs one request
# when it is downloaded and none when skipped (pull-request runs, expired, not a report).
DOWNLOAD_STREAMS = {"github__artifact_reports"}


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
        if stream.name in DOWNLOAD_STREAMS:  # one download per parent that was downloaded
            per_stream[stream.name] += len(children)
            continue
        per_stream[stream.name] += parent_manifest.records - len(children)  # parents without children
        per_stream[stream.name] += sum(max(1, math.ceil(n / 100)) for n in children.values())
    return sum(per_stream.values()), dict(per_stream)


def _write(target: Path, result: dict) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")


def extract_all(base_url: str, token: str, landing: Path, workers: int) -> tuple[list[BatchManifest], list[str], int]:
    """Full extraction of every stream of every repository: (manifests, repositories, requests)."""
    client = HttpClient(base_url, token)
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
    return manifests, repositories, sum(request_counts)


def load_and_quiet_night(work: Path, base_url: str, token: str) -> dict:
    """The load of the full sync, then one quiet incremental night (run in its own process,
    so its peak memory is the loader's, not the extractor's)."""
    landing, warehouse = work / "landing", work / "warehouse.duckdb"
    manifests = [BatchManifest.from_file(Path(line)) for line in
                 (work / "manifests.txt").read_text(encoding="utf-8").split()]
    repositories = sorted({m.scope for m in manifests if m.stream != "github__repositories"})
    loader = WarehouseLoader(warehouse)
    started = time.perf_counter()
    report = loader.load(manifests)
    load_seconds = time.perf_counter() - started
    rss_after_load = _peak_rss_mb()

    # A quiet night, twice: the first after the full sync may still re-read listings whose
    # validators the full sync did not yet hold; the second is the steady state.
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
    return {
        "load_seconds": round(load_seconds, 1),
        "inserted": report.inserted,
        "committed_scopes": len({b.scope for b in report.batches}),
        "peak_rss_mb_load": round(rss_after_load, 1),
        "warehouse_bytes": os.path.getsize(warehouse),
        "quiet_night_requests": quiet_requests,
        "quiet_night_floor": len(repositories) * sum(1 for s in REPO_STREAMS if not s.parent),
    }


def run(scale: str, seed: int, workers: int, out: Path | None, keep: Path | None = None) -> dict:
    """Extract in this process, then load (and one quiet night) in a child process; the
    result file is written after the extraction already, so a failing load keeps its figures."""
    token = f"ghs_bench_{secrets.token_hex(8)}"
    target = out or RESULTS / f"{date.today().isoformat()}-github-{scale}.json"
    process, base_url = start_simulator(scale, seed, token)
    work = keep or Path(tempfile.mkdtemp(prefix=f"bench-github-{scale}-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        manifests, repositories, made = extract_all(base_url, token, work / "landing", workers)
        extract_seconds = time.perf_counter() - started
        (work / "manifests.txt").write_text("".join(m.path + "\n" for m in manifests), encoding="utf-8")
        records = sum(m.records for m in manifests)
        floor, floor_by_stream = floor_requests(manifests)
        made_by_stream: Counter = Counter()
        for manifest in manifests:
            made_by_stream[manifest.stream] += manifest.requests
        result = {
            "scale": scale, "seed": seed, "workers": workers, "date": date.today().isoformat(),
            "repositories": len(repositories),
            "records": records,
            "requests": made, "floor": floor, "requests_over_floor": round(made / floor, 4),
            "requests_by_stream": dict(made_by_stream), "floor_by_stream": floor_by_stream,
            "extract_seconds": round(extract_seconds, 1),
            "records_per_second_extracted": round(records / extract_seconds),
            "peak_rss_mb_extract": round(_peak_rss_mb(), 1),
            "landing_bytes": sum(os.path.getsize(m.path) for m in manifests),
            "status": "extracted; loading",
        }
        _write(target, result)
        loaded = subprocess.run(
            [sys.executable, "-m", "benchmarks.github_extraction", "--load-phase", str(work), "--base-url", base_url],
            cwd=ROOT, env={**os.environ, "BENCH_GITHUB_TOKEN": token}, capture_output=True, text=True)
        if loaded.returncode != 0:
            result.update(status="extracted; load failed", load_error=loaded.stderr.strip().splitlines()[-1:])
        else:
            phase = json.loads(loaded.stdout.strip().splitlines()[-1])
            result.update(phase, status="complete",
                          records_per_second_loaded=round(records / max(phase["load_seconds"], 0.001)))
        _write(target, result)
    finally:
        process.terminate()
        process.wait(timeout=10)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=1, help="repositories extracted concurrently (threads)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None,
                        help="work folder to keep (landing batches, manifests.txt, warehouse.duckdb)")
    parser.add_argument("--load-phase", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_phase:  # the child process of `run`
        print(json.dumps(load_and_quiet_night(args.load_phase, args.base_url, os.environ["BENCH_GITHUB_TOKEN"])))
        return 0
    result = run(args.scale, args.seed, args.workers, args.out, args.keep)
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("_by_stream")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
