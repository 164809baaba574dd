"""Benchmark: the whole nightly pipeline on the simulated `small`, `medium` or `large` org.

    python -m benchmarks.pipeline --scale small|medium|large [--keep DIR] [--workers 2]
    python -m benchmarks.pipeline --scale large --reuse DIR --only dbt

Every source (GitHub, Jira, Jenkins, GitLab) through the pipeline's own steps
(kpi.pipeline: extract_listings, plan_scopes, extract_source_scope, audit_batches,
load_raw, build_marts, audit_marts, publish), complete history (`detail_backfill_days:
null`), no rate limit, the simulator in a subprocess (`python -m simulator serve`), so its
in-memory org counts towards no measured process. Each step runs in its own process and
reports its own peak RSS; dbt's is that of its subprocess.

Nights, in order:
1. full: extraction, batch audit, load, then `dbt build --full-refresh` (build_marts with
   full_refresh) and the mart audit + publish. The warehouse right after the load is kept
   as `snapshot/full-sync.duckdb` (for `--reuse`).
2. quiet: the next night with nothing changed (no advance): every stream and scope should
   cost at most one request (mostly a 304).
3. nightly: `POST /_sim/advance?days=1`, then extraction, audit, load and the incremental
   `dbt build` (build_marts: the fingerprint is unchanged, so incremental), and its ratio
   to the full build.
4. small only: the end-to-end DAG, `airflow dags test kpi_nightly` (kpi.demo's
   run_dag_with_airflow) with the demo's configuration (config/pipeline.yaml, a 14-day
   detail horizon) on a fresh data directory against the same simulator. Not on medium
   or large: `dags test` runs every task in one process, one mapped scope after another,
   so it measures Airflow's scheduling overhead times thousands of scopes, not the
   pipeline (and would take hours on large); the `make demo` target is set on small.

Request floors (the fewest requests the APIs allow for the records the full sync
extracted; tests check that a full sync equals the simulator's generator, so these are
the model's sizes), per source:
- GitHub: per stream and scope ceil(records / 100), at least 1 (an empty listing still
  costs a page), where the issues listing counts the pull requests it also lists (and
  the extractor drops); a child stream (reviews, PR commits, deployment statuses, workflow jobs
  and artifacts) costs per parent ceil(children / 100), at least 1; artifact reports are
  downloads, one per artifact that carried a report (others are skipped unread).
- Jira (Cloud flavour): per project ceil(issues / 100) search pages (100 is the most the
  search serves) plus, for an issue with more than the 100 histories the search inlines,
  ceil((histories - 100) / 100) changelog pages; 1 for the versions (one unpaged list);
  ceil(issues / 100) for the key listing (Cloud serves 5000 ids a page, the simulator
  caps every search page at 100); plus 1 request per night for `/field` (the field names
  of the configuration are resolved to ids).
- Jenkins: per job floor(builds / 100) + 1 (`allBuilds{m,n}` ranges of 100: the listing
  ends at a short page, so a multiple of 100 needs one empty page); one coverage request
  per finished SUCCESS/UNSTABLE build that carries the Coverage plugin's action; one
  download per report file a finished build archived; plus one discovery request per
  folder (the root and each folder above a job).
- GitLab: per stream and project ceil(records / 100), at least 1 (pipelines, deployments,
  merge requests, releases, milestones; the group's project listing likewise); per
  pipeline 1 for its details and ceil(jobs / 100), at least 1, for its jobs.
Requests made are the simulator's own counts (`/_sim/stats`, per source, every status;
the artifact downloads GitHub's /zip redirects to are blob storage, not API requests, and
are reported apart);
per stream and scope they are the client's counts in the batch manifests.

Writes benchmarks/results/<date>-<scale>.json and .md after every phase (so a run that
stops keeps what it measured; `status` says how far it got) and prints the change
against the previous result of the same scale. `--keep DIR` keeps the work folder (the
data directory, the snapshot, the per-phase JSON, README.txt); `--reuse DIR --only dbt`
reruns only the dbt phases on a kept folder: the snapshot is copied back, the full build
timed, then the simulator is re-created from the scale, seed and anchor recorded there,
a quiet night and `advance(1)` + the nightly run, and the incremental build timed
(results in <date>-<scale>-dbt.json).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import requests
import yaml

from benchmarks.report import changes, figure, markdown_table, previous_result

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SCALES = ("small", "medium", "large")
SOURCES = ("github", "jira", "jenkins", "gitlab")
STATE_FILE = "bench.json"  # scale, seed, anchor, token of a work folder


# -- small helpers --------------------------------------------------------------------


def _peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024.0, 1)  # Linux: KiB


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    temporary.replace(path)


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def default_anchor() -> datetime:
    """Two days before today, 00:00 UTC: the day `advance(1)` adds is still in the past, so
    no audit sees a record from the future."""
    today = datetime.now(timezone.utc).date() - timedelta(days=2)
    return datetime(today.year, today.month, today.day, tzinfo=timezone.utc)


# -- the simulator subprocess ---------------------------------------------------------


class Simulator:
    """`python -m simulator serve` in a subprocess: every source, one token, no rate limit."""

    def __init__(self, scale: str, seed: int, anchor: datetime, token: str, log_path: Path) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.token = token
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simulator", "serve", "--scale", scale, "--seed", str(seed),
             "--anchor", anchor.isoformat(), "--port", str(self.port), "--token", token,
             "--rate-limit", str(10**9)],
            cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 900  # the large org builds in ~40 s alone, longer on a busy machine
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base_url}/_sim/health", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"the simulator exited during start-up (exit {self.process.returncode}); "
                                   f"see {log_path}")
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the simulator did not answer /_sim/health within 900 s; see {log_path}")

    def requests_by_source(self) -> dict[str, int]:
        """API requests served per source, every status. Not counted: the artifact downloads
        a 302 from GitHub's /actions/artifacts/{id}/zip points at (signed blob-storage URLs,
        not the API, as on github.com), reported as `github_blob_downloads`."""
        stats = requests.get(f"{self.base_url}/_sim/stats", timeout=120).json()
        counts: Counter = Counter()
        for prefix, entry in stats["sources"].items():
            for route, statuses in entry["routes"].items():
                blob = "/_blobs/" in route
                counts["github_blob_downloads" if blob else prefix.strip("/")] += sum(statuses.values())
        return dict(counts)

    def advance(self, days: int = 1) -> dict[str, Any]:
        response = requests.post(f"{self.base_url}/_sim/advance", params={"days": days}, timeout=3600)
        if response.status_code != 200:
            raise RuntimeError(f"POST /_sim/advance?days={days} answered {response.status_code}: {response.text}")
        return response.json()

    def connections(self) -> dict[str, str]:
        """AIRFLOW_CONN_* for every source (what kpi.demo sets for `make demo`)."""
        from kpi.demo import simulator_connections
        from simulator.simulation import Credentials

        server = SimpleNamespace(base_url=self.base_url, github_url=f"{self.base_url}/github")
        return simulator_connections(server, Credentials(*(self.token,) * 4))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


# -- configuration --------------------------------------------------------------------


def jira_project_teams(scale: str) -> list[tuple[str, str]]:
    """(team, Jira project key) of the simulated org, in team order (simulator.jira's keys)."""
    from simulator.generator import SCALES as PRESETS
    from simulator.jira import project_key_for

    taken: set[str] = set()
    pairs = []
    for team, _ in PRESETS[scale].teams:
        key = project_key_for(team, taken)
        taken.add(key)
        pairs.append((team, key))
    return pairs


def bench_settings(scale: str, data_dir: Path, demo: bool = False) -> dict[str, Any]:
    """config/pipeline.yaml with every team, repository and Jira project of the scale's org,
    complete history (no detail horizon) unless `demo` (the demo's settings as they are)."""
    from simulator.generator import SCALES as PRESETS

    settings = yaml.safe_load((ROOT / "config" / "pipeline.yaml").read_text(encoding="utf-8"))
    settings["warehouse"]["data_dir"] = str(data_dir)
    for key in ("scorecards", "okrs"):
        settings[key] = str(ROOT / settings[key])
    if demo:
        return settings
    preset = PRESETS[scale]
    projects = dict(jira_project_teams(scale))
    settings["teams"] = [{"name": team, "repositories": [f"{preset.org_login}/{name}" for name in repositories],
                          "jira_projects": [projects[team]]} for team, repositories in preset.teams]
    settings["sources"]["jira"]["projects"] = list(projects.values())
    for source in ("github", "jenkins", "gitlab"):
        settings["sources"][source]["detail_backfill_days"] = None
    return settings


def write_config(work: Path, scale: str) -> Path:
    path = work / "pipeline.yaml"
    path.write_text(yaml.safe_dump(bench_settings(scale, work / "data"), sort_keys=False), encoding="utf-8")
    return path


# -- the phases, each in its own process -----------------------------------------------


def _config(work: Path):
    from kpi.config import load_config

    return load_config(work / "pipeline.yaml")


def phase_extract(work: Path, night: str, workers: int) -> dict[str, Any]:
    """extract_listings, plan_scopes and extract_source_scope for every scope (`workers` at once)."""
    from extractors.extract import BatchManifest
    from kpi.pipeline import extract_listings, extract_source_scope, plan_scopes

    config = _config(work)
    run_id = f"bench_{night}"
    started = time.perf_counter()
    listings = extract_listings(config, run_id)
    planned = plan_scopes(config, listings)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda scope: extract_source_scope(config, scope, run_id), planned))
    seconds = time.perf_counter() - started
    failed = [f"{r['source']}:{r['scope']}: {r['error']}" for r in results if r["status"] not in ("ok",)]
    manifests = listings + [path for result in results for path in result["manifests"]]
    per_stream_scope: dict[str, int] = {}
    records: Counter = Counter()
    for path in manifests:
        manifest = BatchManifest.from_file(Path(path))
        per_stream_scope[f"{manifest.stream} {manifest.scope}"] = manifest.requests
        records[manifest.stream.split("__", 1)[0]] += manifest.records
    return {"seconds": round(seconds, 1), "manifests": manifests, "scopes": len(planned),
            "not_ok": failed, "records_by_source": dict(records), "records": sum(records.values()),
            "requests_by_stream_scope": per_stream_scope, "peak_rss_mb": _peak_rss_mb()}


