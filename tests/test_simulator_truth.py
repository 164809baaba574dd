"""Ground truth of every KPI in config/kpi_catalogue.yaml, checked against numbers computed by hand.

Each KPI gets a hand-built tiny model (dataclasses constructed directly) covering its tricky
cases, plus a smoke test of structural invariants on the generated `small` simulation.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

import simulator.truth as truth
from kpi.catalogue import load_catalogue
from simulator.generator import generate_org
from simulator.gitlab import GitLabSite
from simulator.jenkins import JenkinsBuild, JenkinsFolder, JenkinsJob, JenkinsSite
from simulator.jira import ChangeItem, History, JiraIssue, JiraProject, JiraSite, JiraVersion
from simulator.model import (
    Commit,
    Deployment,
    DeploymentStatus,
    Issue,
    Milestone,
    Org,
    PullRequest,
    Repository,
    SecurityAlert,
    Team,
    WorkflowRun,
)
from simulator.simulation import Simulation, build_simulation
from simulator.truth import deployment_frequency, production_deployments, week_start


def at(day: int, hour: int = 10, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def deployment(id: int, repo: str, environment: str, created: datetime, *states: tuple[str, datetime]) -> Deployment:
    statuses = [DeploymentStatus(id=id * 10 + i, state=state, created_at=when) for i, (state, when) in enumerate(states)]
    return Deployment(id=id, repo=repo, sha="a" * 40, ref="main", environment=environment, created_at=created,
                      updated_at=max([created] + [when for _, when in states]), creator="bot", statuses=statuses)


def tiny_org() -> Org:
    """Two teams; weeks of 2026-03-02, 03-09 (no deployments: gap) and 03-16."""
    repos = [
        Repository(id=1, owner="tiny", name="api", full_name="tiny/api", team="alpha", default_branch="main",
                   created_at=at(1, month=1)),
        Repository(id=2, owner="tiny", name="web", full_name="tiny/web", team="beta", default_branch="main",
                   created_at=at(1, month=1)),
    ]
    api_deployments = [
        # Monday 2 March: success after queued/in_progress
        deployment(1, "tiny/api", "production", at(2), ("queued", at(2, 10)), ("in_progress", at(2, 11)),
                   ("success", at(2, 12))),
        # Wednesday 4 March: failure
        deployment(2, "tiny/api", "production", at(4), ("in_progress", at(4, 11)), ("failure", at(4, 12))),
        # Sunday 8 March, 23:00 UTC: still the week of 2 March; error
        deployment(3, "tiny/api", "production", at(8, 23), ("error", at(8, 23))),
        # Staging never counts
        deployment(4, "tiny/api", "staging", at(10), ("success", at(10, 11))),
        # Monday 16 March: still in progress => pending (counted, neither successful nor failed)
        deployment(5, "tiny/api", "production", at(16), ("queued", at(16, 10)), ("in_progress", at(16, 11))),
    ]
    web_deployments = [
        # Same timestamp for two statuses: the higher id wins
        deployment(6, "tiny/web", "production", at(3), ("failure", at(3, 12)), ("success", at(3, 12))),
        # Statuses listed out of order: the latest by created_at wins
        deployment(7, "tiny/web", "production", at(17), ("success", at(17, 12)), ("queued", at(17, 11))),
        # No status at all => pending
        deployment(8, "tiny/web", "production", at(18)),
        deployment(9, "tiny/web", "preview-42", at(18), ("success", at(18, 11))),
    ]
    return Org(
        login="tiny",
        teams=[Team("alpha", ["ann-alpha"], ["api"]), Team("beta", ["bo-beta"], ["web"])],
        repositories=repos,
        pull_requests={"tiny/api": [], "tiny/web": []},
        deployments={"tiny/api": api_deployments, "tiny/web": web_deployments},
        anchor=at(20),
        seed=0,
        scale="tiny",
    )


def row(team: str, week: date, deployments: int, successful: int, failed: int) -> dict:
    return {"team": team, "week_start": week, "deployments": deployments,
            "successful_deployments": successful, "failed_deployments": failed}


def test_deployment_frequency_matches_hand_computed_rows_with_zero_filled_gap_week() -> None:
    rows = deployment_frequency(tiny_org())
    assert rows == [
        row("alpha", date(2026, 3, 2), 3, 1, 2),
        row("alpha", date(2026, 3, 9), 0, 0, 0),
        row("alpha", date(2026, 3, 16), 1, 0, 0),
        row("beta", date(2026, 3, 2), 1, 1, 0),
        row("beta", date(2026, 3, 9), 0, 0, 0),
        row("beta", date(2026, 3, 16), 2, 1, 0),
    ]


def test_production_environments_are_configurable() -> None:
    rows = deployment_frequency(tiny_org(), production_environments=("production", "staging"))
    alpha_gap_week = next(r for r in rows if r["team"] == "alpha" and r["week_start"] == date(2026, 3, 9))
    assert alpha_gap_week == row("alpha", date(2026, 3, 9), 1, 1, 0)


def test_production_deployments_lists_each_deployment_with_its_result() -> None:
    results = {(r["repo"], r["id"]): (r["team"], r["result"]) for r in production_deployments(tiny_org())}
    assert results == {
        ("tiny/api", 1): ("alpha", "successful"), ("tiny/api", 2): ("alpha", "failed"),
        ("tiny/api", 3): ("alpha", "failed"), ("tiny/api", 5): ("alpha", "pending"),
        ("tiny/web", 6): ("beta", "successful"), ("tiny/web", 7): ("beta", "successful"),
        ("tiny/web", 8): ("beta", "pending"),
    }


def test_week_start_is_the_iso_monday_in_utc() -> None:
    assert week_start(datetime(2026, 3, 8, 23, 59, tzinfo=UTC)) == date(2026, 3, 2)
    assert week_start(datetime(2026, 3, 9, 0, 0, tzinfo=UTC)) == date(2026, 3, 9)
    assert week_start(datetime(2021, 1, 3, 12, tzinfo=UTC)) == date(2020, 12, 28)  # ISO week 53


def test_no_production_deployments_gives_no_rows() -> None:
    org = tiny_org()
    assert deployment_frequency(org, production_environments=("nowhere",)) == []


def test_generated_org_truth_covers_every_team_and_week() -> None:
    org = generate_org("small", seed=3, anchor=datetime(2026, 11, 26, tzinfo=UTC))
    rows = deployment_frequency(org)
    teams = sorted({r["team"] for r in rows})
    weeks = sorted({r["week_start"] for r in rows})
    assert teams == ["growth", "payments", "platform"]
    assert len(rows) == len(teams) * len(weeks)
    assert rows == sorted(rows, key=lambda r: (r["team"], r["week_start"]))
    production = [d for d in org.all_deployments() if d.environment == "production"]
    assert sum(r["deployments"] for r in rows) == len(production)
    assert all(r["successful_deployments"] + r["failed_deployments"] <= r["deployments"] for r in rows)


# ======================================================================================
# The other KPIs of config/kpi_catalogue.yaml: hand-built models, values worked out by hand.
# ======================================================================================



def t(day: int, hour: int = 10, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def sha(n: int) -> str:
    return f"{n:040x}"


def prod(id: int, repo: str, commit: int, created: datetime, result: str | None, minutes: int = 10,
         environment: str = "production") -> Deployment:
    """A deployment of commit `commit` whose final status (`result`) comes `minutes` after creation."""
    statuses = [DeploymentStatus(id=id * 10, state="queued", created_at=created + timedelta(seconds=5))]
    if result is not None:
        statuses.append(DeploymentStatus(id=id * 10 + 1, state=result, created_at=created + timedelta(minutes=minutes)))
    return Deployment(id=id, repo=repo, sha=sha(commit), ref="main", environment=environment, created_at=created,
                      updated_at=statuses[-1].created_at, creator="bot", statuses=statuses)


def repo(name: str, team: str, commit_times: list[datetime] | None = None) -> Repository:
    commits = [Commit(sha=sha(index), committed_at=moment, author="dev") for index, moment in
               enumerate(commit_times or [])]
    return Repository(id=hash(name) % 1000, owner="tiny", name=name, full_name=f"tiny/{name}", team=team,
                      default_branch="main", created_at=t(1, month=1), commits=commits)


def org_of(repos: list[Repository], anchor: datetime = t(20), **collections) -> Org:
    teams: dict[str, list[str]] = defaultdict(list)
    for r in repos:
        teams[r.team].append(r.name)
    return Org(login="tiny", teams=[Team(name, [f"dev-{name}"], names) for name, names in sorted(teams.items())],
               repositories=repos, pull_requests=collections.pop("pull_requests", {}),
               deployments=collections.pop("deployments", {}), anchor=anchor, seed=0, scale="tiny", **collections)


def merged_pr(repo_name: str, number: int, merge_commit: int, first_commit: datetime, merged: datetime) -> PullRequest:
    return PullRequest(id=number, number=number, repo=f"tiny/{repo_name}", title=f"PR {number}", user="dev",
                       state="closed", created_at=first_commit + timedelta(hours=1), updated_at=merged,
                       closed_at=merged, merged_at=merged, merge_commit_sha=sha(merge_commit),
                       commits=[Commit(sha=sha(1000 + number), committed_at=first_commit, author="dev"),
                                Commit(sha=sha(2000 + number), committed_at=first_commit + timedelta(hours=2),
                                       author="dev")])


def jira_site(issues: list[JiraIssue] = (), versions: list[JiraVersion] = (), anchor: datetime = t(20)) -> JiraSite:
    projects = [JiraProject(id=1, key="ALP", name="Alpha", team="alpha", lead="dev"),
                JiraProject(id=2, key="BET", name="Beta", team="beta", lead="dev")]
    teams = [Team("alpha", ["dev-alpha"], []), Team("beta", ["dev-beta"], [])]
    return JiraSite(teams=teams, projects=projects, versions=list(versions), issues=list(issues), users={},
                    anchor=anchor, seed=0, days=30)


def simulation(org: Org, jira: JiraSite | None = None, jenkins: JenkinsSite | None = None) -> Simulation:
    return Simulation(org=org, jira=jira or jira_site(anchor=org.anchor),
                      jenkins=jenkins or JenkinsSite(folders=[], anchor=org.anchor, seed=0, days=30, unbuilt=[]),
                      gitlab=GitLabSite(group_id=1, group_path="tiny", projects=[], anchor=org.anchor, seed=0, days=30))


def jira_issue(id: int, key: str, issue_type: str, created: datetime, moves: list[tuple[datetime, str, str]],
               severity: str | None = None, environment: str | None = None, deleted_at: datetime | None = None
               ) -> JiraIssue:
    project = key.split("-")[0]
    histories = [History(id=id * 100 + index, author="dev", created=when,
                         items=[ChangeItem("status", None, source, None, target)])
                 for index, (when, source, target) in enumerate(moves)]
    status = moves[-1][2] if moves else "To Do"
    done = status in ("Done", "Won't Do")
    return JiraIssue(id=id, key=key, project_key=project, issue_type=issue_type, summary=key, status=status,
                     priority="High", labels=[], created=created, updated=moves[-1][0] if moves else created,
                     reporter="dev", assignee=None, resolution=status if done else None,
                     resolution_date=moves[-1][0] if done else None, team={"ALP": "alpha", "BET": "beta"}[project],
                     severity=severity, environment=environment, histories=histories, deleted_at=deleted_at)


# -- lead time for changes -------------------------------------------------------------


def lead_time_org() -> Org:
    #            c0         c1 (PR1)  c2 (PR2)     c3 direct  c4 (PR3)  c5 direct  c6 (PR4)
    api = repo("api", "alpha", [t(1, month=2), t(2, 10), t(2, 15), t(3, 9), t(4, 9), t(9, 9), t(11, 9)])
    prs = [
        merged_pr("api", 1, 1, first_commit=t(1, 8), merged=t(2, 10)),
        merged_pr("api", 2, 2, first_commit=t(2, 9), merged=t(2, 15)),
        merged_pr("api", 3, 4, first_commit=t(3, 12), merged=t(4, 9)),
        merged_pr("api", 4, 6, first_commit=t(10, 9), merged=t(11, 9)),  # after the last deployment
        PullRequest(id=5, number=5, repo="tiny/api", title="closed", user="dev", state="closed",
                    created_at=t(3), updated_at=t(4), closed_at=t(4), merge_commit_sha=sha(999)),
    ]
    deployments = [
        prod(1, "tiny/api", 2, t(3, 10), "success", minutes=30),   # range c0..c2: PR1, PR2
        prod(2, "tiny/api", 4, t(4, 10), "failure"),               # failed: no range
        prod(3, "tiny/api", 1, t(4, 12), "success"),               # rollback to c1: empty range
        prod(4, "tiny/api", 5, t(10, 10), "success", minutes=30),  # range c2..c5, c2 already shipped: PR3
        prod(5, "tiny/api", 6, t(12, 10), "success", environment="staging"),
    ]
    return org_of([api], pull_requests={"tiny/api": prs}, deployments={"tiny/api": deployments})


def test_lead_time_maps_each_pr_to_the_first_successful_deployment_whose_range_contains_it() -> None:
    by_number = {row["number"]: row for row in truth.lead_time_pull_requests(lead_time_org())}
    assert set(by_number) == {1, 2, 3, 4}  # the unmerged PR is not a change
    assert {n: by_number[n]["deployment_id"] for n in by_number} == {1: 1, 2: 1, 3: 4, 4: None}
    assert by_number[1]["lead_time_hours"] == 50.5  # Mar 1 08:00 -> Mar 3 10:30
    assert by_number[2]["lead_time_hours"] == 25.5  # Mar 2 09:00 -> Mar 3 10:30
    assert by_number[3]["lead_time_hours"] == 166.5  # Mar 3 12:00 -> Mar 10 10:30
    assert by_number[4]["lead_time_hours"] is None


def test_lead_time_median_per_team_and_deployment_week_with_undeployed_counted_apart() -> None:
    assert truth.lead_time_for_changes(lead_time_org()) == [
        {"team": "alpha", "week_start": date(2026, 3, 2), "deployed_pull_requests": 2,
         "median_lead_time_hours": 38.0, "not_deployed_pull_requests": 0},
        {"team": "alpha", "week_start": date(2026, 3, 9), "deployed_pull_requests": 1,
         "median_lead_time_hours": 166.5, "not_deployed_pull_requests": 1},
    ]


def test_lead_time_counts_staging_when_configured_as_production() -> None:
    by_number = {row["number"]: row["deployment_id"]
                 for row in truth.lead_time_pull_requests(lead_time_org(), ("production", "staging"))}
    assert by_number[4] == 5


# -- change failure rate ---------------------------------------------------------------


def incident(repo_name: str, number: int, opened: datetime, closed: datetime | None = None) -> Issue:
    return Issue(id=number, number=number, repo=f"tiny/{repo_name}", title="Incident", user="dev",
                 state="closed" if closed else "open", created_at=opened, updated_at=closed or opened,
                 closed_at=closed, labels=["incident"])


def cfr_org() -> Org:
    api = repo("api", "alpha", [t(1, month=2), t(1), t(2), t(3), t(4)])
    web = repo("web", "beta", [t(1, month=2)])
    api_deployments = [
        prod(11, "tiny/api", 1, t(2, 10), "success"),           # A1, finished Mar 2 10:10
        prod(12, "tiny/api", 2, t(3, 10), "success"),           # A2, finished Mar 3 10:10
        prod(13, "tiny/api", 3, t(3, 12), "failure"),           # A3 failed: never blamed
        prod(14, "tiny/api", 3, t(5, 10), "success"),           # A4
        prod(15, "tiny/api", 2, t(5, 14), "success"),           # A5: rollback of A4 (older commit)
        prod(16, "tiny/api", 4, t(10, 10), "success"),          # A6
    ]
    issues = [
        incident("api", 101, t(3, 13)),         # after A2 (and the failed A3): A2
        incident("api", 102, t(3, 10, 5)),      # A2 created before but finished after: A1 (23h55 before)
        incident("api", 103, t(7, 12)),         # 45h50 after A5: outside 24 h, unattributed
        Issue(id=104, number=104, repo="tiny/api", title="Bug", user="dev", state="open", created_at=t(3, 11),
              updated_at=t(3, 11), labels=["bug"]),
    ]
    return org_of([api, web], deployments={"tiny/api": api_deployments,
                                           "tiny/web": [prod(21, "tiny/web", 0, t(4), "success")]},
                  issues={"tiny/api": issues})


def test_incidents_attribute_to_the_latest_deployment_finished_before_them_within_the_window() -> None:
    rows = truth.incident_attributions(cfr_org())
    assert [(row["number"], row["deployment_id"]) for row in rows] == [(102, 11), (101, 12), (103, None)]
    assert rows[0]["hours_after_deployment"] == pytest.approx(23 + 55 / 60)


def test_a_successful_deployment_followed_by_an_older_commit_is_rolled_back() -> None:
    assert truth.rolled_back_deployments(cfr_org()) == {14}


def test_change_failure_rate_rows_are_zero_filled_with_numerator_and_denominator() -> None:
    def row(team, week, successful, incident, rolled, failed, rate, attributed):
        return {"team": team, "week_start": week, "successful_deployments": successful,
                "deployments_with_incident": incident, "rolled_back_deployments": rolled, "failed_changes": failed,
                "change_failure_rate": rate, "attributed_incidents": attributed}
    assert truth.change_failure_rate(cfr_org()) == [
        row("alpha", date(2026, 3, 2), 4, 2, 1, 3, 0.75, 2),
        row("alpha", date(2026, 3, 9), 1, 0, 0, 0, 0.0, 0),
        row("beta", date(2026, 3, 2), 1, 0, 0, 0, 0.0, 0),
        row("beta", date(2026, 3, 9), 0, 0, 0, 0, None, 0),
    ]


def test_a_wider_attribution_window_reaches_the_older_deployment() -> None:
    rows = truth.change_failure_rate(cfr_org(), attribution_window=timedelta(hours=48))
    assert (rows[0]["failed_changes"], rows[0]["change_failure_rate"], rows[0]["attributed_incidents"]) == (4, 1.0, 3)


def test_change_failure_rate_denominator_is_deployment_frequency() -> None:
    org = cfr_org()
    assert [r["successful_deployments"] for r in truth.change_failure_rate(org)] == \
        [r["successful_deployments"] for r in deployment_frequency(org)]


# -- failed deployment recovery time ---------------------------------------------------


def recovery_sim() -> Simulation:
    api = repo("api", "alpha", [t(1, month=2)])
    deployments = [
        prod(31, "tiny/api", 0, t(2, 10), "failure"),            # F1 failed 10:10
        prod(32, "tiny/api", 0, t(2, 9), "success", minutes=160),  # created earlier, finished 11:40: recovers F1
        prod(33, "tiny/api", 0, t(8, 23), "error", minutes=30),  # F2 Sunday 23:30: week of Mar 2
        prod(34, "tiny/api", 0, t(9, 8), "success", minutes=30),  # recovers F2 at Mar 9 08:30
        prod(35, "tiny/api", 0, t(12, 10), "failure", minutes=5),  # F3: never recovered
        prod(36, "tiny/api", 0, t(12, 11), None),                # pending: neither failure nor recovery
    ]
    issues = [incident("api", 201, t(3, 10), closed=t(3, 14)), incident("api", 202, t(10, 10))]
    jira = jira_site([
        jira_issue(1, "ALP-1", "Incident", t(4, 9),
                   [(t(4, 10), "To Do", "In Progress"), (t(4, 15), "In Progress", "Done")]),
        jira_issue(2, "ALP-2", "Bug", t(4, 9), [(t(4, 10), "To Do", "Done")], severity="S1", environment="production"),
        jira_issue(3, "ALP-3", "Incident", t(4, 9), [], deleted_at=t(5)),
    ])
    org = org_of([api], deployments={"tiny/api": deployments}, issues={"tiny/api": issues})
    return simulation(org, jira)


def test_recovery_events_cover_failed_deployments_and_both_kinds_of_incident() -> None:
    events = [(e["kind"], e["reference"], e["recovery_hours"]) for e in truth.recovery_events(recovery_sim())]
    assert events == [
        ("failed_deployment", "31", 1.5),
        ("github_incident", "tiny/api#201", 4.0),
        ("jira_incident", "ALP-1", 6.0),
        ("failed_deployment", "33", 9.0),
        ("github_incident", "tiny/api#202", None),
        ("failed_deployment", "35", None),
    ]


def test_recovery_time_median_per_team_and_week_of_the_failure() -> None:
    assert truth.recovery_time(recovery_sim()) == [
        {"team": "alpha", "week_start": date(2026, 3, 2), "failures": 4, "failed_deployments": 2,
         "github_incidents": 1, "jira_incidents": 1, "recovered": 4, "unrecovered": 0, "median_recovery_hours": 5.0},
        {"team": "alpha", "week_start": date(2026, 3, 9), "failures": 2, "failed_deployments": 1,
         "github_incidents": 1, "jira_incidents": 0, "recovered": 0, "unrecovered": 2, "median_recovery_hours": None},
    ]


def test_kpis_reading_jira_need_the_whole_simulation() -> None:
    with pytest.raises(TypeError):
        truth.recovery_time(recovery_sim().org)


# -- release delay ---------------------------------------------------------------------


def release_sim() -> Simulation:
    def version(id: int, planned: date, actual: date | None) -> JiraVersion:
        return JiraVersion(id=id, project_key="ALP", name=f"alp-{id}", planned_release_date=planned,
                           released=actual is not None, actual_release_date=actual)
    versions = [
        version(1, date(2026, 3, 2), date(2026, 3, 5)),    # late 3
        version(2, date(2026, 3, 9), date(2026, 3, 7)),    # early -2
        version(3, date(2026, 3, 12), date(2026, 3, 12)),  # on time 0
        version(4, date(2026, 3, 13), None),               # unreleased, past due: 20 - 13 = 7
        version(5, date(2026, 3, 27), None),               # future
        version(6, date(2026, 3, 20), None),               # due today: not passed yet
    ]

    def milestone(number: int, due: datetime | None, closed: datetime | None) -> Milestone:
        return Milestone(number=number, repo="tiny/web", title=f"Sprint {number}",
                         state="closed" if closed else "open", created_at=t(1), updated_at=closed or t(1),
                         due_on=due, closed_at=closed, creator="dev")
    milestones = [milestone(1, t(6, 0), t(7, 15)), milestone(2, t(16, 0), None), milestone(3, None, None),
                  milestone(4, t(30, 0), None)]
    org = org_of([repo("web", "beta")], milestones={"tiny/web": milestones})
    return simulation(org, jira_site(versions=versions))


def test_release_delays_one_row_per_planned_release() -> None:
    rows = [(r["team"], r["release_key"], r["delay_days"], r["on_time"], r["status"])
            for r in truth.release_delays(release_sim())]
    assert rows == [
        ("alpha", "jira:1", 3, False, "late"),
        ("alpha", "jira:2", -2, True, "early"),
        ("alpha", "jira:3", 0, True, "on_time"),
        ("alpha", "jira:4", 7, False, "overdue"),
        ("alpha", "jira:6", None, None, "scheduled"),
        ("alpha", "jira:5", None, None, "scheduled"),
        ("beta", "github:tiny/web#1", 1, False, "late"),
        ("beta", "github:tiny/web#2", 4, False, "overdue"),
        ("beta", "github:tiny/web#4", None, None, "scheduled"),
    ]


def test_release_delay_as_of_date_moves_overdue_delays() -> None:
    rows = {r["release_key"]: r for r in truth.release_delays(release_sim(), as_of=date(2026, 3, 25))}
    assert (rows["jira:4"]["delay_days"], rows["jira:6"]["status"], rows["jira:6"]["delay_days"]) == (12, "overdue", 5)


def test_release_delay_team_value_over_a_period() -> None:
    summary = truth.release_delay_summary(truth.release_delays(release_sim()), date(2026, 3, 1), date(2026, 3, 21))
    assert summary == [
        {"team": "alpha", "releases_due": 4, "on_time_releases": 2, "on_time_share": 0.5, "mean_delay_days": 2.0},
        {"team": "beta", "releases_due": 2, "on_time_releases": 0, "on_time_share": 0.0, "mean_delay_days": 2.5},
    ]


# -- production bugs -------------------------------------------------------------------


def bugs_sim() -> Simulation:
    issues = [
        jira_issue(1, "ALP-1", "Bug", t(2, 9), [(t(3), "To Do", "In Progress"), (t(4), "In Progress", "Done"),
                                                (t(10, 9), "Done", "To Do"), (t(11, 9), "To Do", "Won't Do")],
                   severity="S2", environment="production"),
        jira_issue(2, "ALP-2", "Bug", t(5, 12), [], severity="S2", environment="production"),
        jira_issue(3, "ALP-3", "Bug", t(5, 12), [], severity="S2", environment="staging"),
        jira_issue(4, "ALP-4", "Story", t(5, 12), []),
        jira_issue(5, "ALP-5", "Bug", t(3), [], severity="S1", environment="production", deleted_at=t(6)),
        jira_issue(6, "BET-6", "Bug", t(10, 10), [(t(10, 14), "To Do", "Done")], severity="S3",
                   environment="production"),
    ]
    return simulation(org_of([repo("api", "alpha")]), jira_site(issues))


def test_production_bugs_flow_and_open_at_week_end() -> None:
    def row(team, week, severity, opened, resolved, reopened, open_, median):
        return {"team": team, "week_start": week, "severity": severity, "bugs_opened": opened,
                "bugs_resolved": resolved, "bugs_reopened": reopened, "open_at_week_end": open_,
                "median_hours_to_resolve": median}
    assert truth.production_bugs(bugs_sim()) == [
        row("alpha", date(2026, 3, 2), "S2", 2, 1, 0, 1, 49.0),
        row("alpha", date(2026, 3, 9), "S2", 0, 1, 1, 1, 216.0),
        row("alpha", date(2026, 3, 16), "S2", 0, 0, 0, 1, None),
        row("beta", date(2026, 3, 9), "S3", 1, 1, 0, 0, 4.0),
    ]


# -- CI reports: coverage, API documentation, code standards, performance --------------


def run(id: int, repo_name: str, created: datetime, conclusion: str = "success", event: str = "push",
        branch: str = "main") -> WorkflowRun:
    return WorkflowRun(id=id, repo=f"tiny/{repo_name}", run_number=id, event=event, head_branch=branch,
                       head_sha=sha(id), created_at=created, updated_at=created + timedelta(minutes=10),
                       status="completed", conclusion=conclusion, actor="dev")


def ci_org() -> Org:
    runs = {
        "tiny/api": [run(1, "api", t(3)), run(2, "api", t(4), conclusion="failure"),
                     run(3, "api", t(5), event="pull_request", branch="feature")],
        "tiny/lib": [run(4, "lib", t(6))],
        "tiny/web": [run(6, "web", t(10)), run(5, "web", t(11))],
    }
    return org_of([repo("api", "alpha"), repo("lib", "alpha"), repo("web", "beta")], workflow_runs=runs)


def facts_provider(table: dict[tuple[int, str], dict]):
    return lambda org, workflow_run, name: table.get((workflow_run.id, name))


def coverage(covered: int, valid: int) -> dict:
    return {"lines_covered": covered, "lines_valid": valid, "line_rate": covered / valid if valid else 0.0}


def jenkins_build(number: int, started: datetime, result: str, facts: dict | None) -> JenkinsBuild:
    return JenkinsBuild(number=number, result=result, started_at=started, duration_ms=60_000,
                        estimated_duration_ms=60_000, sha=sha(number), branch="main", cause="scm", queue_id=number,
                        coverage=SimpleNamespace(facts=facts) if facts else None)


def test_coverage_takes_the_latest_successful_default_branch_report_and_weights_the_team_by_lines() -> None:
    org = ci_org()
    jenkins = JenkinsSite(folders=[JenkinsFolder("alpha", [JenkinsJob("api", "alpha", "tiny/api", [
        jenkins_build(7, t(4, 12), "SUCCESS", coverage(60, 80)),   # latest successful run of api
        jenkins_build(8, t(5, 12), "UNSTABLE", coverage(10, 80)),  # tests failed: not successful
    ])])], anchor=org.anchor, seed=0, days=30, unbuilt=[])
    provider = facts_provider({
        (1, "coverage-report"): coverage(50, 100), (2, "coverage-report"): coverage(90, 100),
        (3, "coverage-report"): coverage(99, 100), (4, "coverage-report"): coverage(270, 400),
        (6, "coverage-report"): coverage(45, 50),  # run 5 is later but archived no report
    })
    rows = truth.test_coverage(simulation(org, jenkins=jenkins), artifact_facts=provider)
    picked = [(r["repo"], r["week_start"], r["source"], r["run_id"], r["line_coverage_percent"],
               r["team_line_coverage_percent"]) for r in rows]
    assert picked == [
        ("tiny/api", date(2026, 3, 2), "jenkins", 7, 75.0, 68.75),          # (60 + 270) / (80 + 400)
        ("tiny/lib", date(2026, 3, 2), "github_actions", 4, 67.5, 68.75),
        ("tiny/web", date(2026, 3, 9), "github_actions", 6, 90.0, 90.0),
    ]
    assert (rows[0]["team_lines_covered"], rows[0]["team_lines_valid"]) == (330, 480)


def test_api_documentation_coverage_uses_the_latest_default_branch_document_of_the_week() -> None:
    provider = facts_provider({
        (1, "openapi-spec"): {"operations": 10, "documented_operations": 4},
        (2, "openapi-spec"): {"operations": 10, "documented_operations": 6},  # failed run: document exists
        (3, "openapi-spec"): {"operations": 10, "documented_operations": 10},  # pull request: not default branch
        (6, "openapi-spec"): {"operations": 0, "documented_operations": 0},
    })
    rows = truth.api_documentation_coverage(ci_org(), artifact_facts=provider)
    assert [(r["repo"], r["run_id"], r["operations"], r["documented_operations"],
             r["documented_operations_percent"]) for r in rows] == [
        ("tiny/api", 2, 10, 6, 60.0), ("tiny/web", 6, 0, 0, None)]


def test_code_standard_findings_count_errors_and_warnings_of_the_latest_run_summed_per_team() -> None:
    provider = facts_provider({
        (1, "code-scanning-sarif"): {"by_level": {"error": 2, "warning": 1, "note": 5}},
        (2, "code-scanning-sarif"): {"by_level": {"error": 0, "warning": 3, "note": 0}},
        (4, "code-scanning-sarif"): {"by_level": {"error": 1, "warning": 0, "note": 9}},
    })
    rows = truth.code_standard_findings(ci_org(), artifact_facts=provider)
    assert [(r["repo"], r["run_id"], r["error_findings"], r["warning_findings"], r["findings"], r["team_findings"])
            for r in rows] == [("tiny/api", 2, 0, 3, 3, 4), ("tiny/lib", 4, 1, 0, 1, 4)]
    assert (rows[0]["team_error_findings"], rows[0]["team_warning_findings"]) == (1, 3)


def test_performance_takes_the_latest_p95_per_repository_and_the_team_maximum() -> None:
    provider = facts_provider({(1, "k6-summary"): {"p95_ms": 300.0}, (2, "k6-summary"): {"p95_ms": 120.5},
                               (4, "k6-summary"): {"p95_ms": 250.25}})
    rows = truth.performance(ci_org(), artifact_facts=provider)
    assert [(r["repo"], r["run_id"], r["p95_latency_ms"], r["team_max_p95_latency_ms"]) for r in rows] == [
        ("tiny/api", 2, 120.5, 250.25), ("tiny/lib", 4, 250.25, 250.25)]


# -- security alerts -------------------------------------------------------------------


def alert(kind: str, number: int, severity: str, created: datetime, fixed: datetime | None = None,
          dismissed: datetime | None = None) -> SecurityAlert:
    state = "fixed" if fixed else "dismissed" if dismissed else "open"
    return SecurityAlert(kind=kind, number=number, repo="tiny/api", created_at=created,
                         updated_at=fixed or dismissed or created, state=state, severity=severity, subject="x",
                         path="x", commit_sha=sha(0), fixed_at=fixed, dismissed_at=dismissed)


def test_security_alerts_open_at_week_end_and_days_to_fix_without_dismissals() -> None:
    alerts = [
        alert("code_scanning", 1, "error", t(2), fixed=t(5)),           # fixed after 3 days
        alert("code_scanning", 2, "error", t(3), dismissed=t(4)),       # dismissed: closed, not fixed
        alert("code_scanning", 3, "error", t(4)),                       # still open
        alert("dependabot", 1, "high", t(3, 0), fixed=t(10, 12)),       # fixed after 7.5 days, next week
        alert("code_scanning", 4, "error", t(9), fixed=t(10)),          # opened and fixed the same week
    ]
    org = org_of([repo("api", "alpha")], security_alerts={"tiny/api": alerts})

    def row(week, severity, open_, opened, fixed, dismissed, median):
        return {"team": "alpha", "repo": "tiny/api", "week_start": week, "severity": severity, "open_alerts": open_,
                "opened_alerts": opened, "fixed_alerts": fixed, "dismissed_alerts": dismissed,
                "median_days_to_fix": median}
    assert truth.security_alerts(org) == [
        row(date(2026, 3, 2), "error", 1, 3, 1, 1, 3.0),
        row(date(2026, 3, 2), "high", 1, 1, 0, 0, None),
        row(date(2026, 3, 9), "error", 1, 1, 1, 0, 1.0),
        row(date(2026, 3, 9), "high", 0, 0, 1, 0, 7.5),
        row(date(2026, 3, 16), "error", 1, 0, 0, 0, None),
    ]


# -- the generated simulation: structural invariants of every truth --------------------

SMOKE_ANCHOR = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def small_sim() -> Simulation:
    return build_simulation("small", 7, anchor=SMOKE_ANCHOR)


def assert_sorted(rows: list[dict], *keys: str) -> None:
    assert rows == sorted(rows, key=lambda row: tuple("" if row[k] is None else row[k] for k in keys))


def test_every_catalogue_truth_runs_on_the_whole_simulation(small_sim) -> None:
    for kpi in load_catalogue().kpis:
        rows = getattr(truth, kpi.truth)(small_sim)
        assert isinstance(rows, list), kpi.id
        assert all("team" in row for row in rows), kpi.id


def test_smoke_lead_time(small_sim) -> None:
    rows = truth.lead_time_for_changes(small_sim)
    org = small_sim.org
    merged = [pr for pr in org.all_pull_requests() if pr.merged_at is not None]
    assert sum(r["deployed_pull_requests"] + r["not_deployed_pull_requests"] for r in rows) == len(merged)
    assert all(r["median_lead_time_hours"] is None or r["median_lead_time_hours"] > 0 for r in rows)
    assert all((r["median_lead_time_hours"] is None) == (r["deployed_pull_requests"] == 0) for r in rows)
    assert {r["team"] for r in rows} == {"growth", "payments", "platform"}
    assert_sorted(rows, "team", "week_start")


def test_smoke_change_failure_rate(small_sim) -> None:
    rows = truth.change_failure_rate(small_sim)
    frequency = deployment_frequency(small_sim)
    assert [(r["team"], r["week_start"], r["successful_deployments"]) for r in rows] == \
        [(r["team"], r["week_start"], r["successful_deployments"]) for r in frequency]
    for r in rows:
        assert 0 <= r["failed_changes"] <= r["successful_deployments"]
        assert r["failed_changes"] <= r["deployments_with_incident"] + r["rolled_back_deployments"]
        assert r["change_failure_rate"] is None or 0.0 <= r["change_failure_rate"] <= 1.0
    assert sum(r["failed_changes"] for r in rows) > 0
    attributed = [a for a in truth.incident_attributions(small_sim) if a["deployment_id"] is not None]
    assert sum(r["attributed_incidents"] for r in rows) == len(attributed)
    assert all(0 < a["hours_after_deployment"] <= 24 for a in attributed)


def test_smoke_recovery_time(small_sim) -> None:
    rows = truth.recovery_time(small_sim)
    assert {r["team"] for r in rows} == {"growth", "payments", "platform"}
    for r in rows:
        assert r["failures"] == r["recovered"] + r["unrecovered"] > 0
        assert r["failures"] == r["failed_deployments"] + r["github_incidents"] + r["jira_incidents"]
        assert (r["median_recovery_hours"] is None) == (r["recovered"] == 0)
        assert r["median_recovery_hours"] is None or r["median_recovery_hours"] > 0
    assert_sorted(rows, "team", "week_start")


def test_smoke_release_delays(small_sim) -> None:
    rows = truth.release_delays(small_sim)
    today = SMOKE_ANCHOR.date()
    assert {r["team"] for r in rows} == {"growth", "payments", "platform"}
    assert {r["source"] for r in rows} == {"jira", "github"}
    for r in rows:
        if r["status"] == "scheduled":
            assert r["delay_days"] is None and r["planned_date"] >= today and not r["released"]
        else:
            assert r["on_time"] == (r["delay_days"] <= 0)
            assert r["status"] != "overdue" or (not r["released"] and r["delay_days"] > 0)
    for team in truth.release_delay_summary(rows, date(2025, 1, 1), date(2027, 1, 1)):
        assert 0.0 <= team["on_time_share"] <= 1.0 and team["releases_due"] > 0
    assert_sorted(rows, "team", "planned_date", "release_key")


def test_smoke_production_bugs_balance(small_sim) -> None:
    rows = truth.production_bugs(small_sim)
    assert {r["team"] for r in rows} == {"growth", "payments", "platform"}
    assert all(min(r["bugs_opened"], r["bugs_resolved"], r["bugs_reopened"], r["open_at_week_end"]) >= 0
               for r in rows)
    # Per team and severity: opened - resolved + reopened over all weeks = open at the end of the last week.
    last_week = max(r["week_start"] for r in rows)
    flow: dict[tuple, int] = defaultdict(int)
    still_open: dict[tuple, int] = defaultdict(int)
    for r in rows:
        flow[(r["team"], r["severity"])] += r["bugs_opened"] - r["bugs_resolved"] + r["bugs_reopened"]
        if r["week_start"] == last_week:
            still_open[(r["team"], r["severity"])] += r["open_at_week_end"]
    assert {k: v for k, v in flow.items() if v} == {k: v for k, v in still_open.items() if v}


def test_smoke_ci_report_kpis(small_sim) -> None:
    coverage_rows = truth.test_coverage(small_sim)
    assert {r["team"] for r in coverage_rows} == {"growth", "payments", "platform"}
    assert {r["source"] for r in coverage_rows} == {"github_actions", "jenkins"}
    for r in coverage_rows:
        assert 0 <= r["lines_covered"] <= r["lines_valid"]
        assert 0.0 <= r["line_coverage_percent"] <= 100.0 and 0.0 <= r["team_line_coverage_percent"] <= 100.0
        assert r["run_started_at"] < SMOKE_ANCHOR
    assert len({(r["repo"], r["week_start"]) for r in coverage_rows}) == len(coverage_rows)
    findings = truth.code_standard_findings(small_sim)
    assert findings and all(r["findings"] == r["error_findings"] + r["warning_findings"] >= 0 for r in findings)
    documentation = truth.api_documentation_coverage(small_sim)
    assert {r["team"] for r in documentation} == {"growth", "payments", "platform"}
    for r in documentation:
        assert 0 <= r["documented_operations"] <= r["operations"]
        assert r["documented_operations_percent"] == pytest.approx(100.0 * r["documented_operations"] / r["operations"])
    performance = truth.performance(small_sim)
    assert {r["team"] for r in performance} == {"growth", "payments", "platform"}
    for r in performance:
        assert 0 < r["p95_latency_ms"] <= r["team_max_p95_latency_ms"]


def test_smoke_security_alerts(small_sim) -> None:
    rows = truth.security_alerts(small_sim)
    org = small_sim.org
    assert {r["team"] for r in rows} == {"growth", "payments", "platform"}
    assert all(min(r["open_alerts"], r["opened_alerts"], r["fixed_alerts"], r["dismissed_alerts"]) >= 0 for r in rows)
    assert all((r["median_days_to_fix"] is None) == (r["fixed_alerts"] == 0) for r in rows)
    fixed = [a for alerts in org.security_alerts.values() for a in alerts if a.fixed_at is not None]
    assert sum(r["fixed_alerts"] for r in rows) == len(fixed)
    last_week = max(r["week_start"] for r in rows)
    still_open = [a for alerts in org.security_alerts.values() for a in alerts if a.state == "open"]
    assert sum(r["open_alerts"] for r in rows if r["week_start"] == last_week) == len(still_open)
    assert_sorted(rows, "team", "repo", "week_start", "severity")


def test_an_inactive_status_after_success_does_not_undo_the_success():
    """GitHub marks a superseded successful deployment `inactive` (non-production environments)."""
    from datetime import datetime, timedelta, timezone

    from simulator.model import Deployment, DeploymentStatus
    from simulator.truth_common import SUCCESSFUL, deployment_finished_at, deployment_result

    start = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)
    deployment = Deployment(id=1, repo="acme/api", sha="a" * 40, ref="main", environment="prod", created_at=start,
                            updated_at=start + timedelta(hours=3),
                            creator="ci", statuses=[
                                DeploymentStatus(id=10, state="in_progress", created_at=start),
                                DeploymentStatus(id=11, state="success", created_at=start + timedelta(minutes=5)),
                                DeploymentStatus(id=12, state="inactive", created_at=start + timedelta(hours=3))])
    assert deployment_result(deployment) == SUCCESSFUL
    assert deployment_finished_at(deployment) == start + timedelta(minutes=5)
