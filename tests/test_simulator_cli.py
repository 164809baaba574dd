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
        printed = dict(process.stdout.readline().strip().split("=", 1) for _ in range(10))
        assert printed["GITHUB_URL"].startswith("http://127.0.0.1:") and printed["GITHUB_URL"].endswith("/github")
        assert {printed[k] for k in ("GITHUB_TOKEN", "JIRA_TOKEN", "JENKINS_TOKEN", "GITLAB_TOKEN")} == {"cli-token"}
        response = requests.get(f"{printed['GITHUB_URL']}/orgs/acme/repos", headers={"Authorization": "Bearer cli-token"},
                                timeout=10)
        assert len(response.json()) == 8
        projects = requests.get(f"{printed['JIRA_URL']}/rest/api/3/project/search",
                                auth=(printed["JIRA_EMAIL"], "cli-token"), timeout=10).json()
        assert sorted(p["key"] for p in projects["values"]) == ["GRO", "PAY", "PLAT"]
        jobs = requests.get(f"{printed['JENKINS_URL']}/api/json", auth=(printed["JENKINS_USER"], "cli-token"), timeout=10)
        assert jobs.status_code == 200 and jobs.json()["jobs"]
        gitlab = requests.get(f"{printed['GITLAB_URL']}/groups/acme/projects", headers={"PRIVATE-TOKEN": "cli-token"},
                              timeout=10)
        assert sorted(p["path_with_namespace"] for p in gitlab.json()) == ["acme/mobile-app", "acme/web-app"]
    finally:
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()
    assert exit_code == 0
