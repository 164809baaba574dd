"""docker-compose.yml is valid Compose (no Docker engine here: validated against the spec)."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from kpi.config import load_config
from tests.conftest import PROJECT_ROOT

SCHEMA = Path(PROJECT_ROOT.parent / "shared" / "schemas" / "compose-spec.json")


@pytest.fixture
def compose() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())


def test_compose_file_matches_the_compose_specification(compose):
    if not SCHEMA.exists():
        pytest.skip(f"Compose Specification schema not found at {SCHEMA}")
    jsonschema.validate(compose, json.loads(SCHEMA.read_text()))


def test_compose_runs_every_airflow_component_on_postgres(compose):
    services = compose["services"]
    assert {"postgres", "simulator", "airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor"} <= set(services)
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor"):
        env = services[name]["environment"]
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_compose_configuration_file_is_valid(compose):
    env = compose["services"]["airflow-scheduler"]["environment"]
    config_path = PROJECT_ROOT / Path(env["KPI_CONFIG"]).relative_to("/opt/kpi")
    config = load_config(config_path)
    assert config.sources.github.base_url == "http://simulator:8765/github"
