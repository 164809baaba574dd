"""extract_scope over the GitHub stream declarations, against a scripted server."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from extractors.errors import ExtractError
from extractors.extract import BatchManifest, extract_scope
from extractors.http import HttpClient
from extractors.streams.base import Stream
from extractors.streams.github import GITHUB_STREAMS
from tests.support.scripted_server import FakeClock, Scripted, ScriptedServer, link_header

PULLS = "/repos/acme/payments-api/pulls"
NOW = datetime(2024, 6, 10, 12, 0, tzinfo=timezone.utc)


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def pr(number: int, updated: datetime, **extra) -> dict:
    return {"id": 1000 + number, "number": number, "updated_at": iso(updated), "title": f"PR {number}",
            "body": "long text we do not keep", **extra}


@pytest.fixture
def server():
    with ScriptedServer() as srv:
        yield srv


@pytest.fixture
def client(server):
    clock = FakeClock()
    return HttpClient(server.base_url, "tok", sleep=clock.sleep, clock=clock.time)


def read_batch(manifest: BatchManifest) -> list[dict]:
    return [json.loads(line) for line in Path(manifest.path).read_text().splitlines()]


def script_pull_pages(server: ScriptedServer, pages: list[list[dict]]) -> None:
    """Pages newest first, chained with Link headers like GitHub does."""
    for index, records in enumerate(pages, start=1):
        path = PULLS if index == 1 else f"{PULLS}?page={index}"
        headers = link_header(server.base_url, next=f"{PULLS}?page={index + 1}") if index < len(pages) else {}
        server.add(path, Scripted(body=records, headers=headers))


def descending_pages(page_count: int, per_page: int, newest: datetime, step: timedelta) -> list[list[dict]]:
    pages, number = [], page_count * per_page
    for page in range(page_count):
        records = []
        for slot in range(per_page):
            offset = page * per_page + slot
            records.append(pr(number, newest - step * offset))
            number -= 1
        pages.append(records)
    return pages


def extract_pulls(client, tmp_path, watermark=None, **kwargs) -> BatchManifest:
    [manifest] = extract_scope(
        client, [GITHUB_STREAMS["github__pull_requests"]], "acme/payments-api",
        watermarks={"github__pull_requests": watermark}, run_id="r1", landing_dir=tmp_path,
        now=NOW, **kwargs,
    )
    return manifest


def test_sorted_desc_stops_paging_once_a_page_is_older_than_watermark_minus_overlap(server, client, tmp_path):
    # given 5 pages of 2 PRs, one day apart, newest 06-10; watermark 06-08, overlap 1 day
    script_pull_pages(server, descending_pages(5, 2, NOW, timedelta(days=1)))
    watermark = iso(NOW - timedelta(days=2))
    # when
    manifest = extract_pulls(client, tmp_path, watermark, overlap=timedelta(days=1))
    # then: bound is 06-07; page 1 (06-10, 06-09) and page 2 (06-08, 06-07) are kept,
    # page 3 (06-06, 06-05) is entirely older and ends the read; pages 4-5 never requested
    kept = [line["payload"]["updated_at"][:10] for line in read_batch(manifest)]
    assert kept == ["2024-06-10", "2024-06-09", "2024-06-08", "2024-06-07"]
    assert manifest.requests == 3 and client.request_count == 3
    assert manifest.previous_cursor == watermark
    assert manifest.new_cursor == "2024-06-10T12:00:00Z"
    assert server.requests_to(PULLS)[0].path == f"{PULLS}?state=all&sort=updated&direction=desc&per_page=100"


def test_full_refresh_ignores_watermark_and_reads_every_page(server, client, tmp_path):
    script_pull_pages(server, descending_pages(5, 2, NOW, timedelta(days=1)))
    manifest = extract_pulls(client, tmp_path, iso(NOW), overlap=timedelta(days=1), full_refresh=True)
    assert manifest.records == 10 and manifest.requests == 5
    assert manifest.new_cursor == "2024-06-10T12:00:00Z"


def test_first_run_without_watermark_reads_everything(server, client, tmp_path):
    script_pull_pages(server, descending_pages(3, 2, NOW, timedelta(days=30)))
    manifest = extract_pulls(client, tmp_path, None)
    assert manifest.records == 6 and manifest.requests == 3 and manifest.previous_cursor is None


def test_new_cursor_never_moves_below_previous(server, client, tmp_path):
    script_pull_pages(server, [[pr(1, NOW - timedelta(days=1))]])
    previous = iso(NOW)
    manifest = extract_pulls(client, tmp_path, previous)
    assert manifest.records == 1  # inside the default 72 h overlap
    assert manifest.new_cursor == previous


def test_record_moved_between_pages_lands_once_with_newest_version(server, client, tmp_path):
    # given PR 7 updated while we paged: its new version on page 1, its stale copy on page 2
    newer = pr(7, NOW, title="renamed")
    older = pr(7, NOW - timedelta(hours=5), title="original")
    script_pull_pages(server, [[newer, pr(6, NOW - timedelta(hours=1))], [older, pr(5, NOW - timedelta(hours=6))]])
    manifest = extract_pulls(client, tmp_path, None)
    lines = read_batch(manifest)
    assert sorted(line["record_key"] for line in lines) == ["1005", "1006", "1007"]
    assert manifest.records == 3
    assert next(l for l in lines if l["record_key"] == "1007")["payload"]["title"] == "renamed"


def test_pull_request_payload_is_projected_to_kept_fields(server, client, tmp_path):
    head = {"ref": "feature", "sha": "a" * 40, "label": "acme:feature", "repo": {"id": 9, "pushed_at": iso(NOW)}}
    script_pull_pages(server, [[pr(1, NOW, merged_at=None, user={"login": "ana", "avatar_url": "x"}, head=head)]])
    [line] = read_batch(extract_pulls(client, tmp_path, None))
    assert set(line["payload"]) == {"id", "number", "updated_at", "title", "merged_at", "user", "head"}
    assert line["payload"]["user"] == {"login": "ana"}  # avatar_url dropped
    # the repository object (its counters move on every push) is dropped; the branch facts stay
    assert line["payload"]["head"] == {"ref": "feature", "sha": "a" * 40, "label": "acme:feature"}
    assert line["scope"] == "acme/payments-api" and line["updated_at"] == iso(NOW)


def test_child_statuses_are_fetched_per_parent_deployment_and_attributed(server, client, tmp_path):
    deployments = [
        {"id": 2, "created_at": iso(NOW), "environment": "production"},
        {"id": 1, "created_at": iso(NOW - timedelta(hours=1)), "environment": "staging"},
    ]
    server.add("/repos/acme/payments-api/deployments", Scripted(body=deployments))
    server.add("/repos/acme/payments-api/deployments/2/statuses", Scripted(body=[
        {"id": 21, "state": "success", "updated_at": iso(NOW)},
        {"id": 20, "state": "in_progress", "updated_at": iso(NOW - timedelta(minutes=5))},
    ]))
    server.add("/repos/acme/payments-api/deployments/1/statuses", Scripted(body=[
        {"id": 10, "state": "failure", "updated_at": iso(NOW - timedelta(minutes=30))},
    ]))
    # child listed first on purpose: extract_scope must still run the parent first
    streams = [GITHUB_STREAMS["github__deployment_statuses"], GITHUB_STREAMS["github__deployments"]]
    manifests = extract_scope(client, streams, "acme/payments-api", watermarks={}, run_id="r1",
                              landing_dir=tmp_path, now=NOW)
    assert [m.stream for m in manifests] == ["github__deployments", "github__deployment_statuses"]
    statuses = {line["record_key"]: line["payload"]["deployment_id"] for line in read_batch(manifests[1])}
    assert statuses == {"21": 2, "20": 2, "10": 1}
    assert manifests[1].requests == 2
    assert manifests[1].new_cursor == iso(NOW)


def test_child_without_its_parent_is_rejected(client, tmp_path):
    with pytest.raises(ExtractError, match="github__deployments"):
        extract_scope(client, [GITHUB_STREAMS["github__deployment_statuses"]], "acme/payments-api",
                      watermarks={}, run_id="r1", landing_dir=tmp_path)


def test_org_stream_fills_org_placeholder_and_lands_under_scope_file(server, client, tmp_path):
    server.add("/orgs/acme/repos", Scripted(body=[{"id": 5, "name": "payments-api", "updated_at": iso(NOW)}]))
    [manifest] = extract_scope(client, [GITHUB_STREAMS["github__repositories"]], "acme",
                               watermarks={}, run_id="run-9", landing_dir=tmp_path, now=NOW)
    assert Path(manifest.path) == tmp_path / "run-9" / "github__repositories" / "acme.jsonl"
    assert server.received[0].path == REPOS_FIRST_PAGE


REPOS = "/orgs/acme/repos"
REPOS_FIRST_PAGE = f"{REPOS}?type=all&sort=updated&direction=desc&per_page=100"


def repo(number: int, updated: datetime) -> dict:
    return {"id": number, "full_name": f"acme/repo-{number:03d}", "updated_at": iso(updated)}


def extract_repositories(client, tmp_path, run_id, validators=None) -> BatchManifest:
    [manifest] = extract_scope(client, [GITHUB_STREAMS["github__repositories"]], "acme", watermarks={},
                               run_id=run_id, landing_dir=tmp_path, now=NOW, validators=validators)
    return manifest


def test_a_quiet_night_lists_an_organisation_of_several_pages_in_one_request(server, client, tmp_path):
    """The repository listing is read whole on a night it changed, newest update first, so
    an unchanged first page (304) proves the listing unchanged, however many pages it fills."""
    first_page = [repo(n, NOW - timedelta(hours=n)) for n in range(100)]
    second_page = [repo(n, NOW - timedelta(hours=n)) for n in range(100, 150)]
    server.add(REPOS_FIRST_PAGE,
               Scripted(body=first_page, headers={"ETag": '"v1"', **link_header(server.base_url, next=f"{REPOS}?page=2")}),
               Scripted(status=304, headers={"ETag": '"v1"'}))  # the re-check after paging, then the quiet night
    server.add(f"{REPOS}?page=2", Scripted(body=second_page))
    night = extract_repositories(client, tmp_path, "night-1")
    assert night.records == 150 and night.requests == 3  # two pages, then page 1 again: unchanged while paging
    assert night.etag == '"v1"' and night.etag_url.endswith(REPOS_FIRST_PAGE)

    quiet = extract_repositories(client, tmp_path, "night-2",
                                 validators={"github__repositories": {"etag": night.etag, "url": night.etag_url}})
    assert (quiet.requests, quiet.records, quiet.not_modified) == (1, 0, True)
    assert server.received[-1].path == REPOS_FIRST_PAGE and server.received[-1].headers.get("If-None-Match") == '"v1"'


def test_a_repository_updated_while_the_listing_pages_is_not_missed(server, client, tmp_path):
    """Sorted by update time, a repository updated between our reads of page 1 and page 2
    jumps to page 1, behind us: the first page is read again until it is unchanged."""
    first_page = [repo(n, NOW - timedelta(hours=n)) for n in range(100)]
    moved = repo(120, NOW + timedelta(minutes=5))  # was on page 2; updated while we paged
    second_page = [repo(n, NOW - timedelta(hours=n)) for n in range(100, 150) if n != 120]
    server.add(REPOS_FIRST_PAGE,
               Scripted(body=first_page, headers={"ETag": '"v1"', **link_header(server.base_url, next=f"{REPOS}?page=2")}),
               Scripted(body=[moved, *first_page[:99]], headers={"ETag": '"v2"'}),
               Scripted(status=304, headers={"ETag": '"v2"'}))
    server.add(f"{REPOS}?page=2", Scripted(body=second_page))
    night = extract_repositories(client, tmp_path, "night-1")
    names = {line["payload"]["full_name"] for line in read_batch(night)}
    assert names == {f"acme/repo-{n:03d}" for n in range(150)}
    assert night.etag == '"v2"' and night.requests == 4


def test_batch_and_manifest_are_written_atomically_and_round_trip(server, client, tmp_path):
    script_pull_pages(server, [[pr(1, NOW)]])
    manifest = extract_pulls(client, tmp_path, None)
    batch_dir = tmp_path / "r1" / "github__pull_requests"
    assert sorted(p.name for p in batch_dir.iterdir()) == [
        "acme__payments-api.jsonl", "acme__payments-api.manifest.json"]  # no temp files left
    assert BatchManifest.from_file(manifest.manifest_path) == manifest
    assert BatchManifest.from_file(manifest.path) == manifest
    assert manifest.complete and manifest.extracted_at == NOW.isoformat()


def test_wrong_scope_shape_is_rejected(client, tmp_path):
    with pytest.raises(ExtractError, match="owner/repo"):
        extract_scope(client, [GITHUB_STREAMS["github__pull_requests"]], "acme",
                      watermarks={}, run_id="r1", landing_dir=tmp_path)


def test_stream_declaration_is_validated_and_hashable():
    with pytest.raises(ValueError, match="cursor_field"):
        Stream(name="x__y", source="x", path="/y", primary_key=("id",), replication="sorted_desc")
    base = GITHUB_STREAMS["github__pull_requests"]
    assert replace(base, name="github__pulls_copy").params["state"] == "all"
    assert len({base, base}) == 1
