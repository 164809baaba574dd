"""Jira extraction under the simulator's injected faults, over real HTTP: rate limits with
Retry-After, and a site that changes while a search is being paged."""

from __future__ import annotations

import logging

import pytest

from simulator.simulation import Credentials, build_simulation
from tests.test_jira_sync import ANCHOR, JiraSync, jira_client, model_issues, warehouse_issues

SEED = 17


@pytest.fixture(scope="module")
def site_server():
    """One site for the rate-limit tests (they do not change it); each test has its own warehouse."""
    simulation = build_simulation("small", seed=SEED, anchor=ANCHOR)
    credentials = Credentials()
    with simulation.server(credentials) as server:
        yield simulation, server, credentials
        server.faults.clear()


@pytest.mark.parametrize("flavour", ["cloud", "server"])
def test_429_with_retry_after_is_waited_out_and_the_sync_still_equals_the_model(site_server, flavour, tmp_path):
    simulation, server, credentials = site_server
    server.faults.clear()
    search = "/jira/rest/api/3/search/jql" if flavour == "cloud" else "/jira/rest/api/2/search"
    # Mid-listing pages of the search, and changelog pages, answer 429 Retry-After: 7 a few times.
    server.faults.add(search, "rate_limited", style="secondary", status=429, retry_after=7, after=2, times=3)
    server.faults.add("/jira/rest/api/*/issue/*/changelog", "rate_limited", style="secondary", status=429,
                      retry_after=7, times=1)
    waits: list[float] = []
    client = jira_client(server.url_for("jira"), flavour, credentials.jira_token, sleep=waits.append)
    sync = JiraSync(client, flavour, [project.key for project in simulation.jira.projects], tmp_path)

    report = sync.run("night-1")

    assert server.faults.stats()["fired"] == {"rate_limited": 4}
    assert waits == [7.0] * 4  # the server's Retry-After, not a guess
    assert warehouse_issues(sync.warehouse) == model_issues(simulation.jira)
    assert report.deleted == 0


def test_an_issue_deleted_before_its_changelog_is_read_is_skipped_not_the_stream(site_server, tmp_path):
    simulation, server, credentials = site_server
    server.faults.clear()
    server.faults.add("/jira/rest/api/3/issue/*/changelog", "status", status=404, times=1)
    client = jira_client(server.url_for("jira"), "cloud", credentials.jira_token)
    sync = JiraSync(client, "cloud", [project.key for project in simulation.jira.projects], tmp_path)
    sync.run("night-1")
    model, loaded = model_issues(simulation.jira), warehouse_issues(sync.warehouse)
    missing = model.keys() - loaded.keys()
    assert len(missing) == 1 and len(model[missing.pop()]["histories"]) > 100  # only the one with a paged changelog
    assert {issue_id: model[issue_id] for issue_id in loaded} == loaded


@pytest.mark.parametrize("flavour", ["cloud", "server"])
def test_a_site_changing_while_the_search_pages_loses_no_issue(flavour, tmp_path, caplog):
    # A day passes after the third search page: issues are created, edited, moved, deleted.
    # Cloud refuses the page token of a changed result and the search starts again; Server/DC
    # pages in windows of `updated`, which edits behind the window cannot shift.
    simulation = build_simulation("small", seed=SEED, anchor=ANCHOR)
    credentials = Credentials()
    with simulation.server(credentials) as server:
        search = "/jira/rest/api/3/search/jql" if flavour == "cloud" else "/jira/rest/api/2/search"
        server.faults.add(search, "mutate_while_paging", callback=lambda: simulation.advance(1), after=3, times=1)
        client = jira_client(server.url_for("jira"), flavour, credentials.jira_token)
        sync = JiraSync(client, flavour, [project.key for project in simulation.jira.projects], tmp_path)
        with caplog.at_level(logging.WARNING, logger="extractors.streams.jira"):
            sync.run("night-1", reconcile=False)
    assert server.faults.stats()["fired"] == {"mutate_while_paging": 1}
    if flavour == "cloud":
        assert any("page token refused" in record.getMessage() for record in caplog.records)
    model, loaded = model_issues(simulation.jira), warehouse_issues(sync.warehouse)
    assert {issue_id: loaded.get(issue_id) for issue_id in model} == model
    # Beyond the model: only issues read before they were deleted (a reconciliation marks them).
    assert all(simulation.jira.issues_by_id[int(issue_id)].deleted_at is not None
               for issue_id in loaded.keys() - model.keys())
