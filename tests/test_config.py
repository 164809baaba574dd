from pathlib import Path

import pytest

from kpi.config import ConfigError, load_config

VALID = """
sources:
  github:
    base_url: https://api.github.com
    orgs: [acme]
deployments:
  production_environments: [production, prod]
teams:
  - name: payments
    repositories: [acme/payments-*, acme/ledger]
  - name: growth
    repositories: [acme/web-app]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return path


def test_committed_config_is_valid_and_maps_every_simulated_repository():
    config = load_config()
    assert config.team_of("acme/payments-api") == "payments"
    assert config.team_of("acme/observability") == "platform"
    assert config.team_of("acme/mobile-app") == "growth"


def test_team_mapping_uses_patterns_and_falls_back_to_unassigned(tmp_path):
    config = load_config(write(tmp_path, VALID))
    assert config.team_of("acme/payments-gateway") == "payments"
    assert config.team_of("ACME/Ledger") == "payments"
    assert config.team_of("acme/unknown") == "unassigned"


def test_wrong_type_names_file_key_path_and_expectation(tmp_path):
    path = write(tmp_path, VALID.replace("orgs: [acme]", "orgs: acme\n    overlap_hours: -1"))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert str(path) in message
    assert "sources.github.orgs: Input should be a valid list" in message
    assert "sources.github.overlap_hours: Input should be greater than or equal to 0 (got -1)" in message


def test_unknown_key_is_reported_with_its_path(tmp_path):
    path = write(tmp_path, VALID.replace("  - name: growth", "  - name: growth\n    lead: alice"))
    with pytest.raises(ConfigError, match=r"teams\[1\]\.lead: unknown key"):
        load_config(path)


def test_missing_section_is_reported(tmp_path):
    path = write(tmp_path, VALID.replace("deployments:\n  production_environments: [production, prod]\n", ""))
    with pytest.raises(ConfigError, match=r"deployments: required key is missing"):
        load_config(path)


@pytest.mark.parametrize(
    "line, where",
    [
        ("    token: abc123", "sources.github.token"),
        ("    api_key: abc123", "sources.github.api_key"),
        ("    repositories: [ghp_abcdefghijklmnopqrstuvwxyz0123456789]", "sources.github.repositories[0]"),
    ],
)
def test_a_secret_in_the_config_file_is_refused(tmp_path, line, where):
    path = write(tmp_path, VALID.replace("    orgs: [acme]", "    orgs: [acme]\n" + line))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "secrets are not allowed" in str(error.value)
    assert where in str(error.value)
    assert "abc123" not in str(error.value) and "ghp_" not in str(error.value)


def test_plain_http_to_a_remote_host_is_refused_but_loopback_is_allowed(tmp_path):
    remote = write(tmp_path, VALID.replace("https://api.github.com", "http://ghe.example.com/api/v3"))
    with pytest.raises(ConfigError, match="plain http to a non-loopback host"):
        load_config(remote)
    local = write(tmp_path, VALID.replace("https://api.github.com", "http://127.0.0.1:8765/github"))
    assert load_config(local).sources.github.base_url == "http://127.0.0.1:8765/github"


def test_hostile_names_cannot_reach_urls_or_sql(tmp_path):
    path = write(tmp_path, VALID.replace("orgs: [acme]", "orgs: [\"acme'; drop table x; --\"]"))
    with pytest.raises(ConfigError, match=r"sources\.github\.orgs\[0\]"):
        load_config(path)
    path = write(tmp_path, VALID.replace("[production, prod]", "[\"prod') or 1=1 --\"]"))
    with pytest.raises(ConfigError, match=r"deployments\.production_environments"):
        load_config(path)


def test_missing_file_and_bad_yaml_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "sources: [unclosed"))


def test_jira_rereads_14_hours_by_default_and_github_72(tmp_path):
    text = VALID.replace("deployments:", "  jira:\n    base_url: https://acme.atlassian.net\n    projects: [PAY]\n"
                                         "deployments:")
    config = load_config(write(tmp_path, text))
    assert config.sources.jira.overlap_hours == 14
    assert config.sources.github.overlap_hours == 72
    lowered = load_config(write(tmp_path, text.replace("projects: [PAY]", "projects: [PAY]\n    overlap_hours: 2")))
    assert lowered.sources.jira.overlap_hours == 2


def test_the_default_jira_overlap_reaches_the_watermark_in_any_account_time_zone():
    # JQL reads "yyyy/MM/dd HH:mm" in the extraction account's time zone (UTC-12 to UTC+14);
    # the bound is written in UTC, so in a zone west of UTC it falls later than meant.
    from datetime import datetime, timedelta, timezone

    from kpi.config import JIRA_DEFAULT_OVERLAP_HOURS
    from extractors import jql

    watermark = datetime(2026, 3, 8, 9, 30, 45, tzinfo=timezone.utc)
    literal = jql.date_literal(watermark - timedelta(hours=JIRA_DEFAULT_OVERLAP_HOURS)).strip('"')
    for offset_hours in range(-12, 15):
        read_as = datetime.strptime(literal, "%Y/%m/%d %H:%M").replace(
            tzinfo=timezone(timedelta(hours=offset_hours)))
        # An hour to spare for daylight saving and the search index's lag.
        assert read_as <= watermark - timedelta(hours=1), offset_hours
