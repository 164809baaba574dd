"""How big can the simulator get? Generation time, peak memory and serving latency per source.

    python -m benchmarks.simulator_scale --scale large --source jira

prints a JSON report and writes it to
`benchmarks/results/<YYYY-MM-DD>-simulator-<source>-<scale>.json`.

Each source is one function in `SOURCES` taking the parsed arguments and returning a
dict; the common envelope (scale, seed, python, machine, peak RSS) is added here.
Add `github`, `jenkins`, `gitlab` by registering a function with the same shape:
generate the site inside the measured block, then serve it over real HTTP and time
the requests an extractor makes first (first page, a deep page, one detail call).

Peak RSS is `resource.getrusage(RUSAGE_SELF).ru_maxrss` (KiB on Linux), i.e. the
peak of the whole process, measured right after generation and again at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_ANCHOR = "2026-11-26"
SCALES = ("small", "medium", "large")


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = call()
    return round((time.perf_counter() - start) * 1000, 2), result


def latency(call: Callable[[], Any], repeat: int) -> dict[str, float]:
    """First (cold) call and the median / max of `repeat` further calls, in ms."""
    first, _ = timed(call)
    again = [timed(call)[0] for _ in range(repeat)]
    return {"first_ms": first, "median_ms": round(statistics.median(again), 2), "max_ms": max(again),
            "repeat": repeat}


# -- jira -----------------------------------------------------------------------------


def bench_jira(args: argparse.Namespace) -> dict[str, Any]:
    import requests

    from simulator.generator import SCALES as ORG_SCALES
    from simulator.jira import generate_jira
    from simulator.jira_api import JiraApi, _encode_token
    from simulator.server import ApiServer
    from simulator.simulation import JIRA_ISSUES

    anchor = datetime.fromisoformat(args.anchor).replace(tzinfo=UTC)
    preset = ORG_SCALES[args.scale]
    teams = _teams(args.scale, args.seed, anchor)
    rss_before = peak_rss_mb()
    generation_s, site = timed(lambda: generate_jira(teams, args.seed, anchor, preset.days, JIRA_ISSUES[args.scale]))
    report: dict[str, Any] = {
        "generation_seconds": round(generation_s / 1000, 2),
        "peak_rss_mb_before_generation": rss_before,
        "peak_rss_mb_after_generation": peak_rss_mb(),
        "counts": {"teams": len(teams), "projects": len(site.projects), "days": preset.days,
                   **site.stats(), "change_items": site.change_items()},
    }
    email, token = "bench@example.com", "bench-token"
    api = JiraApi(site, email=email, token=token)
    since = (site.anchor - timedelta(days=preset.days + 1)).date().isoformat()  # everything: a full crawl
    jql = f'updated >= "{since}" ORDER BY updated ASC'
    serve: dict[str, Any] = {"jql": jql}
    with ApiServer({"/jira": api}) as server, requests.Session() as http:
        http.auth = (email, token)
        search = f"{server.url_for('jira')}/rest/api/3/search/jql"

        def first_page(fields: str = "*all", expand: str = "changelog") -> dict:
            response = http.get(search, params={"jql": jql, "maxResults": 100, "fields": fields, "expand": expand},
                                timeout=120)
            response.raise_for_status()
            return response.json()

        serve["first_page_all_fields_changelog"] = latency(first_page, args.repeat)
        serve["first_page_id_only"] = latency(lambda: first_page("id", ""), args.repeat)
        page = first_page("id", "")
        chained, token_value = [], page.get("nextPageToken")
        for _ in range(args.pages):  # follow real nextPageTokens: steady-state paging
            if not token_value:
                break
            ms, body = timed(lambda: http.get(search, params={"jql": jql, "maxResults": 100, "fields": "*all",
                                                               "expand": "changelog", "nextPageToken": token_value},
                                              timeout=120).json())
            chained.append(ms)
            token_value = body.get("nextPageToken")
        serve["next_page_token_pages"] = {"pages": len(chained), "median_ms": round(statistics.median(chained), 2)
                                          if chained else None, "max_ms": max(chained, default=None)}
        total = len(api._run_query(jql))
        deep = max(total // 2 // 100 * 100, 0)
        digest = hashlib.sha256(f"{site.generation}|{jql}".encode()).hexdigest()[:16]
        deep_token = _encode_token(deep, digest)  # the token the server would have issued after deep/100 pages

        def deep_page() -> dict:
            response = http.get(search, params={"jql": jql, "maxResults": 100, "fields": "*all",
                                                "expand": "changelog", "nextPageToken": deep_token}, timeout=120)
            response.raise_for_status()
            return response.json()

        serve["deep_page_next_page_token"] = {"offset": deep, **latency(deep_page, args.repeat)}

        def deep_server_page() -> dict:
            response = http.get(f"{server.url_for('jira')}/rest/api/2/search", params={
                "jql": jql, "startAt": deep, "maxResults": 100, "fields": "*navigable"}, timeout=120)
            response.raise_for_status()
            return response.json()

        serve["deep_page_server_start_at"] = {"offset": deep, **latency(deep_server_page, args.repeat)}
        chatty = max(range(min(len(site.issues), 2000)), key=lambda p: int(site.index.hist_len[p]))
        chatty_key = site.issue_at(chatty).key

        def changelog(key: str) -> dict:
            response = http.get(f"{server.url_for('jira')}/rest/api/3/issue/{key}/changelog", params={"maxResults": 100},
                                timeout=120)
            response.raise_for_status()
            return response.json()

        serve["changelog_chatty_issue"] = {"key": chatty_key, "histories": int(site.index.hist_len[chatty]),
                                           **latency(lambda: changelog(chatty_key), args.repeat)}
        typical = len(site.issues) // 3
        typical_key = site.issue_at(typical).key
        serve["changelog_typical_issue"] = {"key": typical_key, "histories": int(site.index.hist_len[typical]),
                                            **latency(lambda: changelog(typical_key), args.repeat)}
        serve["search_total_matches"] = total
        old_anchor = site.anchor
        advance_ms, _ = timed(lambda: site.advance(1))
        incremental = f'updated >= "{old_anchor.strftime("%Y-%m-%d %H:%M")}" ORDER BY updated ASC'
        ms, body = timed(lambda: http.get(f"{server.url_for('jira')}/rest/api/2/search", params={
            "jql": incremental, "maxResults": 100, "fields": "updated"}, timeout=120).json())
        serve["advance_one_day"] = {"advance_ms": advance_ms, "incremental_search_ms": ms,
                                    "changed_or_new_issues": body["total"]}
    report["serve"] = serve
    return report


def _teams(scale: str, seed: int, anchor: datetime) -> list:
    """The org's teams without generating the whole GitHub org (teams are its first draws)."""
    from simulator.generator import SCALES as ORG_SCALES
    from simulator.generator import _OrgBuilder, generate_org

    try:
        return _OrgBuilder(ORG_SCALES[scale], scale, seed, anchor)._teams()
    except (AttributeError, TypeError):  # the builder changed: fall back to the full org
        return generate_org(scale, seed=seed, anchor=anchor).teams


SOURCES: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {"jira": bench_jira}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.simulator_scale", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=SCALES, default="small")
    parser.add_argument("--source", choices=sorted(SOURCES), default="jira")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--anchor", default=DEFAULT_ANCHOR, help="YYYY-MM-DD (UTC midnight)")
    parser.add_argument("--repeat", type=int, default=5, help="warm repetitions per latency")
    parser.add_argument("--pages", type=int, default=20, help="pages followed by nextPageToken")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = {
        "source": args.source, "scale": args.scale, "seed": args.seed, "anchor": args.anchor,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        **SOURCES[args.source](args),
    }
    result["peak_rss_mb"] = peak_rss_mb()
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{datetime.now(UTC).date().isoformat()}-simulator-{args.source}-{args.scale}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
