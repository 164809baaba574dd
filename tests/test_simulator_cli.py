"""`python -m simulator serve|truth` behaves as the project CLI expects."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import requests

from simulator.__main__ import main
from simulator.generator import generate_org
from simulator.truth import deployment_frequency

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_truth_prints_the_deployment_frequency_as_json(capsys) -> None:
    assert main(["truth", "--scale", "small", "--seed", "7", "--anchor", "2026-11-26"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = deployment_frequency(generate_org("small", 7, datetime(2026, 11, 26, tzinfo=UTC)))
    assert printed == [{**row, "week_start": row["week_start"].isoformat()} for row in expected]
    assert date.fromisoformat(printed[0]["week_start"]).weekday() == 0


@pytest.mark.parametrize(
    "command",
    [[sys.executable, "-m", "simulator"], [str(Path(sys.executable).with_name("kpi")), "simulator"]],
    ids=["python-m-simulator", "kpi-simulator"],
)
def test_serve_prints_url_and_token_serves_github_and_stops_on_sigterm(command: list[str]) -> None:
    process = subprocess.Popen(
        [*command, "serve", "--port", "0", "--token", "cli-token", "--anchor", "2026-11-26"],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url_line = process.stdout.readline().strip()
        token_line = process.stdout.readline().strip()
        assert url_line.startswith("GITHUB_URL=http://127.0.0.1:") and url_line.endswith("/github")
        assert token_line == "GITHUB_TOKEN=cli-token"
        github_url = url_line.removeprefix("GITHUB_URL=")
        response = requests.get(f"{github_url}/orgs/acme/repos", headers={"Authorization": "Bearer cli-token"},
                                timeout=10)
        assert len(response.json()) == 8
    finally:
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()
    assert exit_code == 0