def phase_audit(work: Path, night: str) -> dict[str, Any]:
    from kpi.pipeline import audit_batches

    config = _config(work)
    manifests = json.loads((work / "phases" / f"{night}-extract.json").read_text())["manifests"]
    started = time.perf_counter()
    audited = audit_batches(manifests, data_dir=config.data_dir)
    seconds = time.perf_counter() - started
    _write_json(work / "phases" / f"{night}-audited.json", audited)
    return {"seconds": round(seconds, 1), "batches": len(manifests), "accepted": len(audited["accepted"]),
            "quarantined": [f"{q['stream']} {q['scope']}: {q['reason']}" for q in audited["quarantined"]],
            "peak_rss_mb": _peak_rss_mb()}


def phase_load(work: Path, night: str) -> dict[str, Any]:
    from kpi.pipeline import load_raw

    config = _config(work)
    audited = json.loads((work / "phases" / f"{night}-audited.json").read_text())
    started = time.perf_counter()
    loaded = load_raw(config, audited)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 1), **loaded, "warehouse_bytes": config.working_warehouse.stat().st_size,
            "peak_rss_mb": _peak_rss_mb()}


def phase_dbt(work: Path, night: str, as_of: str, full_refresh: bool) -> dict[str, Any]:
    from kpi.dbt_runner import dbt_target_dir
    from kpi.pipeline import build_marts

    config = _config(work)
    started = time.perf_counter()
    outcome = build_marts(config, as_of=datetime.fromisoformat(as_of), full_refresh=full_refresh)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 1), **outcome, "as_of": as_of,
            "peak_rss_mb_dbt": _peak_rss_mb(resource.RUSAGE_CHILDREN),
            "profile": dbt_profile(dbt_target_dir(config) / "run_results.json")}


