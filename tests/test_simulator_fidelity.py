"""Fidelity: the simulator's payloads carry every top-level field real services send.

Real records come from the recorded corpus (KPI_REALDATA_DIR, default `<project>/../shared/realdata`):
PyGithub ReplayData exchanges and octokit webhook payloads for GitHub, cdancy/jenkins-rest bodies
for Jenkins, xanzy/go-gitlab bodies for GitLab. For each kind of record, every top-level key of
every real record must be present in ours with a compatible JSON type: numbers match numbers
(int or float), and ours may be null only where a real record has null for that key too (or where
the key is listed in `NULLABLE` with the documentation that makes it nullable). A real null says
nothing about the type, so any of our types is accepted there. Fields we leave out on purpose are
listed in `EXCLUDED` with the reason; everything else is a simulator bug.

The module is skipped, with the path it looked at, when the corpus is absent.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from simulator.github_api import ApiRequest, GitHubApi
from simulator.gitlab import GitLabApi
from simulator.jenkins import JenkinsApi
from simulator.simulation import Simulation, build_simulation

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REALDATA = Path(os.environ.get("KPI_REALDATA_DIR", PROJECT_ROOT.parent / "shared" / "realdata"))
REPLAY = REALDATA / "github-api" / "PyGithub__PyGithub" / "tests" / "ReplayData"
WEBHOOKS = REALDATA / "github-api" / "octokit__webhooks" / "payload-examples" / "api.github.com"
JENKINS = REALDATA / "ci" / "cdancy__jenkins-rest" / "src" / "test" / "resources"
GITLAB = REALDATA / "ci" / "xanzy__go-gitlab" / "testdata"

if not REALDATA.is_dir():
    pytest.skip(f"real-data corpus not found at {REALDATA} (set KPI_REALDATA_DIR to its path)",
                allow_module_level=True)

ANCHOR = datetime(2026, 11, 23, tzinfo=UTC)
TOKEN = "fidelity"

# Real fields the simulator leaves out on purpose, per kind, with the reason.
EXCLUDED: dict[str, dict[str, str]] = {
    "pull_request": {
        # Only in the single-PR GET (`pull-request`) and webhooks; the list endpoint the extractors
        # use returns `pull-request-simple`, which has none of these. Serving them would be unfaithful.
        **{key: "full pull-request only; the simulator serves the list shape (pull-request-simple)"
           for key in ("merged", "mergeable", "mergeable_state", "rebaseable", "merged_by", "comments",
                       "review_comments", "maintainer_can_modify", "commits", "additions", "deletions",
                       "changed_files")},
    },
    "workflow_run": {},
    "deployment": {},
    "deployment_status": {},
    "workflow_job": {},
    "release": {"discussion_url": "GitHub sends it only for releases with a linked discussion; none have one"},
    "issue": {
        "pull_request": "only on pull-request items of /issues; issue_json adds it to those (ours here are real issues)",
        "draft": "only on pull-request items of /issues; issue_json adds it to those",
        "repository": "only in the cross-repository GET /issues (authenticated user); repository /issues omits it",
    },
    "milestone": {},
    "code_scanning_alert": {},
    "dependabot_alert": {},
    "jenkins_build": {
        "changeSet": "AbstractBuild's (freestyle) export; a Pipeline WorkflowRun is a RunWithSCM and exports "
                     "`changeSets` (plural), which we serve",
    },
    "jenkins_job": {
        **{key: "AbstractProject (freestyle) export; a Pipeline WorkflowJob has no such property"
           for key in ("downstreamProjects", "upstreamProjects", "scm")},
    },
    "gitlab_merge_request": {
        # Single-MR GET extras (MergeRequestEntity 'detailed'): the list endpoint has none of them
        # and the simulator serves MRs from the list only.
        **{key: "single merge-request GET only; the simulator serves the list shape"
           for key in ("changes_count", "diff_refs", "first_contribution", "first_deployed_to_production_at",
                       "head_pipeline", "latest_build_finished_at", "latest_build_started_at", "merge_error",
                       "pipeline", "subscribed", "user")},
    },
    "gitlab_pipeline": {},
    "gitlab_pipeline_basic": {},
}

# Keys ours may send as null although no real record in the corpus has null there.
NULLABLE: dict[str, dict[str, str]] = {
    "pull_request": {
        "body": "GitHub: pull-request-simple.body is nullable (PRs without a description)",
        "closed_at": "null while the PR is open", "merged_at": "null unless merged",
        "merge_commit_sha": "null before GitHub computed a test merge",
    },
    "workflow_run": {"conclusion": "null while queued or in progress"},
    "deployment": {},
    "deployment_status": {},
    "workflow_job": {},
    "release": {},
    "issue": {"assignee": "GitHub: issue.assignee is nullable (unassigned issues)"},
    "milestone": {"closed_at": "null while the milestone is open"},
    "code_scanning_alert": {},
    "dependabot_alert": {},
    "jenkins_build": {"result": "null while building", "executor": "null once finished"},
    "jenkins_job": {"queueItem": "Jenkins exports the Queue.Item only while the job waits in the queue"},
    "gitlab_merge_request": {"approvals_before_merge": "GitLab: null unless set on the MR (deprecated field)"},
    "gitlab_pipeline": {"coverage": "GitLab: null when no job reported coverage (failed early, or running)",
                        "duration": "GitLab: null while the pipeline runs", "finished_at": "null while running"},
    "gitlab_pipeline_basic": {},
}


# -- reading the corpus ----------------------------------------------------------------


def replay_bodies(name: str) -> list[tuple[str, Any]]:
    """(path, JSON body) of each 200 exchange in a PyGithub ReplayData file (11-line records, body on line 10)."""
    path = REPLAY / name
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").split("\n")
    found = []
    for start in range(0, len(lines) - 9, 11):
        record = lines[start:start + 10]
        if record[1] == "GET" and record[7] == "200" and record[9].strip():
            found.append((record[4].split("?", 1)[0], json.loads(record[9])))
    return found


def webhook_objects(event: str, key: str) -> list[dict]:
    folder = WEBHOOKS / event
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.json")):
        payload = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(payload.get(key), dict):
            found.append(payload[key])
    return found


def json_file(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def flatten(bodies: Iterable[Any], list_key: str | None = None) -> list[dict]:
    records = []
    for body in bodies:
        if list_key and isinstance(body, dict) and list_key in body:
            body = body[list_key]
        records += [item for item in (body if isinstance(body, list) else [body]) if isinstance(item, dict)]
    return records


def real_pull_requests() -> list[dict]:
    bodies = [body for name in ("Commit.testGetPulls.txt", "PullRequest.setUp.txt", "Issue131.testGetPullWithOrgHeadUser.txt")
              for path, body in replay_bodies(name) if "/pull" in path]
    return flatten(bodies) + webhook_objects("pull_request", "pull_request")


def real_workflow_runs() -> list[dict]:
    bodies = [body for name in ("Repository.testGetWorkflowRuns.txt", "WorkflowRun.setUp.txt",
                                "Workflow.testGetRunsWithNoArguments.txt")
              for path, body in replay_bodies(name) if "/runs" in path]
    return flatten(bodies, "workflow_runs") + webhook_objects("workflow_run", "workflow_run")


def real_deployments() -> list[dict]:
    bodies = [body for name in ("Repository.testGetDeployments.txt", "Deployment.setUp.txt")
              for path, body in replay_bodies(name) if "/deployments" in path and "/statuses" not in path]
    return flatten(bodies) + webhook_objects("deployment", "deployment")


def real_deployment_statuses() -> list[dict]:
    bodies = [body for path, body in replay_bodies("DeploymentStatus.setUp.txt") if "/statuses" in path]
    return flatten(bodies) + webhook_objects("deployment_status", "deployment_status")


def real_workflow_jobs() -> list[dict]:
    bodies = [body for name in ("Repository.testGetWorkflowJob.txt", "WorkflowJob.testAttributes.txt")
              for path, body in replay_bodies(name) if "/jobs" in path]
    return flatten(bodies, "jobs") + webhook_objects("workflow_job", "workflow_job")


def real_releases() -> list[dict]:
    bodies = [body for name in ("GitRelease.setUp.txt", "GitRelease.testGetLatestRelease.txt")
              for path, body in replay_bodies(name) if "/releases" in path]
    return flatten(bodies) + webhook_objects("release", "release")


def real_issues() -> list[dict]:
    bodies = [body for name in ("Issue.setUp.txt", "AuthenticatedUser.testGetIssues.txt")
              for path, body in replay_bodies(name) if "/issues" in path and "/comments" not in path]
    return flatten(bodies) + webhook_objects("issues", "issue")


def real_milestones() -> list[dict]:
    return flatten(body for path, body in replay_bodies("Milestone.setUp.txt") if "/milestones" in path)


def real_code_scanning_alerts() -> list[dict]:
    return flatten(body for name in ("CodeScanAlert.testMultipleAlerts.txt", "CodeScanAlert.testAttributes.txt")
                   for path, body in replay_bodies(name) if "/code-scanning/alerts" in path)


def real_dependabot_alerts() -> list[dict]:
    return flatten(body for name in ("DependabotAlert.testAttributes.txt",
                                     "DependabotAlert.testGetAlertsWithAllArguments.txt")
                   for path, body in replay_bodies(name) if "/dependabot/alerts" in path)


def real_jenkins_builds() -> list[dict]:
    return [body for name in ("build-info.json", "build-info-git-commit.json", "build-info-no-params.json")
            if isinstance(body := json_file(JENKINS / name), dict)]


def real_jenkins_jobs() -> list[dict]:
    return [body for body in [json_file(JENKINS / "job-info.json")] if isinstance(body, dict)]


def real_gitlab_merge_requests() -> list[dict]:
    bodies = [json_file(GITLAB / name) for name in ("get_merge_requests.json", "get_merge_request.json",
                                                    "get_merge_requests_author_username.json")]
    return flatten(body for body in bodies if body is not None)


def real_gitlab_pipelines() -> list[dict]:
    """The detailed pipeline entity, as embedded in a single MR (`head_pipeline`)."""
    body = json_file(GITLAB / "get_merge_request.json") or {}
    return [body["head_pipeline"]] if isinstance(body.get("head_pipeline"), dict) else []


def real_gitlab_pipelines_basic() -> list[dict]:
    """The basic pipeline entity (list items): a single MR's `pipeline`, a commit's `last_pipeline`."""
    found = []
    for name, key in (("get_merge_request.json", "pipeline"), ("get_commit.json", "last_pipeline")):
        body = json_file(GITLAB / name) or {}
        if isinstance(body.get(key), dict):
            found.append(body[key])
    return found


# -- our records -------------------------------------------------------------------------


@cache
def simulation() -> Simulation:
    sim = build_simulation("small", seed=11, anchor=ANCHOR)
    return sim


def github(path: str, **params: str) -> Any:
    api = GitHubApi(simulation().org, token=TOKEN, rate_limit=10**9)
    response = api.handle(ApiRequest("GET", path, list(params.items()) + [("per_page", "100")],
                                     {"authorization": f"Bearer {TOKEN}"}, "http://sim"))
    assert response.status == 200, (path, response.body[:200])
    return json.loads(response.body)


def jenkins(path: str, **params: str) -> Any:
    api = JenkinsApi(simulation().jenkins, user="sim", token=TOKEN)
    auth = "Basic " + base64.b64encode(f"sim:{TOKEN}".encode()).decode()
    response = api.handle(ApiRequest("GET", path, list(params.items()), {"authorization": auth}, "http://sim"))
    assert response.status == 200, (path, response.body[:200])
    return json.loads(response.body)


def gitlab(path: str, **params: str) -> Any:
    api = GitLabApi(simulation().gitlab, token=TOKEN)
    response = api.handle(ApiRequest("GET", f"/api/v4{path}", list(params.items()) + [("per_page", "100")],
                                     {"private-token": TOKEN}, "http://sim"))
    assert response.status == 200, (path, response.body[:200])
    return json.loads(response.body)


def ours_pull_requests() -> list[dict]:
    return [pr for repo in simulation().org.repositories
            for pr in github(f"/repos/{repo.full_name}/pulls", state="all")]


def ours_workflow_runs() -> list[dict]:
    return [run for repo in simulation().org.repositories
            for run in github(f"/repos/{repo.full_name}/actions/runs")["workflow_runs"]]


def ours_deployments() -> list[dict]:
    return [d for repo in simulation().org.repositories for d in github(f"/repos/{repo.full_name}/deployments")]


def ours_deployment_statuses() -> list[dict]:
    org = simulation().org
    return [status for repo in org.repositories for d in org.deployments[repo.full_name][-10:]
            for status in github(f"/repos/{repo.full_name}/deployments/{d.id}/statuses")]


def ours_workflow_jobs() -> list[dict]:
    org = simulation().org
    return [job for repo in org.repositories for run in org.workflow_runs[repo.full_name][-10:]
            for job in github(f"/repos/{repo.full_name}/actions/runs/{run.id}/jobs")["jobs"]]


def ours_releases() -> list[dict]:
    return [r for repo in simulation().org.repositories for r in github(f"/repos/{repo.full_name}/releases")]


def ours_issues() -> list[dict]:
    return [i for repo in simulation().org.repositories
            for i in github(f"/repos/{repo.full_name}/issues", state="all") if "pull_request" not in i]


def ours_milestones() -> list[dict]:
    return [m for repo in simulation().org.repositories
            for m in github(f"/repos/{repo.full_name}/milestones", state="all")]


def ours_code_scanning_alerts() -> list[dict]:
    return [a for repo in simulation().org.repositories
            for a in github(f"/repos/{repo.full_name}/code-scanning/alerts")]


def ours_dependabot_alerts() -> list[dict]:
    return [a for repo in simulation().org.repositories
            for a in github(f"/repos/{repo.full_name}/dependabot/alerts")]


def _jobs():
    return simulation().jenkins.all_jobs()


def ours_jenkins_builds() -> list[dict]:
    return [jenkins(f"/job/{job.folder}/job/{job.name}/{build.number}/api/json")
            for job in _jobs() for build in job.builds[-15:]]


def ours_jenkins_jobs() -> list[dict]:
    return [jenkins(f"/job/{job.folder}/job/{job.name}/api/json") for job in _jobs()]


def ours_gitlab_merge_requests() -> list[dict]:
    return [mr for project in simulation().gitlab.projects
            for mr in gitlab(f"/projects/{project.id}/merge_requests", state="all")]


def ours_gitlab_pipelines() -> list[dict]:
    return [gitlab(f"/projects/{project.id}/pipelines/{pipeline['id']}")
            for project in simulation().gitlab.projects
            for pipeline in gitlab(f"/projects/{project.id}/pipelines")]


def ours_gitlab_pipelines_basic() -> list[dict]:
    return [p for project in simulation().gitlab.projects for p in gitlab(f"/projects/{project.id}/pipelines")]


KINDS: dict[str, tuple[Callable[[], list[dict]], Callable[[], list[dict]]]] = {
    "pull_request": (real_pull_requests, ours_pull_requests),
    "workflow_run": (real_workflow_runs, ours_workflow_runs),
    "deployment": (real_deployments, ours_deployments),
    "deployment_status": (real_deployment_statuses, ours_deployment_statuses),
    "workflow_job": (real_workflow_jobs, ours_workflow_jobs),
    "release": (real_releases, ours_releases),
    "issue": (real_issues, ours_issues),
    "milestone": (real_milestones, ours_milestones),
    "code_scanning_alert": (real_code_scanning_alerts, ours_code_scanning_alerts),
    "dependabot_alert": (real_dependabot_alerts, ours_dependabot_alerts),
    "jenkins_build": (real_jenkins_builds, ours_jenkins_builds),
    "jenkins_job": (real_jenkins_jobs, ours_jenkins_jobs),
    "gitlab_merge_request": (real_gitlab_merge_requests, ours_gitlab_merge_requests),
    "gitlab_pipeline": (real_gitlab_pipelines, ours_gitlab_pipelines),
    "gitlab_pipeline_basic": (real_gitlab_pipelines_basic, ours_gitlab_pipelines_basic),
}


# -- comparison ------------------------------------------------------------------------


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def types_by_key(records: list[dict]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for record in records:
        for key, value in record.items():
            found.setdefault(key, set()).add(json_type(value))
    return found


def problems(kind: str, real: list[dict], ours: list[dict]) -> list[str]:
    real_types, our_types = types_by_key(real), types_by_key(ours)
    excluded, nullable = EXCLUDED[kind], NULLABLE[kind]
    found = []
    for key, seen in sorted(real_types.items()):
        if key in excluded or key.startswith("_class"):
            continue
        if key not in our_types:
            found.append(f"{kind}: missing {key!r} (real: {sorted(seen)})")
            continue
        missing_in_some = sum(1 for record in ours if key not in record)
        if missing_in_some:
            found.append(f"{kind}: {key!r} absent from {missing_in_some} of {len(ours)} records")
        real_non_null = seen - {"null"}
        ours_non_null = our_types[key] - {"null"}
        if real_non_null and not ours_non_null <= real_non_null:
            found.append(f"{kind}: {key!r} is {sorted(ours_non_null)} in ours, {sorted(real_non_null)} in real")
        if "null" in our_types[key] and "null" not in seen and key not in nullable:
            found.append(f"{kind}: {key!r} is null in some of ours, never in real")
    return found


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_our_records_cover_every_real_top_level_field(kind: str) -> None:
    read_real, read_ours = KINDS[kind]
    real = read_real()
    if not real:
        pytest.skip(f"no real {kind} records in the corpus at {REALDATA}")
    ours = read_ours()
    assert ours, f"the simulation produced no {kind} records"
    assert problems(kind, real, ours) == []


def test_exclusions_name_fields_that_real_records_actually_have() -> None:
    """Keep the exclusion lists honest: an excluded field must occur in some real record."""
    for kind, excluded in EXCLUDED.items():
        real_keys = set(types_by_key(KINDS[kind][0]()))
        if real_keys:
            stale = set(excluded) - real_keys
            assert not stale, f"{kind}: excluded but absent from every real record: {sorted(stale)}"


def test_pull_request_items_of_issue_listings_carry_the_pull_request_only_fields() -> None:
    repo = simulation().org.repositories[0]
    items = github(f"/repos/{repo.full_name}/issues", state="all")
    pulls = [item for item in items if "pull_request" in item]
    assert pulls and all(isinstance(item["draft"], bool) for item in pulls)
    assert all("draft" not in item for item in items if "pull_request" not in item)
