from tests.conftest import PROJECT_ROOT


def test_dagbag_imports_every_dag_without_errors():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    assert "kpi_nightly" in bag.dags


def test_kpi_nightly_flows_from_extraction_to_publish():
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags["kpi_nightly"]
    order = ["extract_listings", "plan_scopes", "extract_scope", "audit_batches", "load_raw", "dbt_build", "audit_marts", "publish"]
    for upstream, downstream in zip(order, order[1:]):
        assert downstream in dag.get_task(upstream).downstream_task_ids, f"{upstream} -> {downstream}"
    assert dag.schedule == "@daily"
    assert dag.catchup is False
    outlets = {task_id: [asset.name for asset in dag.get_task(task_id).outlets] for task_id in ("load_raw", "dbt_build", "publish")}
    assert outlets == {"load_raw": ["kpi_raw"], "dbt_build": ["kpi_marts"], "publish": ["kpi_published_warehouse"]}
