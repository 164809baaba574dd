"""Jenkins stream declarations: scope safety, folder discovery, and real recorded bodies
(cdancy/jenkins-rest) shaped by the same code the streams use."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests

from extractors.auth import basic_credentials
from extractors.errors import ExtractError
from extractors.extract import extract_scope
from extractors.http import HttpClient
from extractors.streams.jenkins import (
    BUILD_TREE,
    JENKINS_STREAMS,
    build_record,
    coverage_record,
    discover_jenkins_jobs,
    job_path,
)
from simulator.jenkins import parse_tree
from simulator.simulation import JENKINS_USER, Credentials, build_simulation

RECORDINGS = Path("ci/cdancy__jenkins-rest/src/test/resources")
BASE = "https://ci.example.com/jenkins"
HOSTILE_NAMES = [
    'payments/le"dger', "payments/it's", "team one/my job", "payments/50%2Fhalf", "payments/a%2F..%2F..",
    "payments/q?x=1#frag", "payments/back\\slash", "payments/tab\tname", "ünïcode/jöb",
]
REFUSED_NAMES = ["", "/", "payments/", "/payments/ledger", "payments//ledger", "..", "payments/..", "../api",
                 "payments/./ledger", " payments/ledger", "payments/ledger "]


# -- a job name cannot leave its path segment ------------------------------------------


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_every_name_of_a_job_stays_one_quoted_path_segment(name):
    stream = JENKINS_STREAMS["jenkins__builds"]
    path = stream.path.format(**stream.scope_variables(name))
    url = requests.Request("GET", HttpClient(BASE, None).resolve(path)).prepare().url
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.query, parts.fragment) == ("https", "ci.example.com", "", "")
    segments = parts.path.split("/")
    assert segments[:2] == ["", "jenkins"] and segments[-2:] == ["api", "json"]
    pairs = segments[2:-2]
    assert pairs[0::2] == ["job"] * len(name.split("/"))
    assert [unquote(segment) for segment in pairs[1::2]] == name.split("/")


@pytest.mark.parametrize("name", REFUSED_NAMES)
def test_names_jenkins_cannot_have_are_refused(name):
    with pytest.raises(ValueError):
        JENKINS_STREAMS["jenkins__builds"].scope_variables(name)


@pytest.fixture(scope="module")
def server():
    simulation = build_simulation("small", anchor=datetime(2026, 11, 23, tzinfo=timezone.utc))
    credentials = Credentials()
    with simulation.server(credentials) as running:
        yield running, HttpClient(running.url_for("/jenkins"), basic_credentials(JENKINS_USER, credentials.jenkins_token))


def test_a_hostile_name_reaches_the_server_as_one_segment_and_finds_nothing(server, tmp_path):
    running, client = server
    # `..` encoded inside a name: the server sees the literal name, which is no folder.
    seen = running.faults.add("/jenkins/job/payments%252F..%252F../job/ledger/api/json", "delay", delay_seconds=0)
    elsewhere = running.faults.add("/jenkins/api/json", "delay", delay_seconds=0)
    landed = extract_scope(client, list(JENKINS_STREAMS.values()), "payments%2F..%2F../ledger", watermarks={},
                           run_id="hostile", landing_dir=tmp_path)
    assert (seen.matched, elsewhere.matched) == (1, 0)
    assert [manifest.records for manifest in landed] == [0, 0]  # builds: 404, skipped; coverage, reports: nothing to read


def test_discovery_over_http_lists_every_job_of_the_simulated_controller(server):
    running, client = server
    jobs = discover_jenkins_jobs(client)
    assert jobs == sorted(f"{job.folder}/{job.name}" for job in running.apis["/jenkins"].site.all_jobs())
    assert discover_jenkins_jobs(client, folders=["platform"]) == [job for job in jobs if job.startswith("platform/")]


def test_the_build_page_tree_is_valid_jenkins_tree_syntax():
    parse_tree(f"allBuilds[{BUILD_TREE}]")  # the simulator's parser follows Jenkins' grammar


# -- discovery over recorded folder listings ------------------------------------------------


class RecordedJenkins:
    """Answers `get_json(path)` from recorded bodies keyed by the path asked."""

    def __init__(self, bodies: dict[str, Any]) -> None:
        self.bodies = bodies
        self.asked: list[str] = []

    def get_json(self, path: str, params: Any = None) -> Any:
        self.asked.append(path)
        return self.bodies.get(path, {"jobs": []})


def _recording(realdata: Path, name: str) -> Any:
    return json.loads((realdata / RECORDINGS / name).read_text(encoding="utf-8"))


def test_discovery_descends_folders_and_multibranch_projects_and_keeps_buildable_jobs(realdata):
    root = _recording(realdata, "jobsInRootFolder.json")
    folder = _recording(realdata, "jobsInJenkinsFolder.json")
    kinds = {item["name"]: item["_class"] for item in root["jobs"]}
    jenkins = RecordedJenkins({"/api/json": root, job_path("Test Folder") + "/api/json": folder})
    found = discover_jenkins_jobs(jenkins)
    folder_jobs = [f"Test Folder/{item['name']}" for item in folder["jobs"]]
    buildable = [name for name, kind in kinds.items() if kind.endswith(("WorkflowJob", "FreeStyleProject", "MavenModuleSet"))]
    assert found == sorted(buildable + folder_jobs)
    # folders and multibranch projects were walked; the agent template was not
    walked = set(jenkins.asked)
    assert job_path("Test Folder") + "/api/json" in walked
    assert job_path("Test MultiBranch Project") + "/api/json" in walked
    assert job_path("Test Docker Slave") + "/api/json" not in walked


def test_discovery_skips_names_jenkins_would_never_send():
    jenkins = RecordedJenkins({"/api/json": {"jobs": [
        {"_class": "hudson.model.FreeStyleProject", "name": name} for name in ("ok", "..", "a/b", "", None)]}})
    assert discover_jenkins_jobs(jenkins) == ["ok"]


# -- builds and coverage shaped from recorded bodies ----------------------------------------


@pytest.mark.parametrize("name", ["build-info.json", "build-info-git-commit.json", "build-info-no-params.json"])
def test_recorded_builds_shape_into_build_records_without_people(realdata, name):
    raw = _recording(realdata, name)
    record = build_record("fish", raw)
    assert record["number"] == raw["number"] and record["result"] == raw["result"]
    started = datetime.fromisoformat(record["started_at"].replace("Z", "+00:00"))
    assert started == datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=raw["timestamp"])
    finished = datetime.fromisoformat(record["finished_at"].replace("Z", "+00:00"))
    assert finished - started == timedelta(milliseconds=raw["duration"])
    assert record["duration_ms"] == raw["duration"] and not record["building"]
    assert [a["relative_path"] for a in record["artifacts"]] == [a["relativePath"] for a in raw["artifacts"]]
    assert all(a["api_path"] == f"/job/fish/{raw['number']}/artifact/{a['relative_path']}" for a in record["artifacts"])
    text = json.dumps(record)
    for person in {c["fullName"] for c in raw.get("culprits") or []} | {"anonymous"}:
        assert person not in text
    assert "culprits" not in record and "authorEmail" not in text


def test_a_recorded_git_build_keeps_the_commits_of_its_change_set(realdata):
    raw = _recording(realdata, "build-info-git-commit.json")
    record = build_record("fish", raw)
    assert record["change_commit_ids"] == [item["commitId"] for item in raw["changeSets"][0]["items"]]
    # the recording's change set dates its commit in words: the same moment as the epoch-ms timestamp
    said = datetime.strptime(raw["changeSets"][0]["items"][0]["date"], "%Y-%m-%d %H:%M:%S GMT").replace(tzinfo=timezone.utc)
    assert abs(datetime.fromisoformat(record["started_at"].replace("Z", "+00:00")) - said) < timedelta(seconds=1)
    # no BuildData action in this recording: the built revision is unknown, not guessed
    assert record["commit_sha"] is None and record["checkouts"] == []
    assert record["coverage_api"] is None  # no Coverage plugin action


def test_a_running_build_has_no_end_duration_or_coverage_read():
    record = build_record("team/job", {
        "number": 7, "building": True, "result": None, "timestamp": 1_700_000_000_000, "duration": 0,
        "actions": [{"_class": "io.jenkins.plugins.coverage.metrics.steps.CoverageBuildAction"}]})
    assert (record["finished_at"], record["duration_ms"], record["coverage_api"]) == (None, None, None)


def test_coverage_numbers_parse_as_the_plugin_renders_them():
    record = coverage_record("team/job", {"projectStatistics": {"line": "83,51%", "branch": "70.00%", "loc": "12,345"},
                                          "qualityGates": {"overallResult": "SUCCESS"}})
    assert (record["line_percent"], record["branch_percent"], record["loc"]) == (83.51, 70.0, 12345)
    assert record["quality_gate"] == "SUCCESS"
    assert coverage_record("team/job", {})["line_percent"] is None


def test_a_non_list_build_listing_is_an_error_not_silence():
    class Odd:
        def get_json(self, path, params=None):
            return {"allBuilds": {"number": 1}}

    stream = JENKINS_STREAMS["jenkins__builds"]
    with pytest.raises(ExtractError):
        list(stream.reader(Odd(), stream, stream.scope_variables("a/b"), None, timedelta(hours=72)))
