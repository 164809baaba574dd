"""Benchmark: the loader's peak memory and speed as the night's volume grows.

    python -m benchmarks.load_volume --records 1000000 2000000 4000000 [--scopes 200]

For each volume, writes synthetic landing batches shaped like a GitHub first sync (a
parent stream and a child stream per repository scope, payloads of pull-request size),
then loads them into a fresh DuckDB warehouse in a child process and reports that
process's peak RSS and records per second. The loader commits scope by scope, so the peak
should stay flat whatever the volume; a night held in one transaction grows with it.
Writes benchmarks/results/<date>-load-volume.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from extractors.extract import BatchManifest
from extractors.loader import WarehouseLoader

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
STREAMS = ("github__pull_requests", "github__pull_request_commits")


def _payload(number: int, scope: str) -> dict:
    """About 900 bytes, like a pull request with its kept fields."""
    return {
        "id": number, "number": number, "state": "closed", "title": f"Change {number} of {scope}",
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z",
        "merged_at": "2026-01-02T00:00:00Z", "merge_commit_sha": f"{number:040x}",
        "head": {"ref": f"feature/{number}", "sha": f"{number * 7:040x}", "label": f"acme:feature/{number}"},
        "base": {"ref": "main", "sha": f"{number * 3:040x}", "label": "acme:main"},
        "labels": [{"name": "enhancement"}], "html_url": f"https://github.example/{scope}/pull/{number}",
        "body": "x" * 400,
    }


def write_night(landing: Path, records: int, scopes: int) -> list[BatchManifest]:
    per_batch = records // (scopes * len(STREAMS))
    manifests = []
    key = 0
    for index in range(scopes):
        scope = f"acme/repo-{index:04d}"
        for stream in STREAMS:
            path = landing / stream / f"repo-{index:04d}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                for _ in range(per_batch):
                    key += 1
                    handle.write(json.dumps({"record_key": str(key), "scope": scope,
                                             "updated_at": "2026-01-02T00:00:00Z",
                                             "payload": _payload(key, scope)}) + "\n")
            manifest = BatchManifest(stream=stream, scope=scope, run_id="volume", path=str(path), records=per_batch,
                                     previous_cursor=None, new_cursor="2026-01-02T00:00:00Z",
                                     extracted_at="2026-01-03T00:00:00+00:00", requests=1, complete=True)
            manifest.manifest_path.write_text(manifest.to_json(), encoding="utf-8")
            manifests.append(manifest)
    return manifests


def load_phase(listing: Path) -> dict:
    """The child process: load every manifest listed in `listing`, report time and peak RSS."""
    manifests = [BatchManifest.from_file(Path(line)) for line in listing.read_text(encoding="utf-8").split()]
    warehouse = listing.parent / "warehouse.duckdb"
    started = time.perf_counter()
    report = WarehouseLoader(warehouse).load(manifests)
    seconds = time.perf_counter() - started
    return {"load_seconds": round(seconds, 1), "inserted": report.inserted,
            "committed_scopes": len(report.committed_scopes),
            "peak_rss_mb_load": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
            "warehouse_bytes": os.path.getsize(warehouse)}


def run(volumes: list[int], scopes: int) -> dict:
    rows = []
    for records in volumes:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            work = Path(tmp)
            manifests = write_night(work / "landing", records, scopes)
            listing = work / "manifests.txt"
            listing.write_text("".join(m.path + "\n" for m in manifests), encoding="utf-8")
            child = subprocess.run([sys.executable, "-m", "benchmarks.load_volume", "--load-phase", str(listing)],
                                   cwd=ROOT, capture_output=True, text=True)
            if child.returncode != 0:
                rows.append({"records": records, "error": child.stderr.strip().splitlines()[-1:]})
                continue
            phase = json.loads(child.stdout.strip().splitlines()[-1])
            rows.append({"records": sum(m.records for m in manifests), "scopes": scopes,
                         "landing_bytes": sum(os.path.getsize(m.path) for m in manifests), **phase,
                         "records_per_second_loaded": round(phase["inserted"] / max(phase["load_seconds"], 0.001))})
        print(json.dumps(rows[-1]), flush=True)
    return {"benchmark": "load_volume", "date": date.today().isoformat(),
            "memory_limit": WarehouseLoader(Path("unused")).memory_limit, "runs": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, nargs="+", default=[500_000, 1_000_000, 2_000_000])
    parser.add_argument("--scopes", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--load-phase", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_phase:
        print(json.dumps(load_phase(args.load_phase)))
        return 0
    result = run(args.records, args.scopes)
    target = args.out or RESULTS / f"{result['date']}-load-volume.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