def dbt_profile(run_results: Path, slowest: int = 12) -> dict[str, Any]:
    """Where a build's time went, from dbt's run_results.json: node seconds summed per
    resource type (models, data tests, unit tests; dbt runs nodes on its threads, so the
    sum can exceed the wall time) and the slowest nodes, so the next optimisation starts
    from a measurement."""
    results = json.loads(run_results.read_text())["results"]
    by_type: dict[str, float] = {}
    for result in results:
        kind = result["unique_id"].split(".", 1)[0]
        by_type[kind] = by_type.get(kind, 0.0) + result["execution_time"]
    nodes = sorted(results, key=lambda result: result["execution_time"], reverse=True)[:slowest]
    return {"nodes": len(results),
            "seconds_by_resource_type": {kind: round(total, 1) for kind, total in sorted(by_type.items())},
            "slowest": [{"node": result["unique_id"].split(".", 2)[-1], "seconds": round(result["execution_time"], 2)}
                        for result in nodes]}


def phase_publish(work: Path, night: str) -> dict[str, Any]:
    from kpi.pipeline import audit_marts, publish

    config = _config(work)
    started = time.perf_counter()
    rows = audit_marts(config)
    audited_seconds = time.perf_counter() - started
    outcome = publish(config, f"bench_{night}")
    return {"seconds": round(time.perf_counter() - started, 1), "audit_seconds": round(audited_seconds, 1),
            "mart_rows_audited": rows, "published": outcome["published"], "peak_rss_mb": _peak_rss_mb()}


PHASES = {"extract", "audit", "load", "dbt", "publish"}


def run_phase(work: Path, phase: str, night: str, env: dict[str, str], **options: Any) -> dict[str, Any]:
    """Run one phase in a child process; its JSON lands in phases/<night>-<phase>.json."""
    command = [sys.executable, "-m", "benchmarks.pipeline", "--phase", phase, "--work", str(work), "--night", night]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    log_path = work / "logs" / f"{night}-{phase}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log_path.open("w", encoding="utf-8") as log:
        completed = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    output = work / "phases" / f"{night}-{phase}.json"
    if completed.returncode != 0 or not output.is_file():
        tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-15:]
        raise PhaseFailed(f"phase {night}/{phase} failed (exit {completed.returncode}); see {log_path}:\n"
                          + "\n".join(tail))
    measured = json.loads(output.read_text(encoding="utf-8"))
    measured["wall_seconds"] = round(time.perf_counter() - started, 1)
    return measured


