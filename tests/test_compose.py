"""docker-compose.yml is valid Compose (no Docker engine here: validated against the spec)
and describes the scale-out topology: every Airflow 3 component on the CeleryExecutor,
PostgreSQL for metadata and results, Redis as broker, Superset behind a profile."""

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from kpi.config import load_config
from tests.conftest import PROJECT_ROOT

SCHEMA = Path(PROJECT_ROOT.parent / "shared" / "schemas" / "compose-spec.json")
AIRFLOW_COMPONENTS = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                      "airflow-worker")
PLACEHOLDER = re.compile(r"^\$\{[A-Z0-9_]+(:?-[^}]*)?\}$")


@pytest.fixture
def compose() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())


def airflow_command(service: dict) -> list[str]:
    """The Airflow CLI arguments a service runs (the image's entrypoint drops a leading `airflow`)."""
    command = service["command"]
    command = command.split() if isinstance(command, str) else list(command)
    return command[1:] if command[:1] == ["airflow"] else command


def test_compose_file_matches_the_compose_specification(compose):
    if not SCHEMA.exists():
        pytest.skip(f"Compose Specification schema not found at {SCHEMA}")
    jsonschema.validate(compose, json.loads(SCHEMA.read_text()))


def test_compose_runs_every_airflow_component_on_postgres(compose):
    services = compose["services"]
    assert {"postgres", "redis", "simulator", "airflow-init", *AIRFLOW_COMPONENTS} <= set(services)
    expected = {"airflow-apiserver": ["api-server"], "airflow-scheduler": ["scheduler"],
                "airflow-dag-processor": ["dag-processor"], "airflow-triggerer": ["triggerer"]}
    for name, command in expected.items():
        assert airflow_command(services[name]) == command
    assert airflow_command(services["airflow-worker"])[:2] == ["celery", "worker"]
    for name in AIRFLOW_COMPONENTS:
        env = services[name]["environment"]
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres:5432/${POSTGRES_DB:-airflow}")
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_airflow_components_share_one_configuration(compose):
    """Executor, broker, result backend, execution API and JWT secret must be the same in
    every component, or workers cannot report task state to the API server."""
    services = compose["services"]
    keys = ("AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY",
            "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    settings = {name: {key: services[name]["environment"].get(key) for key in keys}
                for name in ("airflow-init", *AIRFLOW_COMPONENTS)}
    first = settings["airflow-init"]
    assert all(value is not None for value in first.values()), first
    assert all(setting == first for setting in settings.values())
    assert first["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert first["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:6379/")
    # the result backend is PostgreSQL, through the driver that is installed
    assert first["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg2://")
    assert first["AIRFLOW__CELERY__RESULT_BACKEND"].endswith("@postgres:5432/${POSTGRES_DB:-airflow}")
    assert first["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert services["airflow-apiserver"]["ports"] == ["8080:8080"]


def test_celery_workers_scale_out_and_wait_for_the_broker_and_database(compose):
    worker = compose["services"]["airflow-worker"]
    assert worker["deploy"]["replicas"] >= 2
    for dependency in ("redis", "postgres", "airflow-apiserver"):
        assert worker["depends_on"][dependency]["condition"] == "service_healthy"
    assert compose["services"]["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert compose["services"]["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    # every task-running component shares the pipeline's data volume
    for name in AIRFLOW_COMPONENTS:
        assert "kpi-data:/opt/kpi/data" in compose["services"][name]["volumes"]


def test_airflow_runs_on_the_official_image_with_the_project_installed(compose):
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:\$\{AIRFLOW_VERSION\}-python3\.11$", dockerfile, re.M)
    assert re.search(r"^ARG AIRFLOW_VERSION=3\.3\.2$", dockerfile, re.M)
    assert "requirements.lock" in dockerfile and "--no-deps -e ." in dockerfile
    for name in ("airflow-init", *AIRFLOW_COMPONENTS, "simulator"):
        assert compose["services"][name]["build"] == "."


def test_superset_is_optional_and_reads_the_published_warehouse_read_only(compose):
    superset = compose["services"]["superset"]
    assert superset["profiles"] == ["superset"]
    assert all("profiles" not in service for name, service in compose["services"].items() if name != "superset")
    [data] = [volume for volume in superset["volumes"] if isinstance(volume, dict) and volume["source"] == "kpi-data"]
    assert data["read_only"] is True
    uri = superset["environment"]["KPI_WAREHOUSE_URI"]
    assert uri == f"duckdb:///{data['target']}/published/warehouse.duckdb?access_mode=read_only"
    dockerfile = (PROJECT_ROOT / "superset" / "Dockerfile").read_text()
    assert "duckdb-engine" in dockerfile and '"duckdb>=2.0,<2.1"' in dockerfile


def _environment_values(compose: dict):
    for name, service in compose["services"].items():
        environment = service.get("environment", {})
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        for key, value in environment.items():
            yield name, key, str(value)


def test_no_secret_is_hard_coded(compose):
    """Passwords, tokens and keys are ${VAR:-default} placeholders, set in .env."""
    secret_name = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET_KEY")
    checked = 0
    for service, key, value in _environment_values(compose):
        if secret_name.search(key):
            assert PLACEHOLDER.match(value), f"{service}: {key} is hard-coded"
            checked += 1
        for password in re.findall(r"://(?:\$\{[^}]*\}|[^:@/\s])+:(\$\{[^}]*\}|[^@\s]+)@", value):  # user:password@host URLs
            assert PLACEHOLDER.match(password), f"{service}: {key} has a hard-coded password"
            checked += 1
        if key.startswith("AIRFLOW_CONN_"):
            connection = json.loads(value)
            assert PLACEHOLDER.match(connection["password"]), f"{service}: {key} has a hard-coded password"
            checked += 1
    assert checked >= 20
    for service in compose["services"].values():
        command = " ".join(service.get("command", []) if isinstance(service.get("command"), list)
                           else [service.get("command", "")])
        for token in re.findall(r"--(?:token|password)[ =](\S+)", command):
            assert PLACEHOLDER.match(token), f"hard-coded secret in command {command!r}"


def test_compose_configuration_file_is_valid(compose):
    env = compose["services"]["airflow-scheduler"]["environment"]
    config_path = PROJECT_ROOT / Path(env["KPI_CONFIG"]).relative_to("/opt/kpi")
    config = load_config(config_path)
    assert config.sources.github.base_url == "http://simulator:8765/github"
