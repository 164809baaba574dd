"""kpi_nightly: GitHub, Jira, Jenkins, GitLab -> landing batches -> Great Expectations -> raw
-> dbt -> audit -> publish (-> dbt docs, the HTML dashboard).

Reads top to bottom like the data flow. The work lives in `kpi.pipeline`; this file only
wires it, so parsing it does no I/O. Credentials come from the Airflow connections named
in config/pipeline.yaml (github_default, jira_default, jenkins_default, gitlab_default).

Scope failures: `extract_<source>` (one mapped task per repository, project or job, in
the source's pool `kpi_api_<source>`) does not raise for a scope that fails for a known
reason (permission, revoked token, retries exhausted, rate limit deferred, repository
gone); it returns the scope's status instead, so one broken repository neither blocks the
others' data nor burns Airflow retries on an error that retrying cannot fix. Every good
scope is audited and loaded; a batch failing its audit is quarantined with its scope; the
published warehouse is replaced only by a night without failures (config
`publish.when_scopes_fail`), and the last task, `check_scopes`, fails the run with a
message naming the connection and each failed scope or quarantined batch. (A failed
mapped task alone would not do: its downstream tasks would be upstream_failed, dropping
every other scope's data, and a DAG run's state follows its leaf tasks.) Unexpected errors
(bugs) still fail the mapped task and get Airflow's retries. Every task that fails for
good alerts through the `kpi_alerts` connection.

Pools (`kpi airflow-pools --apply` creates them): `kpi_warehouse` (1 slot) for every task
that opens the working DuckDB file, `kpi_api_<source>` for each source's extraction.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, Param, dag, get_current_context, task

from kpi.airflow_pools import SOURCES, WAREHOUSE_POOL, api_pool

RAW = Asset(name="kpi_raw", uri="kpi://warehouse/raw")
MARTS = Asset(name="kpi_marts", uri="kpi://warehouse/marts")
PUBLISHED = Asset(name="kpi_published_warehouse", uri="kpi://published/warehouse.duckdb")


def _config():
    from kpi.config import load_config

    return load_config()


def _run_id() -> str:
    return get_current_context()["run_id"]


def _full_refresh() -> bool:
    return bool(get_current_context()["params"].get("full_refresh"))


def _flatten(results_per_source: list) -> list[dict]:
    """The mapped extractions of every source as one list (a skipped one holds nothing)."""
    return [result for results in results_per_source for result in (results or [])]


def _alert(context) -> None:
    """A task failed for good (after its retries): tell the team through the `kpi_alerts`
    connection (webhook or e-mail), naming the task and the cause."""
    from kpi.alerts import notify_task_failure

    notify_task_failure(context)


@dag(
    dag_id="kpi_nightly",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one writer of the working DuckDB file at a time
    params={"full_refresh": Param(False, type="boolean",
                                  description="re-read every scope from the start and rebuild every mart")},
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "execution_timeout": timedelta(hours=2),
        "on_failure_callback": _alert,
    },
    tags=["kpi", "github", "jira", "jenkins", "gitlab"],
    doc_md=__doc__,
)
def kpi_nightly():
    @task(pool=WAREHOUSE_POOL)
    def extract_listings() -> list[str]:
        """GitHub orgs' repository listings, GitLab groups' project listings."""
        from kpi.pipeline import extract_listings as extract

        return extract(_config(), _run_id(), _full_refresh())

    @task(pool=WAREHOUSE_POOL)
    def plan_scopes(listing_manifests: list[str]) -> list[dict]:
        """Tonight's scopes of every source, with their stored state."""
        from kpi.pipeline import plan_scopes as plan

        return plan(_config(), listing_manifests)

    @task
    def scopes_of(planned: list[dict], source: str) -> list[dict]:
        """One source's scopes (none for a source that is not configured)."""
        return [scope for scope in planned if scope["source"] == source]

    @task(map_index_template="{{ scope_label }}")
    def extract_scope(scope: dict) -> dict:
        from kpi.pipeline import extract_source_scope as extract

        get_current_context()["scope_label"] = f"{scope['source']}:{scope['scope']}"  # names the mapped task
        return extract(_config(), scope, _run_id(), _full_refresh())

    # An empty mapping (a source with no scopes) is skipped: what follows still runs.
    @task(trigger_rule="none_failed")
    def audit_batches(listing_manifests: list[str], results: list) -> dict:
        """Great Expectations on every batch; a failing scope is set aside for quarantine."""
        from kpi.pipeline import audit_batches as audit
        from kpi.pipeline import scope_manifests

        return audit([*listing_manifests, *scope_manifests(_flatten(results))], data_dir=_config().data_dir)

    @task(outlets=[RAW], retries=0, pool=WAREHOUSE_POOL)
    def load_raw(audited: dict) -> dict:
        from kpi.pipeline import load_raw as load

        return load(_config(), audited)

    @task(outlets=[MARTS], retries=0, pool=WAREHOUSE_POOL)
    def dbt_build() -> dict:
        """The marts as of the end of the run's data interval: a rerun is identical."""
        from kpi.pipeline import build_marts

        context = get_current_context()
        as_of = context.get("data_interval_end") or context.get("logical_date") or context["dag_run"].run_after
        return build_marts(_config(), as_of=as_of, full_refresh=_full_refresh())

    @task(retries=0, pool=WAREHOUSE_POOL)
    def audit_marts() -> int:
        from kpi.pipeline import audit_marts as audit

        return audit(_config())

    @task(outlets=[PUBLISHED], pool=WAREHOUSE_POOL, trigger_rule="none_failed")
    def publish(results: list, audited: dict) -> dict:
        """Swap in the new published warehouse, unless a scope failed or was quarantined."""
        from kpi.pipeline import publish as publish_warehouse

        return publish_warehouse(_config(), _run_id(), _flatten(results), audited)

    @task(pool=WAREHOUSE_POOL)
    def dbt_docs(publication: dict) -> dict:
        """dbt docs (data/docs/dbt/static_index.html) of a new publication, regenerated when
        the dbt project changed; a night that kept the previous publication keeps its docs."""
        from kpi.docs import generate_dbt_docs

        if not publication.get("published"):
            return {"generated": False, "reason": "nothing published tonight"}
        return generate_dbt_docs(_config())

    @task
    def build_dashboard(publication: dict) -> dict:
        """The offline HTML dashboard (data/dashboard/index.html) of a new publication; a
        night that kept the previous publication keeps its dashboard. It reads only the
        published file, never the working one, so it takes no slot of the writer's pool."""
        from kpi.pipeline import build_dashboard as build

        return build(_config(), publication)

    @task(retries=0, trigger_rule="none_failed")
    def check_scopes(results: list, audited: dict) -> dict:
        """Fails the run, naming each failed scope and quarantined batch, after the good
        scopes were loaded."""
        from kpi.pipeline import check_scopes as check

        return check(_flatten(results), audited)

    listing_manifests = extract_listings()
    planned = plan_scopes(listing_manifests)
    # One mapped task per source, each in its own pool: the API calls of one source are
    # capped (sources.<source>.max_parallel_scopes) whatever the others do.
    extracted = [
        extract_scope.override(task_id=f"extract_{source}", pool=api_pool(source)).expand(
            scope=scopes_of.override(task_id=f"scopes_{source}")(planned, source))
        for source in SOURCES
    ]
    audited = audit_batches(listing_manifests, extracted)
    loaded = load_raw(audited)
    built = dbt_build()
    checked = audit_marts()
    published = publish(extracted, audited)
    loaded >> built >> checked >> published >> check_scopes(extracted, audited)
    dbt_docs(published)
    build_dashboard(published)


kpi_nightly()