class PhaseFailed(RuntimeError):
    pass


def _phase_main(args: argparse.Namespace) -> int:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    work, night = args.work, args.night
    if args.phase == "extract":
        measured = phase_extract(work, night, args.workers)
    elif args.phase == "audit":
        measured = phase_audit(work, night)
    elif args.phase == "load":
        measured = phase_load(work, night)
    elif args.phase == "dbt":
        measured = phase_dbt(work, night, args.as_of, args.full_refresh == "True")
    else:
        measured = phase_publish(work, night)
    _write_json(work / "phases" / f"{night}-{args.phase}.json", measured)
    return 0


# -- request floors --------------------------------------------------------------------


def _payloads(path: str):
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)["payload"]


def _page_size(stream) -> int:
    return int(stream.params.get("per_page") or stream.params.get("maxResults") or 100)


def _pages(records: int, page_size: int) -> int:
    return max(1, math.ceil(records / page_size))


GITHUB_DOWNLOAD_STREAMS = {"github__artifact_reports"}  # one download per artifact that had a report


def floor_requests(manifest_paths: list[str]) -> dict[str, dict[str, int]]:
    """Source -> stream -> the fewest requests that read these batches (module docstring)."""
    from extractors.extract import BatchManifest
    from extractors.reports.landing import is_report_name
    from extractors.streams.gitlab import GITLAB_STREAMS
    from extractors.streams.github import GITHUB_STREAMS
    from extractors.streams.jenkins import BUILDS_PAGE_SIZE, JENKINS_STREAMS
    from extractors.streams.jira import FLAVOURS, ISSUE_KEYS, ISSUES, VERSIONS, jira_streams, JiraFieldMapping
    from simulator.jira_api import MAX_RESULTS as JIRA_MAX_RESULTS

    declared = {**GITHUB_STREAMS, **JENKINS_STREAMS, **GITLAB_STREAMS, **jira_streams("cloud", JiraFieldMapping())}
    manifests = [BatchManifest.from_file(Path(path)) for path in manifest_paths]
    by_key = {(m.stream, m.scope): m for m in manifests}
    floors: dict[str, Counter] = defaultdict(Counter)
    for manifest in manifests:
        stream = declared[manifest.stream]
        source, n = stream.source, manifest.records
        if manifest.stream == ISSUES:
            changelog_pages = sum(math.ceil(max(0, issue["changelog"]["total"] - 100) / 100)
                                  for issue in _payloads(manifest.path))
            floors[source][manifest.stream] += _pages(n, 100) + changelog_pages
        elif manifest.stream == VERSIONS:
            floors[source][manifest.stream] += 1
        elif manifest.stream == ISSUE_KEYS:
            floors[source][manifest.stream] += _pages(n, min(FLAVOURS["cloud"].key_page_size, JIRA_MAX_RESULTS))
        elif manifest.stream == "github__issues":  # the listing holds the pull requests too (dropped)
            pulls = by_key.get(("github__pull_requests", manifest.scope))
            floors[source][manifest.stream] += _pages(n + (pulls.records if pulls else 0), _page_size(stream))
        elif manifest.stream == "jenkins__builds":
            floors[source][manifest.stream] += n // BUILDS_PAGE_SIZE + 1
        elif manifest.stream in ("jenkins__build_coverage", "jenkins__build_reports"):
            parent = by_key.get((stream.parent, manifest.scope))
            for build in _payloads(parent.path) if parent else ():
                if manifest.stream == "jenkins__build_coverage":
                    floors[source][manifest.stream] += build.get("coverage_api") is not None
                elif build.get("finished_at"):
                    floors[source][manifest.stream] += sum(
                        1 for artifact in build.get("artifacts") or [] if artifact.get("api_path")
                        and is_report_name(artifact["relative_path"].rsplit("/", 1)[-1], None))
        elif stream.parent is None:
            floors[source][manifest.stream] += _pages(n, _page_size(stream))
        else:
            parent = by_key.get((stream.parent, manifest.scope))
            parent_records = parent.records if parent else 0
            key_field = next(iter(stream.parent_key_fields))
            children = Counter(payload.get(key_field) for payload in _payloads(manifest.path))
            if manifest.stream in GITHUB_DOWNLOAD_STREAMS:
                floors[source][manifest.stream] += len(children)
            else:
                floors[source][manifest.stream] += (parent_records - len(children)) + sum(
                    _pages(count, _page_size(stream)) for count in children.values())
    # Requests no stream makes: Jira resolves the configured field names once a night,
    # Jenkins is walked folder by folder to find its jobs.
    jobs = {m.scope for m in manifests if m.stream == "jenkins__builds"}
    if any(m.stream == ISSUES for m in manifests):
        floors["jira"]["(field names)"] += 1
    if jobs:
        folders = {"/".join(job.split("/")[:depth]) for job in jobs for depth in range(1, job.count("/") + 1)}
        floors["jenkins"]["(job discovery)"] += 1 + len(folders)
    return {source: dict(streams) for source, streams in floors.items()}


