"""GitLab stream declarations: path safety, pagination (keyset, offset, X-Next-Page), and
real recorded bodies (xanzy/go-gitlab testdata) shaped by the same code the streams use."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import requests

from extractors.errors import PermissionDenied
from extractors.extract import extract_scope
from extractors.http import HttpClient
from extractors.pagination import PageRequest
from extractors.streams import gitlab
from extractors.streams.gitlab import (
    GITLAB_PROJECT_STREAMS,
    GITLAB_STREAMS,
    XNextPagePaginator,
    discover_gitlab_projects,
    release_record,
)
from simulator.simulation import Credentials, build_simulation

RECORDINGS = Path("ci/xanzy__go-gitlab/testdata")
BASE = "https://gitlab.example.com/api/v4"
HOSTILE_PATHS = ['acme/we"ird', "acme/it's", "acme/web app", "acme/a%2F..%2F..%2Fgroups", "acme/x?private=1#f",
                 "acme/sub group/web-app", "acme/ünïcode", "acme/back\\slash"]
REFUSED_PATHS = ["", "acme", "acme/", "/acme/web-app", "acme//web-app", "acme/..", "../acme", "acme/./web-app",
                 "acme/ web-app"]
PEOPLE = ("author", "assignee", "assignees", "reviewers", "merged_by", "merge_user", "closed_by", "user", "runner")


# -- a project path cannot leave its path segment -----------------------------------------


@pytest.mark.parametrize("full_path", HOSTILE_PATHS)
def test_a_project_path_is_one_encoded_segment_whatever_it_holds(full_path):
    for stream in GITLAB_PROJECT_STREAMS:
        variables = {"id": 1, "pipeline_id": 1, **stream.scope_variables(full_path)}
        url = requests.Request("GET", HttpClient(BASE, None).resolve(stream.path.format(**variables))).prepare().url
        parts = urlsplit(url)
        assert (parts.netloc, parts.query, parts.fragment) == ("gitlab.example.com", "", ""), stream.name
        segments = parts.path.split("/")
        assert segments[:4] == ["", "api", "v4", "projects"], stream.name
        assert unquote(segments[4]) == full_path, stream.name  # one segment, decoded once by GitLab


@pytest.mark.parametrize("full_path", REFUSED_PATHS)
def test_paths_gitlab_cannot_have_are_refused(full_path):
    with pytest.raises(ValueError):
        GITLAB_STREAMS["gitlab__pipelines"].scope_variables(full_path)


def test_a_group_path_with_subgroups_is_one_segment_too():
    assert GITLAB_STREAMS["gitlab__projects"].scope_variables("acme/mobile team") == {"group": "acme%2Fmobile%20team"}


@pytest.fixture(scope="module")
def server():
    simulation = build_simulation("small", anchor=datetime(2026, 11, 23, tzinfo=timezone.utc))
    credentials = Credentials()
    with simulation.server(credentials) as running:
        yield running, f"{running.url_for('/gitlab')}/api/v4", credentials.gitlab_token, simulation


def test_a_hostile_path_reaches_the_server_as_one_segment_and_finds_nothing(server, tmp_path):
    running, base, token, _ = server
    # `%2F..` inside a name: its `%` is encoded, so GitLab decodes the literal `acme%2F../web-app`.
    seen = running.faults.add("/gitlab/api/v4/projects/acme%252F..%2Fweb-app/pipelines", "delay", delay_seconds=0)
    real = running.faults.add("/gitlab/api/v4/projects/acme%2Fweb-app/*", "delay", delay_seconds=0)
    landed = extract_scope(HttpClient(base, token), GITLAB_PROJECT_STREAMS, "acme%2F../web-app", watermarks={},
                           run_id="hostile", landing_dir=tmp_path)
    assert seen.matched == 1 and real.matched == 0
    assert sum(manifest.records for manifest in landed) == 0  # every listing: 404 Project Not Found, skipped


# -- pagination ------------------------------------------------------------------------------


def test_keyset_pages_are_followed_through_link_headers(server, monkeypatch):
    running, base, token, simulation = server
    monkeypatch.setattr(gitlab, "PER_PAGE", 1)
    client = HttpClient(base, token)
    projects = discover_gitlab_projects(client, "acme")
    assert projects == sorted(project.path_with_namespace for project in simulation.gitlab.projects)
    assert client.request_count == len(projects)  # one project per keyset page; the last has no next link


def test_a_gitlab_refusing_keyset_is_listed_by_offset(server):
    running, base, token, simulation = server
    running.faults.add("/gitlab/api/v4/groups/acme/projects", "status", status=405, times=1)
    client = HttpClient(base, token)
    assert discover_gitlab_projects(client, "acme") == sorted(p.path_with_namespace for p in simulation.gitlab.projects)
    assert client.request_count == 2


def _response(url: str, headers: dict[str, str]) -> requests.Response:
    response = requests.Response()
    response.url, response.status_code = url, 200
    response.headers.update(headers)
    return response


def test_x_next_page_is_followed_when_a_proxy_dropped_the_link_header():
    # Headers as GitLab's REST API documentation describes offset pagination (the
    # recordings carry bodies only, no pagination headers).
    paginator = XNextPagePaginator()
    first = _response(f"{BASE}/projects/acme%2Fweb-app/pipelines?order_by=updated_at&per_page=100",
                      {"X-Page": "1", "X-Next-Page": "2", "X-Per-Page": "100"})
    following = paginator.next_request(PageRequest("/projects/acme%2Fweb-app/pipelines", {}), first, [])
    parts = urlsplit(following.url)
    assert parts.path == "/api/v4/projects/acme%2Fweb-app/pipelines"  # the encoded project stays encoded
    assert dict(parse_qsl(parts.query)) == {"order_by": "updated_at", "per_page": "100", "page": "2"}
    last = _response(following.url, {"X-Page": "2", "X-Next-Page": "", "X-Per-Page": "100"})
    assert paginator.next_request(following, last, []) is None


def test_a_link_header_wins_over_x_next_page():
    paginator = XNextPagePaginator()
    response = _response(f"{BASE}/groups/acme/projects?pagination=keyset",
                         {"Link": f'<{BASE}/groups/acme/projects?id_after=7&pagination=keyset>; rel="next"',
                          "X-Next-Page": ""})
    assert paginator.next_request(PageRequest("/groups/acme/projects"), response, []).url.endswith("id_after=7&pagination=keyset")


# -- real recorded bodies through the streams' own shaping ------------------------------------


def _recording(realdata: Path, name: str) -> Any:
    return json.loads((realdata / RECORDINGS / name).read_text(encoding="utf-8"))


def _people_in(raw: Any) -> set[str]:
    """Every username and name of the person objects a body carries."""
    found: set[str] = set()
    if isinstance(raw, dict):
        for key, value in raw.items():
            if key in PEOPLE:
                for person in value if isinstance(value, list) else [value]:
                    if isinstance(person, dict):
                        found |= {str(person[k]) for k in ("username", "name", "email") if person.get(k)}
            else:
                found |= _people_in(value)
    elif isinstance(raw, list):
        for item in raw:
            found |= _people_in(item)
    return found


@pytest.mark.parametrize("name", ["get_merge_requests.json", "get_merge_requests_author_username.json",
                                  "get_merge_requests_not_author_username.json", "get_merge_request.json"])
def test_recorded_merge_requests_keep_their_commits_and_dates_and_drop_every_person(realdata, name):
    body = _recording(realdata, name)
    stream = GITLAB_STREAMS["gitlab__merge_requests"]
    for raw in body if isinstance(body, list) else [body]:
        kept = stream.project(raw)
        for field in ("id", "iid", "state", "created_at", "updated_at", "merged_at", "target_branch", "sha",
                      "merge_commit_sha"):
            assert kept[field] == raw[field], field
        assert not set(PEOPLE) & set(kept)
        people = _people_in(raw)
        assert people, "the recording names people: the check must have something to find"
        text = json.dumps(kept)
        assert not {person for person in people if f'"{person}"' in text}
        if raw.get("milestone"):
            assert kept["milestone"] == {"id": raw["milestone"]["id"], "iid": raw["milestone"]["iid"]}


def test_recorded_pipeline_entries_shape_as_listed_pipelines(realdata):
    commit = _recording(realdata, "get_commit.json")
    merge_request = _recording(realdata, "get_merge_request.json")
    train = _recording(realdata, "list_merge_requests_in_merge_train.json")
    entries = [commit["last_pipeline"], merge_request["pipeline"], merge_request["head_pipeline"]]
    entries += [car["pipeline"] for car in train]
    stream = GITLAB_STREAMS["gitlab__pipelines"]
    for raw in entries:
        kept = stream.project(raw)
        assert {key: raw[key] for key in ("id", "sha", "ref", "status", "created_at", "updated_at")} == \
            {key: kept[key] for key in ("id", "sha", "ref", "status", "created_at", "updated_at")}
        assert set(kept) <= set(raw)
        assert stream.record_key(kept) == str(raw["id"])


def test_a_recorded_group_milestone_shapes_without_the_date_derived_flag(realdata):
    raw = _recording(realdata, "get_merge_request.json")["milestone"]
    kept = GITLAB_STREAMS["gitlab__milestones"].project(raw)
    assert (kept["id"], kept["group_id"], kept["due_date"], kept["start_date"]) == \
        (raw["id"], raw["group_id"], raw["due_date"], raw["start_date"])
    assert "expired" not in kept


def test_recorded_pipeline_builds_shape_as_jobs_without_users_or_runners(realdata):
    # The pipeline webhook's `builds` carry the REST job fields (id, stage, name, status,
    # times, durations) plus the user and runner a job list also sends.
    builds = _recording(realdata, "webhooks/pipeline.json")["builds"]
    stream = GITLAB_STREAMS["gitlab__pipeline_jobs"]
    for raw in builds:
        kept = stream.project(raw)
        assert {key: kept[key] for key in ("id", "stage", "name", "status", "started_at", "finished_at", "duration")} == \
            {key: raw[key] for key in ("id", "stage", "name", "status", "started_at", "finished_at", "duration")}
        assert "user" not in kept and "runner" not in kept


def test_release_shaping_keeps_the_tagged_commit_and_milestone_ids_only():
    # Shape of GET /projects/:id/releases as GitLab documents it (no REST release body
    # among the recordings; their release is a webhook with another shape).
    raw = {"tag_name": "v1.2.0", "name": "1.2", "created_at": "2024-05-01T10:00:00.000Z",
           "released_at": "2024-05-02T10:00:00.000Z", "upcoming_release": False,
           "author": {"id": 1, "username": "someone", "name": "Some One"},
           "commit": {"id": "a" * 40, "author_name": "Some One", "author_email": "one@example.com"},
           "milestones": [{"id": 51, "iid": 3, "title": "Sprint 3", "expired": True, "state": "closed"}]}
    record = release_record(raw)
    assert record["commit_sha"] == "a" * 40 and record["milestones"] == [{"id": 51, "iid": 3, "title": "Sprint 3"}]
    assert "Some One" not in json.dumps(record) and "someone" not in json.dumps(record)


def test_a_feature_switched_off_skips_its_listing_not_the_project(server, tmp_path):
    """GitLab answers 403 on /releases of a project whose releases are disabled: the project
    itself answers, so only that listing is skipped; a 403 on the project too is a failure."""
    running, base, token, _ = server
    running.faults.add("/gitlab/api/v4/projects/acme%2Fweb-app/releases", "status", status=403, times=1)
    landed = extract_scope(HttpClient(base, token), GITLAB_PROJECT_STREAMS, "acme/web-app", watermarks={},
                           run_id="feature-off", landing_dir=tmp_path)
    assert "gitlab__releases" not in {manifest.stream for manifest in landed}
    assert {"gitlab__pipelines", "gitlab__merge_requests"} <= {manifest.stream for manifest in landed}
    running.faults.add("/gitlab/api/v4/projects/acme%2Fweb-app/releases", "status", status=403, times=1)
    running.faults.add("/gitlab/api/v4/projects/acme%2Fweb-app", "status", status=403, times=1)
    with pytest.raises(PermissionDenied):
        extract_scope(HttpClient(base, token), GITLAB_PROJECT_STREAMS, "acme/web-app", watermarks={},
                      run_id="refused", landing_dir=tmp_path / "refused")
