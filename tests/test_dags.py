from tests.conftest import PROJECT_ROOT


def test_dagbag_imports_every_dag_without_errors():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    assert "kpi_nightly" in bag.dags


def test_kpi_nightly_flows_from_extraction_to_publish():
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags["kpi_nightly"]
    for source in ("github", "gitlab", "jenkins", "jira"):
        order = ["extract_listings", "plan_scopes", f"scopes_{source}", f"extract_{source}", "audit_batches", "load_raw", "dbt_build",
                 "audit_marts", "publish", "check_scopes"]
        for upstream, downstream in zip(order, order[1:]):
            assert downstream in dag.get_task(upstream).downstream_task_ids, f"{upstream} -> {downstream}"
    assert "dbt_docs" in dag.get_task("publish").downstream_task_ids  # the docs of what was just published
    assert "build_dashboard" in dag.get_task("publish").downstream_task_ids  # the dashboard of the same
    assert dag.schedule == "@daily"
    assert dag.catchup is False
    outlets = {task_id: [asset.name for asset in dag.get_task(task_id).outlets] for task_id in ("load_raw", "dbt_build", "publish")}
    assert outlets == {"load_raw": ["kpi_raw"], "dbt_build": ["kpi_marts"], "publish": ["kpi_published_warehouse"]}


def test_warehouse_tasks_share_one_slot_and_each_source_extracts_in_its_own_pool():
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags["kpi_nightly"]
    pools = {task.task_id: task.pool for task in dag.tasks}
    assert {task_id for task_id, pool in pools.items() if pool == "kpi_warehouse"} == {
        "extract_listings", "plan_scopes", "load_raw", "dbt_build", "audit_marts", "publish", "dbt_docs"}
    assert {pools[f"extract_{source}"] for source in ("github", "gitlab", "jenkins", "jira")} == {
        "kpi_api_github", "kpi_api_gitlab", "kpi_api_jenkins", "kpi_api_jira"}
    assert pools["build_dashboard"] == "default_pool"  # it reads the published file only, never the writer's
    # an extraction that finds no scope for a source must not skip the rest of the night
    assert {dag.get_task(t).trigger_rule for t in ("audit_batches", "publish", "check_scopes")} == {"none_failed"}
    assert all(task.on_failure_callback for task in dag.tasks)  # every task alerts when it fails for good


def test_pool_definitions_follow_the_configuration():
    from kpi.airflow_pools import pool_definitions
    from kpi.config import load_config

    config = load_config(PROJECT_ROOT / "config" / "pipeline.yaml")
    pools = {pool.name: pool.slots for pool in pool_definitions(config)}
    assert pools == {"kpi_warehouse": 1, "kpi_api_github": config.sources.github.max_parallel_scopes,
                     "kpi_api_gitlab": config.sources.gitlab.max_parallel_scopes,
                     "kpi_api_jenkins": config.sources.jenkins.max_parallel_scopes,
                     "kpi_api_jira": config.sources.jira.max_parallel_scopes}