# -- the benchmark ----------------------------------------------------------------------


class Benchmark:
    """One run: the work folder, the simulator, the phases, and the result written after each."""

    def __init__(self, scale: str, work: Path, state: dict[str, Any], result_path: Path,
                 previous: dict[str, Any] | None) -> None:
        self.scale, self.work, self.state = scale, work, state
        self.result_path, self.previous = result_path, previous
        self.anchor = datetime.fromisoformat(state["anchor"])
        self.result: dict[str, Any] = {
            "scale": scale, "seed": state["seed"], "anchor": state["anchor"], "date": date.today().isoformat(),
            "commit": _commit(), "cpus": os.cpu_count(), "workers": state["workers"], "work_dir": str(work),
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "status": "starting",
            "phases": {}, "figures": {},
        }
        self.simulator: Simulator | None = None
        self.env: dict[str, str] = {}

    # -- bookkeeping

    def save(self, status: str) -> None:
        self.result["status"] = status
        self.result["figures"] = self.figures()
        _write_json(self.result_path, self.result)
        self.result_path.with_suffix(".md").write_text(markdown_table(self.result), encoding="utf-8")
        _write_json(self.work / ("result-dbt.json" if self.result.get("mode") else "result.json"), self.result)
        print(f"[{datetime.now(timezone.utc):%H:%M:%S}] {self.scale}: {status}", flush=True)

    def phase(self, night: str, phase: str, **options: Any) -> dict[str, Any]:
        print(f"[{datetime.now(timezone.utc):%H:%M:%S}] {self.scale}: {night} {phase} ...", flush=True)
        measured = run_phase(self.work, phase, night, self.env, **options)
        self.result["phases"].setdefault(night, {})[phase] = {
            key: value for key, value in measured.items() if key not in ("manifests",)}
        self.save(f"{night} {phase} done")
        return measured

    def start_simulator(self) -> None:
        started = time.perf_counter()
        self.simulator = Simulator(self.scale, self.state["seed"], self.anchor, self.state["token"],
                                   self.work / "logs" / "simulator.log")
        self.result["simulator_start_seconds"] = round(time.perf_counter() - started, 1)
        self.env = {**os.environ, **self.simulator.connections(), "PYTHONUNBUFFERED": "1"}
        self.env.pop("KPI_AS_OF", None)

    def stop(self) -> None:
        if self.simulator is not None:
            self.simulator.stop()
            self.simulator = None

    # -- nights

    def night(self, night: str, as_of: datetime, dbt: bool | None) -> None:
        """Extract, audit, load; then a dbt build (full when dbt is True, incremental when
        False, none when None). Requests per source are the simulator's counts."""
        assert self.simulator is not None
        before = self.simulator.requests_by_source()
        extracted = self.phase(night, "extract", workers=self.state["workers"])
        after = self.simulator.requests_by_source()
        made = {source: after.get(source, 0) - before.get(source, 0) for source in SOURCES}
        self.result["phases"][night]["extract"]["requests_by_source"] = made
        self.result["phases"][night]["extract"]["github_blob_downloads"] = (
            after.get("github_blob_downloads", 0) - before.get("github_blob_downloads", 0))
        if extracted["not_ok"]:
            raise PhaseFailed(f"{night}: scopes not extracted: " + "; ".join(extracted["not_ok"][:10]))
        if night == "full":
            floors = floor_requests(extracted["manifests"])
            self.result["phases"][night]["extract"]["floor_by_source_stream"] = floors
            self.result["phases"][night]["extract"]["floor_by_source"] = {
                source: sum(streams.values()) for source, streams in floors.items()}
            self.save(f"{night} floor computed")
        audited = self.phase(night, "audit")
        if audited["quarantined"]:
            raise PhaseFailed(f"{night}: batches quarantined: " + "; ".join(audited["quarantined"][:5]))
        self.phase(night, "load")
        if night == "full":
            snapshot = self.work / "snapshot" / "full-sync.duckdb"
            snapshot.parent.mkdir(exist_ok=True)
            shutil.copyfile(_config_path_warehouse(self.work), snapshot)
        if dbt is not None:
            self.dbt(night, as_of, full_refresh=dbt)

    def dbt(self, night: str, as_of: datetime, full_refresh: bool) -> None:
        built = self.phase(night, "dbt", as_of=as_of.isoformat(), full_refresh=full_refresh)
        if not full_refresh and built["full_refresh"]:
            self.result["phases"][night]["dbt"]["warning"] = (
                f"expected an incremental build, dbt ran a full refresh ({built['reason']})")
        self.phase(night, "publish")

    def dag(self) -> None:
        """`airflow dags test kpi_nightly` with the demo's configuration, fresh data directory."""
        from kpi.config import load_config
        from kpi.demo import airflow_env, run_dag_with_airflow

        assert self.simulator is not None
        root = self.work / "dag"
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        config_path = root / "pipeline.yaml"
        config_path.write_text(yaml.safe_dump(bench_settings(self.scale, root / "data", demo=True)), encoding="utf-8")
        config = load_config(config_path)
        env = {**airflow_env(config, config_path), **self.simulator.connections()}
        env.pop("KPI_AS_OF", None)
        logical = (self.anchor + timedelta(days=1)).date()
        print(f"[{datetime.now(timezone.utc):%H:%M:%S}] {self.scale}: airflow dags test ...", flush=True)
        started = time.perf_counter()
        run_dag_with_airflow(env, logical, self.work / "logs" / "dag-airflow.log")
        self.result["phases"]["dag"] = {"seconds": round(time.perf_counter() - started, 1),
                                        "logical_date": logical.isoformat(),
                                        "config": "config/pipeline.yaml (the demo's: 14-day detail horizon)",
                                        "log": str(self.work / "logs" / "dag-airflow.log")}
        self.save("dag done")

    # -- figures

    def figures(self) -> dict[str, dict[str, Any]]:
        phases = self.result["phases"]
        full, quiet, nightly = phases.get("full", {}), phases.get("quiet", {}), phases.get("nightly", {})
        out: dict[str, dict[str, Any]] = {}
        extract = full.get("extract")
        if extract and "floor_by_source" in extract:
            made, floor = extract["requests_by_source"], extract["floor_by_source"]
            out["requests_full"] = figure("requests, full sync (all sources)", sum(made.values()))
            out["floor_full"] = figure("request floor, full sync", sum(floor.values()))
            out["requests_over_floor_full"] = figure(
                "requests / floor, full sync", round(sum(made.values()) / sum(floor.values()), 4), "×",
                "requests_over_floor_full",
                note=", ".join(f"{s} {made.get(s, 0) / floor[s]:.4f}×" for s in SOURCES if floor.get(s)))
        if extract:
            out["records_extracted"] = figure("records extracted, full sync", extract["records"])
            out["records_per_second_extracted"] = figure(
                "records/s extracted", round(extract["records"] / max(extract["seconds"], 0.001)), "records/s",
                note=f"{extract['seconds']:,.0f} s, {self.state['workers']} scopes at once")
            out["peak_rss_mb_extract"] = figure("extraction peak RSS", extract["peak_rss_mb"], "MB",
                                                "peak_rss_mb_extract")
        if full.get("audit"):
            out["audit_seconds_full"] = figure("batch audit (Great Expectations), full sync", full["audit"]["seconds"],
                                               "s", note=f"peak {full['audit']['peak_rss_mb']:,.0f} MB")
        if full.get("load"):
            load = full["load"]
            loaded = load["inserted"] + load["updated"]
            out["records_per_second_loaded"] = figure(
                "records/s loaded", round(loaded / max(load["seconds"], 0.001)), "records/s",
                note=f"{loaded:,} records in {load['seconds']:,.0f} s")
            out["peak_rss_mb_load"] = figure("load peak RSS", load["peak_rss_mb"], "MB")
        if full.get("dbt"):
            out["dbt_full_build_seconds"] = figure(
                "full `dbt build --full-refresh`", full["dbt"]["seconds"], "s", "dbt_full_build_seconds",
                note=f"dbt peak {full['dbt']['peak_rss_mb_dbt']:,.0f} MB" + _slowest_note(full["dbt"]))
        if full.get("publish"):
            out["mart_audit_publish_seconds"] = figure("mart audit + publish, full", full["publish"]["seconds"], "s")
        if quiet.get("extract"):
            per = quiet["extract"]["requests_by_stream_scope"]
            worst = max(per, key=per.get) if per else None
            out["quiet_night_max_requests_per_stream_scope"] = figure(
                "quiet night: most requests of any stream and scope", per[worst] if worst else 0, "",
                "quiet_night_max_requests_per_stream_scope",
                note=f"{sum(per.values()):,} for {len(per):,} streams × scopes; server {self._server_note(quiet)}"
                + (f"; most: {worst}" if worst and per[worst] > 1 else ""))
        if nightly.get("extract"):
            per = nightly["extract"]["requests_by_stream_scope"]
            out["nightly_requests"] = figure(
                "nightly after advance(1): requests", sum(nightly["extract"].get("requests_by_source", {}).values()), "",
                note=f"{len(per):,} streams × scopes, most {max(per.values(), default=0):,} "
                     f"({max(per, key=per.get) if per else '-'}); {nightly['extract']['records']:,} records")
        if nightly.get("dbt"):
            out["dbt_incremental_build_seconds"] = figure(
                "nightly incremental `dbt build`", nightly["dbt"]["seconds"], "s",
                note=nightly["dbt"].get("warning")
                or f"dbt peak {nightly['dbt']['peak_rss_mb_dbt']:,.0f} MB" + _slowest_note(nightly["dbt"]))
            if full.get("dbt"):
                out["incremental_to_full_ratio"] = figure(
                    "incremental / full build", round(nightly["dbt"]["seconds"] / full["dbt"]["seconds"], 3), "",
                    "incremental_to_full_ratio")
        if "dag" in phases:
            out["dag_seconds"] = figure("end-to-end DAG (`airflow dags test`)", phases["dag"]["seconds"], "s",
                                        "dag_seconds", note="demo configuration, first night")
        elif self.result.get("dag_not_measured"):
            out["dag_seconds"] = figure("end-to-end DAG (`airflow dags test`)", None, "s", "dag_seconds",
                                        note=self.result["dag_not_measured"])
        return out

    @staticmethod
    def _server_note(night: dict[str, Any]) -> str:
        made = night["extract"].get("requests_by_source", {})
        return ", ".join(f"{source} {made.get(source, 0):,}" for source in SOURCES)


