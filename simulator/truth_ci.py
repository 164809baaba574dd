"""Ground truth for the KPIs read from CI reports (re-exported by `simulator.truth`).

Test coverage, API documentation coverage, code-standard findings and performance.
The numbers come from the *facts* the report generators (`simulator.ci_reports`)
return alongside the documents they render — the true values encoded in the
reports — never from parsing the documents or the API payloads.

Where reports live in the model:
  * GitHub Actions: a `WorkflowRun` archives artifacts (`github_api.run_artifacts`,
    facts from `github_api.artifact_files`): `coverage-report` (Cobertura) and
    `code-scanning-sarif`, `openapi-spec` (OpenAPI 3 JSON) and `benchmark-results` (k6
    summary); OpenAPI documents and benchmark results are looked up under the artifact
    names in `OPENAPI_ARTIFACTS` / `BENCHMARK_ARTIFACTS`.
  * Jenkins: SUCCESS/UNSTABLE builds archive one coverage report (`build.coverage.facts`).
  * GitLab: jobs only carry a log-parsed coverage percentage, no report (no line counts),
    so GitLab contributes no coverage report.

A run/build is on the default branch when its branch is the repository's default
branch (GitHub: `head_branch`, and not a `pull_request` event; Jenkins: `branch`). A run
belongs to the ISO week of its start (GitHub `created_at`, which the simulated API also
serves as `run_started_at`: its runs have one attempt; Jenkins `started_at`);
"latest" = the latest start (ties: source name, then run id). `artifact_facts` can be
swapped (tests hand-build facts, or hide artifacts the warehouse cannot have: GitHub
expires artifacts after 90 days and an expired one is never downloaded); it receives
(org, run, artifact name) and returns the facts or None when the run did not archive that
artifact.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable, Iterable, Mapping

from simulator.model import Org, Repository, WorkflowRun
from simulator.truth_common import org_of, ratio_or_none, simulation_of, week_start

ArtifactFacts = Callable[[Org, WorkflowRun, str], "Mapping[str, Any] | None"]

COVERAGE_ARTIFACTS = ("coverage-report",)
SARIF_ARTIFACTS = ("code-scanning-sarif",)
OPENAPI_ARTIFACTS = ("openapi", "openapi-spec", "openapi-document")
BENCHMARK_ARTIFACTS = ("benchmark", "benchmark-results", "k6-summary", "load-test")
GITHUB_ACTIONS = "github_actions"
JENKINS = "jenkins"


def github_artifact_facts(org: Org, run: WorkflowRun, name: str) -> Mapping[str, Any] | None:
    """The facts of artifact `name` of `run`, or None when the run did not archive it."""
    from simulator.github_api import artifact_files, run_artifacts  # lazily: keeps the truth import-light

    if name not in {artifact for _, artifact in run_artifacts(run)}:
        return None
    return artifact_files(org, run, name)[1]


@dataclass(frozen=True)
class _Candidate:
    repo: str
    started_at: datetime
    source: str
    run_id: int
    load: Callable[[], "Mapping[str, Any] | None"]

    @property
    def order(self) -> tuple:
        return (self.started_at, self.source, self.run_id)


def _default_branch_runs(org: Org, repo: Repository, successful_only: bool) -> Iterable[WorkflowRun]:
    for run in org.workflow_runs.get(repo.full_name, []):
        if run.event == "pull_request" or run.head_branch != repo.default_branch or run.status != "completed":
            continue
        if successful_only and run.conclusion != "success":
            continue
        yield run


def _github_candidates(org: Org, artifact_names: Iterable[str], successful_only: bool,
                       artifact_facts: ArtifactFacts) -> list[_Candidate]:
    names = tuple(artifact_names)

    def loader(run: WorkflowRun) -> Callable[[], "Mapping[str, Any] | None"]:
        def load() -> Mapping[str, Any] | None:
            for name in names:
                facts = artifact_facts(org, run, name)
                if facts is not None:
                    return facts
            return None
        return load

    return [_Candidate(repo.full_name, run.created_at, GITHUB_ACTIONS, run.id, loader(run))
            for repo in org.repositories for run in _default_branch_runs(org, repo, successful_only)]


def _latest_per_repo_week(candidates: Iterable[_Candidate],
                          required: tuple[str, ...]) -> dict[tuple[str, date], tuple[_Candidate, Mapping]]:
    """Per (repo, week of start), the latest candidate whose facts exist and carry `required` keys."""
    grouped: dict[tuple[str, date], list[_Candidate]] = defaultdict(list)
    for candidate in candidates:
        grouped[(candidate.repo, week_start(candidate.started_at))].append(candidate)
    chosen = {}
    for key, group in grouped.items():
        for candidate in sorted(group, key=lambda c: c.order, reverse=True):
            facts = candidate.load()
            if facts is not None and all(name in facts for name in required):
                chosen[key] = (candidate, facts)
                break
    return chosen


def _rows(org: Org, chosen: dict[tuple[str, date], tuple[_Candidate, Mapping]],
          values: Callable[[Mapping], dict]) -> list[dict]:
    rows = []
    for (repo, week), (candidate, facts) in chosen.items():
        rows.append({"team": org.team_of(repo), "repo": repo, "week_start": week, "source": candidate.source,
                     "run_id": candidate.run_id, "run_started_at": candidate.started_at, **values(facts)})
    return sorted(rows, key=lambda row: (row["team"], row["repo"], row["week_start"]))


def _percent(numerator: float, denominator: float) -> float | None:
    value = ratio_or_none(numerator, denominator)
    return None if value is None else 100.0 * value


def _jenkins_coverage_candidates(sim: Any) -> list[_Candidate]:
    """Jenkins builds with result SUCCESS (UNSTABLE = tests failed) on the repository's
    default branch that archived a coverage report."""
    default_branch = {repo.full_name: repo.default_branch for repo in sim.org.repositories}
    return [_Candidate(job.repo, build.started_at, JENKINS, build.number, lambda build=build: build.coverage.facts)
            for job in sim.jenkins.all_jobs() for build in job.builds
            if build.result == "SUCCESS" and build.coverage is not None and build.branch == default_branch.get(job.repo)]


# What each report KPI reads from a run: (GitHub artifact names, successful runs only,
# the facts a run's report must carry to count).
REPORT_KINDS = {
    "coverage": (COVERAGE_ARTIFACTS, True, ("lines_covered", "lines_valid")),
    "openapi": (OPENAPI_ARTIFACTS, False, ("operations", "documented_operations")),
    "sarif": (SARIF_ARTIFACTS, False, ("by_level",)),
    "performance": (BENCHMARK_ARTIFACTS, False, ("p95_ms",)),
}


def report_runs(source: Any, kind: str, artifact_facts: ArtifactFacts = github_artifact_facts) -> list[dict]:
    """Every CI run that may give a report KPI's value, with its report's facts: the
    candidates the weekly functions below choose the latest of, for any period.

    `kind`: coverage (successful default-branch GitHub Actions runs and Jenkins SUCCESS
    builds; needs the whole Simulation), openapi, sarif or performance (completed
    default-branch GitHub Actions runs, any conclusion). Only runs whose report carries the
    kind's facts are returned. Columns: team, repo, started_at, source, run_id, facts;
    `order` = (started_at, source, run_id), the latest being the greatest. Sorted by
    (repo, order)."""
    names, successful_only, required = REPORT_KINDS[kind]
    org = org_of(source)
    candidates = _github_candidates(org, names, successful_only, artifact_facts)
    if kind == "coverage":
        candidates += _jenkins_coverage_candidates(simulation_of(source))
    rows = []
    for candidate in candidates:
        facts = candidate.load()
        if facts is not None and all(name in facts for name in required):
            rows.append({"team": org.team_of(candidate.repo), "repo": candidate.repo,
                         "started_at": candidate.started_at, "source": candidate.source,
                         "run_id": candidate.run_id, "order": candidate.order, "facts": facts})
    return sorted(rows, key=lambda row: (row["repo"], row["order"]))


# -- test coverage --------------------------------------------------------------------


def test_coverage(source: Any, artifact_facts: ArtifactFacts = github_artifact_facts) -> list[dict]:
    """Line coverage per team, repository and week, from the latest successful default-branch CI run.

    `source`: the Simulation (GitHub Actions and Jenkins are read). Candidates per
    repository and week: successful (`conclusion == success`) default-branch GitHub Actions
    runs with a coverage report, and Jenkins builds with result SUCCESS (UNSTABLE = tests
    failed, not successful) that archived one. The latest candidate across both systems wins.
    Columns: team, repo, week_start, source, run_id (GitHub run id / Jenkins build number),
    run_started_at, lines_covered, lines_valid, line_coverage_percent (100 * covered / valid,
    None for 0 lines) and the team value for that week, weighted by lines valid:
    team_lines_covered, team_lines_valid, team_line_coverage_percent (sums over the team's
    repositories with a report that week). Weeks without a qualifying run have no row.
    Sorted by (team, repo, week_start).
    """
    sim = simulation_of(source)
    org = sim.org
    candidates = _github_candidates(org, COVERAGE_ARTIFACTS, True, artifact_facts) + _jenkins_coverage_candidates(sim)
    chosen = _latest_per_repo_week(candidates, ("lines_covered", "lines_valid"))
    rows = _rows(org, chosen, lambda facts: {
        "lines_covered": facts["lines_covered"], "lines_valid": facts["lines_valid"],
        "line_coverage_percent": _percent(facts["lines_covered"], facts["lines_valid"])})
    team_totals: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        totals = team_totals[(row["team"], row["week_start"])]
        totals[0] += row["lines_covered"]
        totals[1] += row["lines_valid"]
    for row in rows:
        covered, valid = team_totals[(row["team"], row["week_start"])]
        row.update(team_lines_covered=covered, team_lines_valid=valid,
                   team_line_coverage_percent=_percent(covered, valid))
    return rows


test_coverage.__test__ = False  # a KPI, not a pytest test, despite its catalogue name


# -- API documentation coverage -------------------------------------------------------


def api_documentation_coverage(source: Any, artifact_facts: ArtifactFacts = github_artifact_facts,
                               artifact_names: Iterable[str] = OPENAPI_ARTIFACTS) -> list[dict]:
    """Documented share of the operations of the latest default-branch OpenAPI document of the week.

    `source`: the Simulation or its `Org` (GitHub Actions artifacts only). The latest
    completed default-branch run of the week (any conclusion: the document exists whether
    or not the tests passed) that archived an OpenAPI document. A documented operation is
    the generator's fact `documented_operations`: the generator's documented operations have
    a summary and a description, described parameters and responses and a schema on every
    2xx response with a body; the others have an empty response description. For generated
    documents this coincides with the catalogue's rule (extractors/reports/README.md).
    Columns: team, repo, week_start, source, run_id, run_started_at, operations,
    documented_operations, documented_operations_percent (None for 0 operations).
    No team aggregate is defined by the catalogue. Sorted by (team, repo, week_start).
    """
    org = org_of(source)
    candidates = _github_candidates(org, artifact_names, False, artifact_facts)
    chosen = _latest_per_repo_week(candidates, ("operations", "documented_operations"))
    return _rows(org, chosen, lambda facts: {
        "operations": facts["operations"], "documented_operations": facts["documented_operations"],
        "documented_operations_percent": _percent(facts["documented_operations"], facts["operations"])})


# -- code-standard findings -----------------------------------------------------------


def code_standard_findings(source: Any, artifact_facts: ArtifactFacts = github_artifact_facts,
                           artifact_names: Iterable[str] = SARIF_ARTIFACTS) -> list[dict]:
    """SARIF error and warning results of the latest default-branch run of the week.

    `source`: the Simulation or its `Org` (GitHub Actions artifacts only). The latest
    completed default-branch run of the week that archived a SARIF log (any conclusion;
    cancelled runs archive nothing). Columns: team, repo, week_start, source, run_id,
    run_started_at, error_findings, warning_findings, findings (= error + warning; `note`
    results are not findings), and the team sums for that week over the team's
    repositories with a log that week: team_error_findings, team_warning_findings,
    team_findings. Sorted by (team, repo, week_start).
    """
    org = org_of(source)
    candidates = _github_candidates(org, artifact_names, False, artifact_facts)
    chosen = _latest_per_repo_week(candidates, ("by_level",))
    rows = _rows(org, chosen, lambda facts: {
        "error_findings": facts["by_level"].get("error", 0), "warning_findings": facts["by_level"].get("warning", 0),
        "findings": facts["by_level"].get("error", 0) + facts["by_level"].get("warning", 0)})
    team_totals: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        totals = team_totals[(row["team"], row["week_start"])]
        totals[0] += row["error_findings"]
        totals[1] += row["warning_findings"]
    for row in rows:
        errors, warnings = team_totals[(row["team"], row["week_start"])]
        row.update(team_error_findings=errors, team_warning_findings=warnings, team_findings=errors + warnings)
    return rows


# -- performance ----------------------------------------------------------------------


def performance(source: Any, artifact_facts: ArtifactFacts = github_artifact_facts,
                artifact_names: Iterable[str] = BENCHMARK_ARTIFACTS) -> list[dict]:
    """p95 latency of the latest default-branch benchmark/load-test result of the week.

    `source`: the Simulation or its `Org` (GitHub Actions artifacts only). The latest
    completed default-branch run of the week that archived a benchmark result (k6
    summary facts `p95_ms`: the whole test, `(all scenarios)`; the generated summaries
    have no per-scenario submetrics, so it is also the highest p95 of the result's
    scenarios, the warehouse's repository value), any conclusion. Columns: team, repo,
    week_start, source, run_id, run_started_at, p95_latency_ms, and team_max_p95_latency_ms
    (the maximum over the team's repositories with a result that week). Sorted by (team,
    repo, week_start).
    """
    org = org_of(source)
    candidates = _github_candidates(org, artifact_names, False, artifact_facts)
    chosen = _latest_per_repo_week(candidates, ("p95_ms",))
    rows = _rows(org, chosen, lambda facts: {"p95_latency_ms": facts["p95_ms"]})
    team_max: dict[tuple[str, date], float] = {}
    for row in rows:
        key = (row["team"], row["week_start"])
        team_max[key] = max(team_max.get(key, row["p95_latency_ms"]), row["p95_latency_ms"])
    for row in rows:
        row["team_max_p95_latency_ms"] = team_max[(row["team"], row["week_start"])]
    return rows


# How each CI system's outcome reads as one result (marts.fct_ci_runs uses the same).
GITHUB_RESULTS = {"success": "success", "failure": "failure", "timed_out": "failure", "startup_failure": "failure",
                  "cancelled": "cancelled"}
JENKINS_RESULTS = {"SUCCESS": "success", "FAILURE": "failure", "UNSTABLE": "failure", "ABORTED": "cancelled"}
GITLAB_RESULTS = {"success": "success", "failed": "failure", "canceled": "cancelled", "skipped": "skipped"}


def _ci_run(key: str, system: str, repo: str, team: str, pipeline: str | None, number: int, branch: str,
            default_branch: str | None, created: datetime, started: datetime | None, finished: datetime | None,
            result: str) -> dict:
    return {
        "ci_run_key": key, "ci_system": system, "repository": repo, "team": team, "pipeline_name": pipeline,
        "run_number": number, "branch": branch, "is_default_branch": branch == default_branch,
        "created_at": created, "started_at": started, "finished_at": finished,
        "duration_seconds": (finished - started).total_seconds() if started and finished else None,
        "result": result, "is_success": result == "success", "is_verdict": result in ("success", "failure"),
        "week_start": week_start(created),
    }


def ci_runs(source: Any) -> list[dict]:
    """Every CI run of the model, one row each, as marts.fct_ci_runs has them: GitHub Actions
    runs (finished = updated_at once completed; the simulated runs start when created),
    Jenkins builds (finished = start + duration), GitLab pipelines. Ordered by key."""
    from simulator.github_api import WORKFLOW_NAME

    sim = simulation_of(source)
    repositories = {repo.full_name: repo for repo in sim.org.repositories}
    rows = []
    for repo_name, runs in sim.org.workflow_runs.items():
        repo = repositories[repo_name]
        for run in runs:
            completed = run.status == "completed" and run.conclusion is not None
            result = GITHUB_RESULTS.get(run.conclusion, "skipped") if completed else "running"
            rows.append(_ci_run(f"github_actions:{run.id}", "github_actions", repo_name, repo.team, WORKFLOW_NAME,
                                run.run_number, run.head_branch, repo.default_branch, run.created_at, run.created_at,
                                run.updated_at if run.status == "completed" else None, result))
    for job in sim.jenkins.all_jobs():
        repo = repositories.get(job.repo)
        for build in job.builds:
            result = "running" if build.building else JENKINS_RESULTS.get(build.result, "skipped")
            rows.append(_ci_run(f"jenkins:{job.folder}/{job.name}#{build.number}", "jenkins", job.repo,
                                repo.team if repo else job.folder, f"{job.folder}/{job.name}", build.number,
                                build.branch, repo.default_branch if repo else None, build.started_at,
                                build.started_at, build.finished_at, result))
    for project in sim.gitlab.projects:
        for pipeline in project.pipelines:
            rows.append(_ci_run(f"gitlab_ci:{pipeline.id}", "gitlab_ci", project.path_with_namespace, project.team,
                                None, pipeline.iid, pipeline.ref, project.default_branch, pipeline.created_at,
                                pipeline.started_at, pipeline.finished_at,
                                GITLAB_RESULTS.get(pipeline.status, "running")))
    return sorted(rows, key=lambda row: row["ci_run_key"])

