"""The pipeline over several sources: one source that cannot be planned does not stop the others."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import yaml

from kpi.config import load_config
from kpi.pipeline import ExtractionFailed, check_scopes, extract_listings, extract_source_scope, plan_scopes
from simulator.generator import generate_org
from simulator.server import SimulatorServer


def test_a_source_without_credentials_fails_by_name_while_the_others_are_planned(tmp_path, monkeypatch):
    monkeypatch.setenv("KPI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AIRFLOW_CONN_JENKINS_DEFAULT", raising=False)
    monkeypatch.delenv("KPI_JENKINS_DEFAULT_TOKEN", raising=False)
    org = generate_org("small", seed=5, anchor=datetime(2026, 11, 23, tzinfo=timezone.utc))
    with SimulatorServer(org, rate_limit=1_000_000) as simulator:
        monkeypatch.setenv("AIRFLOW_CONN_GITHUB_DEFAULT", json.dumps(
            {"conn_type": "http", "host": simulator.github_url, "password": simulator.token}))
        settings = {
            "sources": {"github": {"base_url": simulator.github_url, "orgs": ["acme"]},
                        "jenkins": {"base_url": "http://127.0.0.1:9/jenkins"}},  # no connection defined
            "deployments": {"production_environments": ["production"]},
            "teams": [{"name": "everyone", "repositories": ["acme/*"]}],
        }
        (tmp_path / "p.yaml").write_text(yaml.safe_dump(settings))
        config = load_config(tmp_path / "p.yaml")
        planned = plan_scopes(config, extract_listings(config, "run-1"))
        github = [scope for scope in planned if scope["source"] == "github"]
        assert len(github) == len(org.repositories)
        [jenkins] = [scope for scope in planned if scope["source"] == "jenkins"]
        result = extract_source_scope(config, jenkins, "run-1")
    assert result["status"] == "failed" and result["manifests"] == []
    with pytest.raises(ExtractionFailed) as caught:
        check_scopes([result])
    assert "jenkins discovery" in str(caught.value) and "'jenkins_default'" in str(caught.value)
