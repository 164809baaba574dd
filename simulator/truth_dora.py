"""Ground truth for the DORA keys beyond deployment frequency (re-exported by `simulator.truth`).

Lead time for changes, change failure rate and failed-deployment recovery time,
computed in plain Python from the model objects (never from API payloads or SQL).

Conventions shared with `deployment_frequency`:
  * production = a deployment whose environment is in `production_environments`;
  * a deployment's result is its latest status (success / failure|error / other);
  * a deployment *finished* at the time of its latest status when that status is
    final (success, failure, error);
  * "previous"/"next" deployment = order by (created_at, id) within one repository;
  * a deployment belongs to the ISO week (Monday, UTC) of its `created_at`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any, Iterable

from simulator.model import Deployment, PullRequest, Repository
from simulator.truth_common import (
    DEFAULT_PRODUCTION_ENVIRONMENTS,
    FAILED,
    SUCCESSFUL,
    deployment_finished_at,
    deployment_result,
    hours,
    median_or_none,
    org_of,
    production_deployments_by_repo,
    ratio_or_none,
    simulation_of,
    team_names,
    week_start,
    weeks_between,
)

DEFAULT_ATTRIBUTION_WINDOW = timedelta(hours=24)
# A repository's first successful production deployment ships only the commits of this
# window before it was created: older history predates deployment tracking, and letting
# the first deployment absorb years of it would report years-long lead times.
DEFAULT_FIRST_DEPLOYMENT_LOOKBACK = timedelta(days=30)


# -- lead time for changes ------------------------------------------------------------


def _first_commit_at(pr: PullRequest) -> datetime:
    """The earliest commit of the PR branch; a PR without recorded commits falls back to its creation."""
    return min((commit.committed_at for commit in pr.commits), default=pr.created_at)


def _deploying_deployment_by_position(repo: Repository, successful: list[Deployment],
                                     lookback: timedelta) -> tuple[dict[int, Deployment], int]:
    """History position -> the first successful production deployment whose range contains it,
    and the first position any deployment can own (older history predates tracking).

    A deployment's range is (position of the previous successful production
    deployment's commit, position of its own commit]; the first deployment has
    no previous one, so its range starts at the oldest commit dated within `lookback`
    before the deployment was created. A rollback (older commit than the previous one)
    has an empty range; a redeploy after it covers positions already taken by an earlier
    deployment, which keep that one.
    Until a repository's first deployment every position is tracked (its merges count as
    not deployed yet).
    """
    position = {commit.sha: index for index, commit in enumerate(repo.commits)}
    owner: dict[int, Deployment] = {}
    previous: int | None = None
    tracked_from = 0  # until a first deployment, every merge is waiting to be deployed
    for deployment in successful:
        current = position.get(deployment.sha)
        if current is None:  # not a commit of the default branch: it cannot bound a range
            continue
        if previous is None:
            horizon = deployment.created_at - lookback
            tracked_from = next((index for index in range(current + 1)
                                 if repo.commits[index].committed_at >= horizon), current + 1)
            start = tracked_from
        else:
            start = previous + 1
        for index in range(start, current + 1):
            owner.setdefault(index, deployment)
        previous = current if previous is None else max(previous, current)
    return owner, tracked_from


def lead_time_pull_requests(source: Any,
                            production_environments: Iterable[str] = DEFAULT_PRODUCTION_ENVIRONMENTS,
                            first_deployment_lookback: timedelta = DEFAULT_FIRST_DEPLOYMENT_LOOKBACK) -> list[dict]:
    """One row per pull request merged into its repository's default branch, with the deployment that shipped it.

    Columns: `team`, `repo`, `number`, `merged_at`, `merge_commit_sha`, `first_commit_at`,
    `deployment_id`, `deployment_created_at`, `deployed_at` (the deployment's success
    status time), `week_start` (week of the deployment's `created_at`), `lead_time_hours`
    (`deployed_at - first_commit_at`). Never-deployed PRs (merged after the last
    successful production deployment's commit, a repository that never deploys, or a
    merge commit missing from the history) have `deployment_id` None and
    `lead_time_hours` None. Pull requests whose merge commit is older than the first
    deployment's range (`first_deployment_lookback`) predate deployment tracking and are
    left out. Sorted by (repo, merged_at, number).
    """
    org = org_of(source)
    by_repo = production_deployments_by_repo(org, production_environments)
    rows = []
    for repo in org.repositories:
        successful = [d for d in by_repo[repo.full_name] if deployment_result(d) == SUCCESSFUL]
        owner, tracked_from = _deploying_deployment_by_position(repo, successful, first_deployment_lookback)
        position = {commit.sha: index for index, commit in enumerate(repo.commits)}
        team = org.team_of(repo.full_name)
        for pr in org.pull_requests.get(repo.full_name, []):
            if pr.merged_at is None or pr.base_ref != repo.default_branch:
                continue
            index = position.get(pr.merge_commit_sha) if pr.merge_commit_sha else None
            if index is not None and index < tracked_from:
                continue
            deployment = owner.get(index) if index is not None else None
            first = _first_commit_at(pr)
            deployed_at = deployment_finished_at(deployment) if deployment is not None else None
            rows.append({
                "team": team, "repo": repo.full_name, "number": pr.number, "merged_at": pr.merged_at,
                "merge_commit_sha": pr.merge_commit_sha, "first_commit_at": first,
                "deployment_id": deployment.id if deployment is not None else None,
                "deployment_created_at": deployment.created_at if deployment is not None else None,
                "deployed_at": deployed_at,
                "week_start": week_start(deployment.created_at) if deployment is not None else None,
                "lead_time_hours": hours(deployed_at - first) if deployed_at is not None else None,
            })
    return sorted(rows, key=lambda row: (row["repo"], row["merged_at"], row["number"]))


def lead_time_for_changes(source: Any,
                          production_environments: Iterable[str] = DEFAULT_PRODUCTION_ENVIRONMENTS,
                          first_deployment_lookback: timedelta = DEFAULT_FIRST_DEPLOYMENT_LOOKBACK) -> list[dict]:
    """Median lead time for changes per team and week of the deploying deployment.

    `source`: the Simulation or its GitHub `Org` (only GitHub is read).
    Per-PR attribution as in `lead_time_pull_requests`. One row per (team, week) in
    which at least one PR was deployed or at least one never-deployed PR was merged:
      * `deployed_pull_requests`: PRs whose deploying deployment was created that week;
      * `median_lead_time_hours`: median of their `lead_time_hours` (None if none);
      * `not_deployed_pull_requests`: PRs merged that week (week of `merged_at`) that
        no successful production deployment has shipped by the anchor — "counted apart".
    Sorted by (team, week_start).
    """
    deployed: dict[tuple[str, date], list[float]] = defaultdict(list)
    not_deployed: dict[tuple[str, date], int] = defaultdict(int)
    for row in lead_time_pull_requests(source, production_environments, first_deployment_lookback):
        if row["lead_time_hours"] is None:
            not_deployed[(row["team"], week_start(row["merged_at"]))] += 1
        else:
            deployed[(row["team"], row["week_start"])].append(row["lead_time_hours"])
    keys = sorted(set(deployed) | set(not_deployed))
    return [{
        "team": team, "week_start": week,
        "deployed_pull_requests": len(deployed.get((team, week), [])),
        "median_lead_time_hours": median_or_none(deployed.get((team, week), [])),
        "not_deployed_pull_requests": not_deployed.get((team, week), 0),
    } for team, week in keys]


# -- change failure rate --------------------------------------------------------------


def _successful_finished(deployments: list[Deployment]) -> list[tuple[datetime, Deployment]]:
    return sorted(((deployment_finished_at(d), d) for d in deployments if deployment_result(d) == SUCCESSFUL),
                  key=lambda item: (item[0], item[1].created_at, item[1].id))


def incident_attributions(source: Any, production_environments: Iterable[str] = DEFAULT_PRODUCTION_ENVIRONMENTS,
                          attribution_window: timedelta = DEFAULT_ATTRIBUTION_WINDOW) -> list[dict]:
    """One row per GitHub incident (issue labelled `incident`) with the deployment it is attributed to.

    The candidate is the latest successful production deployment of the incident's
    repository that *finished* (success status time) strictly before the incident was
    opened (`created_at`); it is attributed when `opened - finished <= attribution_window`,
    otherwise (or without a candidate) `deployment_id` is None (unattributed). A later
    deployment is never a candidate. The model's `caused_by_deployment` is deliberately
    ignored: the KPI attributes by time, as the warehouse can.
    Columns: `team`, `repo`, `number`, `opened_at`, `deployment_id`, `deployment_finished_at`,
    `hours_after_deployment`. Sorted by (opened_at, repo, number).
    """
    org = org_of(source)
    by_repo = production_deployments_by_repo(org, production_environments)
    finished = {repo: _successful_finished(deployments) for repo, deployments in by_repo.items()}
    rows = []
    for issue in org.all_issues():
        if "incident" not in issue.labels:
            continue
        before = [(at, d) for at, d in finished.get(issue.repo, []) if at < issue.created_at]
        candidate = before[-1] if before else None
        attributed = candidate is not None and issue.created_at - candidate[0] <= attribution_window
        rows.append({
            "team": org.team_of(issue.repo), "repo": issue.repo, "number": issue.number,
            "opened_at": issue.created_at,
            "deployment_id": candidate[1].id if attributed else None,
            "deployment_finished_at": candidate[0] if attributed else None,
            "hours_after_deployment": hours(issue.created_at - candidate[0]) if attributed else None,
        })
    return sorted(rows, key=lambda row: (row["opened_at"], row["repo"], row["number"]))


def rolled_back_deployments(source: Any,
                            production_environments: Iterable[str] = DEFAULT_PRODUCTION_ENVIRONMENTS) -> set[int]:
    """Ids of successful production deployments *followed by a rollback*.

    A successful production deployment is followed by a rollback when the next
    successful production deployment of the same repository (by created_at, id)
    deploys a commit that is older on the default branch than its own. Deployments
    of commits not on the default branch are skipped. (A redeploy of the same commit,
    e.g. the generator's rollback after a *failed* deployment, reverts nothing that
    was successfully deployed, so it marks no successful deployment.)
    """
    org = org_of(source)
    by_repo = production_deployments_by_repo(org, production_environments)
    marked: set[int] = set()
    for repo in org.repositories:
        position = {commit.sha: index for index, commit in enumerate(repo.commits)}
        previous: tuple[int, Deployment] | None = None
        for deployment in by_repo[repo.full_name]:
            if deployment_result(deployment) != SUCCESSFUL or deployment.sha not in position:
                continue
            current = position[deployment.sha]
            if previous is not None and current < previous[0]:
                marked.add(previous[1].id)
            previous = (current, deployment)
    return marked


def change_failure_rate(source: Any, production_environments: Iterable[str] = DEFAULT_PRODUCTION_ENVIRONMENTS,
                        attribution_window: timedelta = DEFAULT_ATTRIBUTION_WINDOW) -> list[dict]:
    """Change failure rate per team and week of the deployment's `created_at`.

    `source`: the Simulation or its GitHub `Org` (only GitHub deployments and issues are read).
    Rows: every team for every week between the first and the last week with a
    production deployment anywhere in the org (the `deployment_frequency` range), zero-filled:
      * `successful_deployments`: the denominator (= deployment_frequency's value);
      * `deployments_with_incident`: of those, with >= 1 incident attributed (see
        `incident_attributions`; `attribution_window` defaults to 24 hours, inclusive);
      * `rolled_back_deployments`: of those, followed by a rollback (`rolled_back_deployments`);
      * `failed_changes`: the numerator, deployments in either set (counted once);
      * `change_failure_rate`: failed_changes / successful_deployments, None when 0;
      * `attributed_incidents`: incidents attributed to that week's deployments.
    Sorted by (team, week_start).
    """
    org = org_of(source)
    by_repo = production_deployments_by_repo(org, production_environments)
    all_production = [d for deployments in by_repo.values() for d in deployments]
    if not all_production:
        return []
    incidents_by_deployment: dict[int, int] = defaultdict(int)
    for row in incident_attributions(org, production_environments, attribution_window):
        if row["deployment_id"] is not None:
            incidents_by_deployment[row["deployment_id"]] += 1
    rolled_back = rolled_back_deployments(org, production_environments)
    counts: dict[tuple[str, date], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for repo, deployments in by_repo.items():
        team = org.team_of(repo)
        for deployment in deployments:
            if deployment_result(deployment) != SUCCESSFUL:
                continue
            bucket = counts[(team, week_start(deployment.created_at))]
            with_incident = incidents_by_deployment.get(deployment.id, 0) > 0
            bucket["successful_deployments"] += 1
            bucket["deployments_with_incident"] += with_incident
            bucket["rolled_back_deployments"] += deployment.id in rolled_back
            bucket["failed_changes"] += with_incident or deployment.id in rolled_back
            bucket["attributed_incidents"] += incidents_by_deployment.get(deployment.id, 0)
    weeks = [week_start(d.created_at) for d in all_production]
    rows = []
    for team in team_names(org):
        for week in weeks_between(min(weeks), max(weeks)):
            bucket = counts.get((team, week), {})
            successful = bucket.get("successful_deployments", 0)
            failed = bucket.get("failed_changes", 0)
            rows.append({
                "team": team, "week_start": week, "successful_deployments": successful,
                "deployments_with_incident": bucket.get("deployments_with_incident", 0),
                "rolled_back_deployments": bucket.get("rolled_back_deployments", 0),
                "failed_changes": failed, "change_failure_rate": ratio_or_none(failed, successful),
                "attributed_incidents": bucket.get("attributed_incidents", 0),
            })
    return rows


# -- failed deployment recovery time --------------------------------------------------


def recovery_events(source: Any,
                    production_environments: Iterable[str] = DEFAULT_PRODUCTION_ENVIRONMENTS) -> list[dict]:
    """One row per failure: failed production deployment, GitHub incident or Jira incident.

    * failed production deployment (result failed): starts when it failed (its final
      status time); recovers when the first successful production deployment of the
      same repository *finishes* after that moment (success status time);
    * GitHub incident (issue labelled `incident`): opened `created_at`, recovered at
      `closed_at`;
    * Jira incident (issue type `Incident`, not deleted at the anchor; team = its current
      project's team): `created`, recovered at `resolution_date` (the last move into a
      done-category status, i.e. Done or Won't Do, while it is still resolved) -- what
      Jira serves as `resolutiondate`; a moved incident is referenced by its current key.
      The warehouse leaves out issues its key listing marked deleted (`_deleted_at`).
    Unrecovered failures have `recovered_at` None. Columns: `team`, `kind`
    (`failed_deployment` / `github_incident` / `jira_incident`), `reference` (deployment
    id, `repo#number` or Jira key), `repo` (None for Jira), `started_at`, `recovered_at`,
    `week_start` (week of `started_at`), `recovery_hours`. Sorted by (started_at, kind, reference).
    """
    sim = simulation_of(source)
    org = sim.org
    rows = []

    def add(team: str, kind: str, reference: str, repo: str | None, started: datetime,
            recovered: datetime | None) -> None:
        rows.append({"team": team, "kind": kind, "reference": reference, "repo": repo, "started_at": started,
                     "recovered_at": recovered, "week_start": week_start(started),
                     "recovery_hours": hours(recovered - started) if recovered is not None else None})

    for repo, deployments in production_deployments_by_repo(org, production_environments).items():
        team = org.team_of(repo)
        successes = sorted(at for at, _ in _successful_finished(deployments))
        for deployment in deployments:
            if deployment_result(deployment) != FAILED:
                continue
            failed_at = deployment_finished_at(deployment)
            recovered = next((at for at in successes if at > failed_at), None)
            add(team, "failed_deployment", str(deployment.id), repo, failed_at, recovered)
    for issue in org.all_issues():
        if "incident" in issue.labels:
            add(org.team_of(issue.repo), "github_incident", f"{issue.repo}#{issue.number}", issue.repo,
                issue.created_at, issue.closed_at)
    for issue in sim.jira.select(["Incident"]):
        add(issue.team, "jira_incident", issue.key, None, issue.created, issue.resolution_date)
    return sorted(rows, key=lambda row: (row["started_at"], row["kind"], row["reference"]))


def recovery_time(source: Any, production_environments: Iterable[str] = DEFAULT_PRODUCTION_ENVIRONMENTS) -> list[dict]:
    """Median recovery hours per team and week of the failure (see `recovery_events`).

    `source`: the Simulation (GitHub and Jira are read). One row per (team, week) with
    at least one failure: `failures`, `failed_deployments`, `github_incidents`,
    `jira_incidents`, `recovered`, `unrecovered` (still failing at the anchor, excluded
    from the median), `median_recovery_hours` (None when nothing recovered).
    Sorted by (team, week_start).
    """
    groups: dict[tuple[str, date], list[dict]] = defaultdict(list)
    for row in recovery_events(source, production_environments):
        groups[(row["team"], row["week_start"])].append(row)
    result = []
    for (team, week), events in sorted(groups.items()):
        recovered = [e["recovery_hours"] for e in events if e["recovery_hours"] is not None]
        result.append({
            "team": team, "week_start": week, "failures": len(events),
            "failed_deployments": sum(e["kind"] == "failed_deployment" for e in events),
            "github_incidents": sum(e["kind"] == "github_incident" for e in events),
            "jira_incidents": sum(e["kind"] == "jira_incident" for e in events),
            "recovered": len(recovered), "unrecovered": len(events) - len(recovered),
            "median_recovery_hours": median_or_none(recovered),
        })
    return result
