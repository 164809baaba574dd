"""The catalogue, the dbt marts and the ground truth cite one another consistently."""

import yaml

import simulator.truth
from kpi.catalogue import load_catalogue
from tests.conftest import PROJECT_ROOT


def dbt_models() -> dict[str, dict]:
    models = {}
    for path in (PROJECT_ROOT / "dbt_project" / "models").rglob("*.yml"):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            models[model["name"]] = {**model, "_sql": path.parent / f"{model['name']}.sql"}
    return models


def test_catalogue_is_valid_and_every_kpi_is_team_level():
    catalogue = load_catalogue()
    assert len(catalogue.kpis) >= 10
    assert all("team" in kpi.grain for kpi in catalogue.kpis)


def test_every_implemented_kpi_has_its_mart_column_and_truth():
    models = dbt_models()
    catalogue = load_catalogue()
    assert catalogue.implemented, "at least one KPI is implemented"
    for kpi in catalogue.implemented:
        model = models.get(kpi.mart)
        assert model is not None, f"{kpi.id}: mart {kpi.mart} missing"
        assert model["_sql"].exists()
        assert model.get("meta", {}).get("kpi_id") == kpi.id, f"{kpi.mart} must cite kpi_id {kpi.id}"
        assert kpi.value_column in {c["name"] for c in model["columns"]}
        assert callable(getattr(simulator.truth, kpi.truth, None)), f"simulator.truth.{kpi.truth} missing"


def test_every_mart_citing_a_kpi_cites_a_known_one():
    ids = {kpi.id for kpi in load_catalogue().kpis}
    for name, model in dbt_models().items():
        kpi_id = model.get("meta", {}).get("kpi_id")
        assert kpi_id is None or kpi_id in ids, f"{name} cites unknown KPI {kpi_id}"


def test_readme_kpi_section_is_the_rendered_catalogue():
    """The README's KPI definitions are generated (`kpi catalogue`), never edited by hand."""
    from kpi.catalogue import render_markdown
    from kpi.config import PROJECT_ROOT

    assert render_markdown() in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8"), \
        "README.md is out of date: paste the output of `kpi catalogue` over its KPI section"