def _slowest_note(dbt_phase: dict[str, Any], count: int = 3) -> str:
    profile = dbt_phase.get("profile")
    if not profile:
        return ""
    return "; slowest: " + ", ".join(f"{node['node']} {node['seconds']:.1f} s" for node in profile["slowest"][:count])


def _config_path_warehouse(work: Path) -> Path:
    return _config(work).working_warehouse


DAG_NOT_MEASURED = ("not measured on {scale}: `airflow dags test` runs every task in one process, one mapped "
                    "scope after another, so it would time Airflow's per-task overhead over thousands of scopes "
                    "rather than the pipeline; the `make demo` target is set on small")

README = """This folder was kept by `python -m benchmarks.pipeline --scale {scale} --keep {work}`
(commit {commit}, {started}).

  pipeline.yaml            the configuration every phase ran with (data_dir: data/)
  bench.json               scale {scale}, seed {seed}, simulator anchor {anchor}: the simulator is
                           re-created from these, deterministically
  data/warehouse/...       the working warehouse after the last night that ran
  snapshot/full-sync.duckdb  the working warehouse right after the full sync's load
                           (raw layer and state only, before any dbt build)
  phases/*.json, logs/     what each phase measured, and its log
  result.json              the result file of this run (result-dbt.json: of the last --reuse)

Rerun only the dbt phases (copies the snapshot back over the working warehouse, times the
full `dbt build --full-refresh`, then starts the simulator from bench.json, runs a quiet
night, advance(1) and the nightly extraction + load, and times the incremental build):

  .venv/bin/python -m benchmarks.pipeline --scale {scale} --reuse {work} --only dbt

or time a build by hand on the working warehouse:

  .venv/bin/python -c "from kpi.config import load_config; from kpi.dbt_runner import run_dbt; \\
      run_dbt(load_config('{work}/pipeline.yaml'), 'build', extra_args=['--full-refresh'])"
"""


