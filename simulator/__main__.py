"""Command line: `python -m simulator serve|truth ...`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import UTC, datetime

from simulator.generator import SCALES
from simulator.simulation import JENKINS_USER, JIRA_EMAIL, Credentials, Simulation, build_simulation
from simulator.truth import deployment_frequency


def _anchor(text: str) -> datetime:
    """`YYYY-MM-DD` (midnight UTC) or a full ISO timestamp (naive means UTC)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or timestamp: {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _add_org_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", default="small", choices=sorted(SCALES))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--anchor", type=_anchor, default=None,
                        help="simulated 'now' (default: today 00:00 UTC)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simulator", description="Local GitHub, Jira, Jenkins and GitLab stand-in.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve GitHub, Jira, Jenkins and GitLab until SIGINT/SIGTERM")
    _add_org_arguments(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--token", default=None,
                       help="token every source accepts (default: a random token per source)")
    serve.add_argument("--rate-limit", type=int, default=5000)
    truth = commands.add_parser("truth", help="print the deployment-frequency ground truth as JSON")
    _add_org_arguments(truth)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    simulation = build_simulation(scale=args.scale, seed=args.seed, anchor=args.anchor)
    if args.command == "truth":
        rows = [{**row, "week_start": row["week_start"].isoformat()} for row in deployment_frequency(simulation.org)]
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    return _serve(simulation, args)


def _serve(simulation: Simulation, args: argparse.Namespace) -> int:
    stop = threading.Event()
    # Signal handlers only work in the main thread; elsewhere rely on KeyboardInterrupt.
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    credentials = (
        Credentials(args.token, args.token, args.token, args.token) if args.token else Credentials()
    )
    with simulation.server(credentials, host=args.host, port=args.port, rate_limit=args.rate_limit) as server:
        for line in (
            f"GITHUB_URL={server.github_url}",
            f"GITHUB_TOKEN={credentials.github_token}",
            f"JIRA_URL={server.url_for('jira')}",
            f"JIRA_EMAIL={JIRA_EMAIL}",
            f"JIRA_TOKEN={credentials.jira_token}",
            f"JENKINS_URL={server.url_for('jenkins')}",
            f"JENKINS_USER={JENKINS_USER}",
            f"JENKINS_TOKEN={credentials.jenkins_token}",
            f"GITLAB_URL={server.url_for('gitlab')}/api/v4",
            f"GITLAB_TOKEN={credentials.gitlab_token}",
        ):
            print(line, flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