def run(scale: str, seed: int, workers: int, keep: Path | None, anchor: datetime | None = None,
        results_dir: Path = RESULTS) -> dict[str, Any]:
    """The whole benchmark (module docstring); returns the result."""
    work = keep.resolve() if keep else Path(tempfile.mkdtemp(prefix=f"bench-pipeline-{scale}-"))
    if keep and work.exists() and any(work.iterdir()):
        raise SystemExit(f"--keep {work}: the folder exists and is not empty; name a new one "
                         f"(or rerun its dbt phases with --reuse {work} --only dbt)")
    work.mkdir(parents=True, exist_ok=True)
    state = {"scale": scale, "seed": seed, "anchor": (anchor or default_anchor()).isoformat(),
             "token": f"ghs_bench_{secrets.token_hex(8)}", "workers": workers}
    _write_json(work / STATE_FILE, state)
    write_config(work, scale)
    today = date.today().isoformat()
    result_path = results_dir / f"{today}-{scale}.json"
    bench = Benchmark(scale, work, state, result_path, previous_result(results_dir, scale, today))
    (work / "README.txt").write_text(README.format(scale=scale, work=work, commit=bench.result["commit"],
                                                   started=bench.result["started_at"], seed=seed,
                                                   anchor=state["anchor"]), encoding="utf-8")
    if scale != "small":
        bench.result["dag_not_measured"] = DAG_NOT_MEASURED.format(scale=scale)
    try:
        bench.start_simulator()
        bench.save("simulator started")
        bench.night("full", bench.anchor, dbt=True)
        bench.night("quiet", bench.anchor, dbt=None)
        bench.result["advance"] = bench.simulator.advance(1)
        bench.night("nightly", bench.anchor + timedelta(days=1), dbt=False)
        if scale == "small":
            bench.dag()
        bench.result["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        bench.save("complete")
    except Exception as error:
        bench.result["error"] = str(error)
        bench.save(f"stopped: {str(error).splitlines()[0]}")
        raise
    finally:
        bench.stop()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    _print_summary(bench)
    return bench.result


def rerun_dbt(scale: str, work: Path, results_dir: Path = RESULTS) -> dict[str, Any]:
    """`--reuse DIR --only dbt`: the dbt phases again on a kept folder (module docstring)."""
    work = work.resolve()
    state_path = work / STATE_FILE
    snapshot = work / "snapshot" / "full-sync.duckdb"
    for needed in (state_path, work / "pipeline.yaml", snapshot):
        if not needed.is_file():
            raise SystemExit(f"--reuse {work}: {needed.name} is missing ({needed}); it is not a folder kept by "
                             "`python -m benchmarks.pipeline --keep`, or its full sync did not finish")
    state = json.loads(state_path.read_text(encoding="utf-8"))
    if state["scale"] != scale:
        raise SystemExit(f"--reuse {work}: that folder holds a {state['scale']} run, not {scale}")
    today = date.today().isoformat()
    result_path = results_dir / f"{today}-{scale}-dbt.json"
    bench = Benchmark(scale, work, state, result_path, previous_result(results_dir, scale, today))
    bench.result["mode"] = "--reuse --only dbt: dbt phases rerun on the kept full sync"
    warehouse = _config_path_warehouse(work)
    shutil.copyfile(snapshot, warehouse)
    for stale in work.glob("data/**/*.wal"):
        stale.unlink()
    suffix = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    try:
        bench.result["phases"]["full"] = {}
        bench.env = {**os.environ}
        bench.env.pop("KPI_AS_OF", None)
        bench.dbt("full", bench.anchor, full_refresh=True)
        bench.start_simulator()
        bench.save("simulator started")
        bench.night(f"quiet-{suffix}", bench.anchor, dbt=None)
        bench.result["phases"]["quiet"] = bench.result["phases"].pop(f"quiet-{suffix}")
        bench.result["advance"] = bench.simulator.advance(1)
        bench.night(f"nightly-{suffix}", bench.anchor + timedelta(days=1), dbt=False)
        bench.result["phases"]["nightly"] = bench.result["phases"].pop(f"nightly-{suffix}")
        bench.save("complete")
    except Exception as error:
        bench.result["error"] = str(error)
        bench.save(f"stopped: {str(error).splitlines()[0]}")
        raise
    finally:
        bench.stop()
    _print_summary(bench)
    return bench.result


def _print_summary(bench: Benchmark) -> None:
    print(markdown_table(bench.result))
    print("\n".join(changes(bench.previous, bench.result)))
    print(f"written: {bench.result_path} and {bench.result_path.with_suffix('.md')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="small", choices=SCALES)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--anchor", default=None, help="simulator 'now', YYYY-MM-DD (default: two days ago)")
    parser.add_argument("--workers", type=int, default=2, help="scopes extracted at once (threads)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the work folder here (a new folder)")
    parser.add_argument("--reuse", type=Path, default=None, help="a folder kept by --keep (with --only dbt)")
    parser.add_argument("--only", choices=["dbt"], default=None, help="with --reuse: rerun only the dbt phases")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help=argparse.SUPPRESS)
    # The child processes of one phase each.
    parser.add_argument("--phase", choices=sorted(PHASES), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--night", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--as-of", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--full-refresh", default="False", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        return _phase_main(args)
    if bool(args.reuse) != bool(args.only):
        parser.error("--reuse DIR and --only dbt go together")
    if args.reuse and args.keep:
        parser.error("--reuse reruns a kept folder; --keep starts a new one: give one of them")
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    anchor = None
    if args.anchor:
        try:
            anchor = datetime.fromisoformat(args.anchor).replace(tzinfo=timezone.utc)
        except ValueError:
            parser.error(f"--anchor: not a date YYYY-MM-DD: {args.anchor!r}")
    try:
        if args.reuse:
            rerun_dbt(args.scale, args.reuse, args.results_dir)
        else:
            run(args.scale, args.seed, args.workers, args.keep, anchor, args.results_dir)
    except PhaseFailed as failed:
        print(f"benchmark stopped: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
