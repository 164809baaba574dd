"""kpi.okrs: OKR files (config/okrs/<period>.yaml) are refused, naming the file and the line,
for every rule of the format; a valid folder becomes rows for the warehouse.

Each test writes a valid file (VALID), changes one thing, and expects exactly the error
that change causes, at the line of the changed key (found in the text, not by the parser).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kpi.catalogue import load_catalogue
from kpi.config import PipelineConfig
from kpi.okrs import (
    CHECK_IN_COLUMNS,
    KEY_RESULT_COLUMNS,
    OBJECTIVE_COLUMNS,
    OKR_DIR,
    OkrSet,
    OkrValidationError,
    load_okrs,
)

# Teams as in config/pipeline.yaml; the KPIs are the real catalogue's
# (deployment_frequency: higher is better, per team; lead_time_for_changes: lower is better;
# test_coverage: higher is better, per team and repository).
CONFIG = PipelineConfig.model_validate({
    "sources": {"github": {"base_url": "http://127.0.0.1:8765/github", "orgs": ["acme"]}},
    "deployments": {"production_environments": ["production"]},
    "teams": [
        {"name": "payments", "repositories": ["acme/payments-api", "acme/ledger"]},
        {"name": "platform", "repositories": ["acme/platform-core"]},
        {"name": "growth", "repositories": ["acme/web-app"]},
    ],
})

VALID = """\
period: 2026-Q4
objectives:
  - id: acme-ship
    title: Ship reliably
    level: company
    owner: {team: platform}
    type: committed
    description: The company's delivery objective.
    key_results:
      - id: acme-deploys
        title: Deploy ten times a week
        weight: 0.5
        kpi: {id: deployment_frequency, scope: team, baseline: 5, target: 10}
      - id: acme-lead-time
        title: Lead time from 5 days to 2
        weight: 0.5
        kpi: {id: lead_time_for_changes, scope: team, baseline: 120, target: 48}
  - id: payments-quality
    title: Fewer regressions in payments
    level: team
    owner: {team: payments}
    parent: acme-ship
    type: aspirational
    key_results:
      - id: payments-coverage
        title: Coverage of payments-api from 70 % to 85 %
        weight: 1.0
        kpi:
          id: test_coverage
          scope: repository
          repository: acme/payments-api
          baseline: 70
          target: 85
  - id: alex-growth
    title: Become a full-stack engineer
    level: individual
    owner: {person: alex, team: payments}
    parent: payments-quality
    type: aspirational
    key_results:
      - id: alex-talks
        title: Give 3 talks
        weight: 0.6
        manual:
          unit: talks
          baseline: 0
          target: 3
          check_ins:
            - {date: 2026-10-09, value: 1, confidence: 0.7, note: first talk}
            - {date: 2026-11-13, value: 2, confidence: 0.6}
      - id: alex-open-bugs
        title: Own bugs left open from 8 to 2
        weight: 0.4
        manual: {unit: bugs, baseline: 8, target: 2}
"""


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def changed(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} must occur once in the file"
    return text.replace(old, new)


def line_of(text: str, fragment: str) -> int:
    """The 1-based line where the only occurrence of `fragment` (which may span lines) starts."""
    assert text.count(fragment) == 1, f"{fragment!r} must occur once in the file"
    return text[:text.index(fragment)].count("\n") + 1


def lines_of(text: str, fragment: str) -> list[int]:
    """The 1-based lines holding `fragment`."""
    return [number for number, line in enumerate(text.splitlines(), start=1) if fragment in line]


def q3_file(objective_id: str, level: str = "company") -> str:
    """A small valid 2026-Q3 file: one objective, `objective_id` at line 3."""
    return ("period: 2026-Q3\nobjectives:\n"
            f"  - id: {objective_id}\n    title: Ship\n    level: {level}\n    owner: {{team: platform}}\n"
            "    type: committed\n    key_results:\n"
            "      - {id: q3-deploys, title: Deploy, weight: 1, kpi: {id: deployment_frequency, scope: team, "
            "baseline: 1, target: 2}}\n")


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(folder: Path, catalogue) -> list[tuple[str, int, str]]:
    try:
        load_okrs(folder, config=CONFIG, catalogue=catalogue)
    except OkrValidationError as exc:
        return exc.errors
    return []


def only_error(tmp_path: Path, catalogue, text: str, name: str = "2026-Q4.yaml") -> tuple[str, int, str]:
    """Given one file, when it is validated, then exactly one error: returned as (file, line, message)."""
    path = write(tmp_path / "okrs", name, text)
    errors = errors_of(path.parent, catalogue)
    assert len(errors) == 1, "\n".join(f"{f}:{n}: {m}" for f, n, m in errors)
    file, line, message = errors[0]
    assert file == str(path)
    return file, line, message


def assert_error(tmp_path, catalogue, text: str, at: str, *fragments: str, name: str = "2026-Q4.yaml") -> None:
    """Exactly one error, at the line of `at`, whose message (as printed) holds each fragment."""
    file, line, message = only_error(tmp_path, catalogue, text, name)
    assert line == line_of(text, at), message
    for fragment in fragments:
        assert fragment in message
    printed = str(OkrValidationError([(file, line, message)]))
    assert printed == f"{file}:{line}: {message}"


# --- a valid folder -------------------------------------------------------------------


def test_a_valid_file_has_no_error_and_becomes_rows(tmp_path, catalogue):
    write(tmp_path, "2026-Q4.yaml", VALID)

    okrs = load_okrs(tmp_path, config=CONFIG, catalogue=catalogue)

    assert isinstance(okrs, OkrSet) and okrs.periods == ["2026-Q4"]
    objectives = okrs.objective_rows()
    assert [list(row) for row in objectives] == [list(OBJECTIVE_COLUMNS)] * 3
    assert objectives[2] == {
        "period": "2026-Q4", "objective_id": "alex-growth", "title": "Become a full-stack engineer",
        "level": "individual", "owner_team": "payments", "owner_person": "alex",
        "parent_objective_id": "payments-quality", "objective_type": "aspirational", "description": None,
        "period_start": date(2026, 10, 1), "period_end": date(2027, 1, 1),
        "source_file": str(tmp_path / "2026-Q4.yaml"), "source_line": line_of(VALID, "id: alex-growth"),
    }
    assert objectives[0]["owner_person"] is None and objectives[0]["parent_objective_id"] is None
    key_results = {row["key_result_id"]: row for row in okrs.key_result_rows()}
    assert [list(row) for row in key_results.values()] == [list(KEY_RESULT_COLUMNS)] * 5
    assert key_results["payments-coverage"] == {
        "period": "2026-Q4", "key_result_id": "payments-coverage", "objective_id": "payments-quality",
        "title": "Coverage of payments-api from 70 % to 85 %", "weight": 1.0, "kind": "kpi",
        "kpi_id": "test_coverage", "scope": "repository", "repository": "acme/payments-api",
        "baseline": 70.0, "target": 85.0, "direction": "higher_is_better", "unit": "percent",
        "source_file": str(tmp_path / "2026-Q4.yaml"), "source_line": line_of(VALID, "id: payments-coverage"),
    }
    # A KPI's direction and unit are the catalogue's; a manual one's direction runs from baseline to target.
    assert (key_results["acme-lead-time"]["direction"], key_results["acme-lead-time"]["unit"]) == (
        "lower_is_better", "hours")
    assert key_results["alex-talks"] | {"source_file": None, "source_line": None} == {
        "period": "2026-Q4", "key_result_id": "alex-talks", "objective_id": "alex-growth", "title": "Give 3 talks",
        "weight": 0.6, "kind": "manual", "kpi_id": None, "scope": None, "repository": None, "baseline": 0.0,
        "target": 3.0, "direction": "higher_is_better", "unit": "talks", "source_file": None, "source_line": None,
    }
    assert key_results["alex-open-bugs"]["direction"] == "lower_is_better"
    assert okrs.check_in_rows() == [
        {"period": "2026-Q4", "key_result_id": "alex-talks", "check_in_date": date(2026, 10, 9), "value": 1.0,
         "confidence": 0.7, "note": "first talk"},
        {"period": "2026-Q4", "key_result_id": "alex-talks", "check_in_date": date(2026, 11, 13), "value": 2.0,
         "confidence": 0.6, "note": None},
    ]
    assert list(okrs.check_in_rows()[0]) == list(CHECK_IN_COLUMNS)


def test_source_file_is_relative_to_the_project_root_inside_it():
    from kpi.okrs import _display

    assert _display(OKR_DIR / "2026-Q4.yaml") == "config/okrs/2026-Q4.yaml"


def test_the_shipped_okrs_validate():
    okrs = load_okrs()

    assert okrs.periods == ["2026-Q4"]
    assert len(okrs.objective_rows()) == 7 and len(okrs.key_result_rows()) == 13


def test_an_empty_or_missing_folder_has_no_okrs(tmp_path, catalogue):
    (tmp_path / "empty").mkdir()

    for folder in (tmp_path / "empty", tmp_path / "missing"):
        okrs = load_okrs(folder, config=CONFIG, catalogue=catalogue)
        assert okrs.periods == [] and okrs.objective_rows() == [] and okrs.key_result_rows() == []
        assert okrs.check_in_rows() == []


def test_every_error_of_every_file_is_listed_one_per_line(tmp_path, catalogue):
    q3 = q3_file("acme-q3", level="squad")
    q4 = changed(changed(VALID, "weight: 0.6", "weight: 0.7"), "id: test_coverage", "id: test_coverag")
    write(tmp_path, "2026-Q3.yaml", q3)
    write(tmp_path, "2026-Q4.yaml", q4)

    with pytest.raises(OkrValidationError) as raised:
        load_okrs(tmp_path, config=CONFIG, catalogue=catalogue)

    assert isinstance(raised.value, ValueError)
    q3_path, q4_path = str(tmp_path / "2026-Q3.yaml"), str(tmp_path / "2026-Q4.yaml")
    assert [(file, line) for file, line, _ in raised.value.errors] == [
        (q3_path, line_of(q3, "level: squad")),
        (q4_path, line_of(q4, "id: test_coverag")),
        (q4_path, line_of(q4, "id: alex-growth") + 6),  # the key_results: of alex-growth, whose weights sum to 1.1
    ]
    assert str(raised.value).splitlines() == [f"{f}:{n}: {m}" for f, n, m in raised.value.errors]


# --- schema ---------------------------------------------------------------------------


def test_not_valid_yaml_names_the_line_of_the_yaml_error(tmp_path, catalogue):
    text = changed(VALID, "        weight: 0.6\n", "        weight: [0.6\n")

    file, line, message = only_error(tmp_path, catalogue, text)

    assert line == line_of(text, "weight: [0.6") + 1  # where the unclosed [ meets the next key
    assert message.startswith("not valid YAML (while parsing a flow sequence")


def test_a_date_yaml_cannot_read_is_not_valid_yaml_at_its_line(tmp_path, catalogue):
    text = changed(VALID, "date: 2026-11-13", "date: 2026-13-13")

    assert_error(tmp_path, catalogue, text, "date: 2026-13-13", "not valid YAML", "month must be in 1..12")


def test_a_key_given_twice_is_refused(tmp_path, catalogue):
    text = changed(VALID, "        weight: 0.4\n", "        weight: 0.4\n        weight: 0.4\n")
    second = line_of(text, "id: alex-open-bugs") + 3

    file, line, message = only_error(tmp_path, catalogue, text)

    assert line == second and f"duplicate key 'weight' (also at line {second - 1})" in message


def test_an_unknown_key_is_refused_with_the_accepted_keys(tmp_path, catalogue):
    text = changed(VALID, "weight: 0.6", "wieght: 0.6")
    path = write(tmp_path, "2026-Q4.yaml", text)

    errors = errors_of(tmp_path, catalogue)

    # the unknown key, and the weight it leaves missing, named at the key result's line
    assert errors == [
        (str(path), line_of(text, "- id: alex-talks"), "key result 'alex-talks' is missing the required key 'weight'"),
        (str(path), line_of(text, "wieght: 0.6"), "unknown key 'wieght' in key result 'alex-talks' (did you mean "
                                                  "'weight'?); expected keys: id, title, weight, kpi, manual"),
    ]


def test_a_direction_on_a_kpi_key_result_is_refused_saying_where_direction_comes_from(tmp_path, catalogue):
    text = changed(VALID, "baseline: 5, target: 10}", "baseline: 5, target: 10, direction: higher_is_better}")

    assert_error(tmp_path, catalogue, text, "direction: higher", "unknown key 'direction'",
                 "comes from the KPI catalogue")


def test_a_missing_required_key_is_named_at_its_mapping(tmp_path, catalogue):
    text = changed(VALID, "    title: Fewer regressions in payments\n", "")

    assert_error(tmp_path, catalogue, text, "- id: payments-quality",
                 "objective 'payments-quality' is missing the required key 'title'")


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("level: company", "level: squad", "level must be one of company, team, individual, got 'squad'"),
    ("type: committed", "type: stretch", "type must be one of committed, aspirational, got 'stretch'"),
    ("scope: team, baseline: 5", "scope: org, baseline: 5", "scope must be one of team, repository, got 'org'"),
    ("weight: 0.6", "weight: sixty percent", "weight must be a number, got 'sixty percent'"),
    ("baseline: 120", "baseline: yes", "baseline must be a number, got true (a boolean)"),
    ("confidence: 0.6}", "confidence: high}", "confidence must be a number, got 'high'"),
    ("date: 2026-10-09", "date: soon", "date must be a date like 2026-10-09, got 'soon'"),
    ("title: Give 3 talks", "title: 3", "title must be a non-empty string, got 3"),
    ("id: alex-open-bugs", "id: Alex Open Bugs",
     "id must be lowercase letters, digits, '-' and '_', got 'Alex Open Bugs'"),
    ("repository: acme/payments-api", "repository: payments-api", "repository must be owner/repo"),
    ("owner: {team: platform}", "owner: platform", "owner must be a mapping with team, got 'platform'"),
    ("owner: {team: platform}", "owner: {team: platform, manager: kim}", "unknown key 'manager' in objective "
                                                                         "'acme-ship': owner"),
    ("target: 2}", "target: 2, check_ins: 3}", "check_ins must be a list, got 3"),
], ids=["level", "type", "scope", "weight", "number-not-bool", "confidence", "date", "title", "id-format",
        "repository-format", "owner-not-a-mapping", "owner-unknown-key", "check-ins-not-a-list"])
def test_a_wrong_type_or_value_is_refused_naming_what_was_expected(tmp_path, catalogue, old, new, expected):
    assert_error(tmp_path, catalogue, changed(VALID, old, new), new, expected)


def test_a_key_result_with_both_kpi_and_manual_is_refused(tmp_path, catalogue):
    text = changed(VALID, "baseline: 120, target: 48}\n",
                   "baseline: 120, target: 48}\n        manual: {unit: hours, baseline: 120, target: 48}\n")

    assert_error(tmp_path, catalogue, text, "manual: {unit: hours",
                 "key result 'acme-lead-time' has both kpi and manual: give exactly one")


def test_a_key_result_with_neither_kpi_nor_manual_is_refused(tmp_path, catalogue):
    text = changed(VALID, "        manual: {unit: bugs, baseline: 8, target: 2}\n", "")

    assert_error(tmp_path, catalogue, text, "- id: alex-open-bugs",
                 "key result 'alex-open-bugs' needs kpi: {id, scope, baseline, target} or manual:", "got neither")


def test_an_objective_without_key_results_is_refused(tmp_path, catalogue):
    start = VALID.index("    key_results:\n      - id: payments-coverage")
    text = VALID[:start] + "    key_results: []\n" + VALID[VALID.index("  - id: alex-growth"):]

    assert_error(tmp_path, catalogue, text, "key_results: []", "'payments-quality' has no key results")


def test_a_period_not_shaped_like_a_quarter_is_refused(tmp_path, catalogue):
    text = changed(VALID, "period: 2026-Q4", "period: 2026-10")

    assert_error(tmp_path, catalogue, text, "period: 2026-10",
                 "the file: period must be a quarter like 2026-Q4 (year, -Q, quarter 1-4), got '2026-10'")


def test_a_period_that_is_not_the_file_name_is_refused(tmp_path, catalogue):
    text = changed(VALID, "period: 2026-Q4", "period: 2026-Q3")
    text = text.replace("2026-10-09", "2026-07-09").replace("2026-11-13", "2026-08-13")

    assert_error(tmp_path, catalogue, text, "period: 2026-Q3",
                 "period 2026-Q3 does not match the file name 2026-Q4.yaml")


def test_a_file_not_named_after_a_period_is_refused(tmp_path, catalogue):
    text = "# next quarter\n" + VALID

    assert_error(tmp_path, catalogue, text, "period: 2026-Q4", "the file name 'okrs-q4.yaml' is not a period",
                 "name OKR files <period>.yaml", name="okrs-q4.yaml")


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path, catalogue):
    file, line, message = only_error(tmp_path, catalogue, "- just\n- a list\n")
    assert line == 1 and message == "an OKR file must be a mapping with period, objectives, got a list"


# --- references: KPI catalogue, teams, repositories -------------------------------------


def test_an_unknown_kpi_id_is_refused(tmp_path, catalogue):
    text = changed(VALID, "id: lead_time_for_changes", "id: lead_time")

    assert_error(tmp_path, catalogue, text, "id: lead_time,",
                 "key result 'acme-lead-time': unknown KPI id 'lead_time' (did you mean 'lead_time_for_changes'?); "
                 "KPI ids of the catalogue: deployment_frequency, lead_time_for_changes,")


def test_an_unknown_team_is_refused(tmp_path, catalogue):
    text = changed(VALID, "owner: {team: platform}", "owner: {team: infra}")

    assert_error(tmp_path, catalogue, text, "owner: {team: infra}", "objective 'acme-ship': unknown team 'infra'",
                 "growth, payments, platform (or unassigned)")


def test_the_unassigned_team_is_a_known_team(tmp_path, catalogue):
    write(tmp_path, "2026-Q4.yaml", changed(VALID, "owner: {team: platform}", "owner: {team: unassigned}"))

    assert errors_of(tmp_path, catalogue) == []


@pytest.mark.parametrize("repository", ["", "          repository: null\n"], ids=["absent", "null"])
def test_scope_repository_without_a_repository_is_refused(tmp_path, catalogue, repository):
    text = changed(VALID, "          repository: acme/payments-api\n", repository)

    assert_error(tmp_path, catalogue, text, "scope: repository",
                 "key result 'payments-coverage': scope repository needs repository: owner/repo")


def test_a_repository_of_another_team_is_refused(tmp_path, catalogue):
    text = changed(VALID, "repository: acme/payments-api", "repository: acme/web-app")

    assert_error(tmp_path, catalogue, text, "repository: acme/web-app",
                 "repository acme/web-app belongs to team growth", "not to payments, the objective's owner team")


def test_a_repository_with_scope_team_is_refused(tmp_path, catalogue):
    text = changed(VALID, "scope: repository", "scope: team")

    assert_error(tmp_path, catalogue, text, "repository: acme/payments-api",
                 "scope team measures the whole team: remove repository")


def test_a_kpi_without_repository_rows_at_scope_repository_is_refused(tmp_path, catalogue):
    # production bugs come from Jira issues, which carry no repository
    text = changed(VALID, "{id: deployment_frequency, scope: team, baseline: 5, target: 10}",
                   "{id: production_bugs, scope: repository, repository: acme/platform-core, baseline: 10, target: 5}")

    assert_error(tmp_path, catalogue, text, "scope: repository, repository: acme/platform-core",
                 "production_bugs has no repository rows in kpi_period")


# --- ids ------------------------------------------------------------------------------


def test_an_objective_id_used_in_another_period_is_refused_naming_both_places(tmp_path, catalogue):
    write(tmp_path, "2026-Q3.yaml", q3_file("acme-ship"))
    write(tmp_path, "2026-Q4.yaml", VALID)

    errors = errors_of(tmp_path, catalogue)

    assert errors == [(str(tmp_path / "2026-Q4.yaml"), line_of(VALID, "- id: acme-ship"),
                       f"duplicate id 'acme-ship': objective 'acme-ship' here and the objective at "
                       f"{tmp_path / '2026-Q3.yaml'}:3 (ids are unique across every period's file)")]


def test_a_key_result_id_used_twice_is_refused_naming_both_places(tmp_path, catalogue):
    text = changed(VALID, "- id: alex-open-bugs", "- id: acme-deploys")

    first, second = lines_of(text, "- id: acme-deploys")

    file, line, message = only_error(tmp_path, catalogue, text)

    assert line == second
    assert message.startswith(f"duplicate id 'acme-deploys': key result 'acme-deploys' here and the key result at "
                              f"{file}:{first}")


def test_a_key_result_id_equal_to_an_objective_id_is_refused(tmp_path, catalogue):
    text = changed(VALID, "- id: alex-open-bugs", "- id: alex-growth")
    objective_line, key_result_line = lines_of(text, "- id: alex-growth")

    file, line, message = only_error(tmp_path, catalogue, text)

    assert line == key_result_line and f"the objective at {file}:{objective_line}" in message


# --- alignment --------------------------------------------------------------------------


def test_a_key_result_named_as_parent_is_refused(tmp_path, catalogue):
    text = changed(VALID, "parent: acme-ship", "parent: acme-deploys")

    assert_error(tmp_path, catalogue, text, "parent: acme-deploys",
                 "parent 'acme-deploys' is a key result (of objective 'acme-ship'",
                 "objectives align to objectives, never to key results")


def test_an_unknown_parent_is_refused(tmp_path, catalogue):
    text = changed(VALID, "parent: acme-ship", "parent: acme-shipping")

    assert_error(tmp_path, catalogue, text, "parent: acme-shipping",
                 "objective 'payments-quality': unknown parent objective 'acme-shipping' (did you mean 'acme-ship'?)")


def test_a_parent_in_another_period_is_refused_naming_that_period(tmp_path, catalogue):
    write(tmp_path / "okrs", "2026-Q3.yaml", q3_file("acme-q3"))
    text = changed(VALID, "parent: acme-ship", "parent: acme-q3")

    assert_error(tmp_path, catalogue, text, "parent: acme-q3", "parent 'acme-q3' is an objective of 2026-Q3 (",
                 "2026-Q3.yaml:3)", "of its own period (2026-Q4)")


def test_an_alignment_cycle_is_refused_naming_its_objectives(tmp_path, catalogue):
    text = changed(VALID, "    owner: {team: payments}\n    parent: acme-ship\n",
                   "    owner: {team: payments}\n    parent: alex-growth\n")

    assert_error(tmp_path, catalogue, text, "parent: alex-growth",
                 "objectives 'payments-quality', 'alex-growth' form an alignment cycle "
                 "('payments-quality' -> 'alex-growth' -> 'payments-quality')")


def test_an_objective_that_is_its_own_parent_is_a_cycle(tmp_path, catalogue):
    text = changed(VALID, "parent: acme-ship", "parent: payments-quality")
    own_parent_line = lines_of(text, "parent: payments-quality")[0]  # the other is alex-growth's

    file, line, message = only_error(tmp_path, catalogue, text)

    assert line == own_parent_line
    assert message.startswith("objectives 'payments-quality' form an alignment cycle ('payments-quality' -> "
                              "'payments-quality')")


def test_a_company_objective_with_a_parent_is_refused(tmp_path, catalogue):
    text = changed(VALID, "    owner: {team: platform}\n", "    owner: {team: platform}\n    parent: alex-growth\n")

    path = write(tmp_path, "2026-Q4.yaml", text)

    errors = errors_of(tmp_path, catalogue)

    line = line_of(text, "parent: alex-growth")
    assert errors == [
        (str(path), line, "objective 'acme-ship' is a company objective, the top of the alignment: it has no parent "
                          "(got parent 'alex-growth')"),
        (str(path), line, "objectives 'acme-ship', 'alex-growth', 'payments-quality' form an alignment cycle "
                          "('acme-ship' -> 'alex-growth' -> 'payments-quality' -> 'acme-ship'): a chain of parents "
                          "must end at an objective without a parent"),  # alex-growth aligns to it, through its team
    ]


def test_team_and_individual_objectives_may_have_no_parent(tmp_path, catalogue):
    text = changed(changed(VALID, "    parent: acme-ship\n", ""), "    parent: payments-quality\n", "")
    write(tmp_path, "2026-Q4.yaml", text)

    assert errors_of(tmp_path, catalogue) == []


# --- targets and weights ----------------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("baseline: 120, target: 48", "baseline: 120, target: 150",
     "target 150 is above the baseline 120, but lead_time_for_changes is lower_is_better (KPI catalogue): "
     "the target must be below the baseline"),
    ("baseline: 5, target: 10", "baseline: 5, target: 3",
     "target 3 is below the baseline 5, but deployment_frequency is higher_is_better (KPI catalogue): "
     "the target must be above the baseline"),
    ("baseline: 120, target: 48", "baseline: 120, target: 120",
     "target equals the baseline (120); lead_time_for_changes is lower_is_better: the target must be below"),
], ids=["lower-is-better-target-above", "higher-is-better-target-below", "target-equals-baseline"])
def test_a_kpi_target_on_the_wrong_side_of_the_baseline_is_refused(tmp_path, catalogue, old, new, expected):
    assert_error(tmp_path, catalogue, changed(VALID, old, new), new, expected)


def test_a_manual_target_equal_to_its_baseline_is_refused(tmp_path, catalogue):
    text = changed(VALID, "baseline: 8, target: 2", "baseline: 8, target: 8")

    assert_error(tmp_path, catalogue, text, "baseline: 8, target: 8",
                 "key result 'alex-open-bugs': target equals the baseline (8)")


@pytest.mark.parametrize("weight", ["0", "-0.2"])
def test_a_weight_not_above_zero_is_refused(tmp_path, catalogue, weight):
    text = changed(changed(VALID, "weight: 0.6", f"weight: {weight}"), "weight: 0.4", f"weight: {1 - float(weight)}")

    assert_error(tmp_path, catalogue, text, f"weight: {weight}\n",
                 f"key result 'alex-talks': weight must be greater than 0, got {float(weight):g}")


def test_weights_that_do_not_sum_to_one_are_refused(tmp_path, catalogue):
    text = changed(VALID, "weight: 0.6", "weight: 0.5")
    key_results_line = line_of(text, "id: alex-growth") + 6

    file, line, message = only_error(tmp_path, catalogue, text)

    assert line == key_results_line and text.splitlines()[line - 1] == "    key_results:"
    assert message == ("objective 'alex-growth': the weights of its key results sum to 0.9 (0.5 + 0.4); "
                       "they must sum to 1")


def test_weights_summing_to_one_within_float_rounding_are_accepted(tmp_path, catalogue):
    # 0.6 + 0.3 + 0.1 is 0.9999999999999999 in floating point
    assert 0.6 + 0.3 + 0.1 != 1
    text = changed(VALID, "        weight: 0.4\n        manual: {unit: bugs, baseline: 8, target: 2}\n",
                   "        weight: 0.3\n        manual: {unit: bugs, baseline: 8, target: 2}\n"
                   "      - {id: alex-pairing, title: Pair, weight: 0.1, manual: {unit: sessions, baseline: 0, "
                   "target: 10}}\n")
    write(tmp_path, "2026-Q4.yaml", text)

    assert errors_of(tmp_path, catalogue) == []


# --- individual objectives --------------------------------------------------------------


@pytest.mark.parametrize("owner", ["owner: {team: payments}", "owner: {person: null, team: payments}"],
                         ids=["absent", "null"])
def test_an_individual_objective_without_a_person_is_refused(tmp_path, catalogue, owner):
    text = changed(VALID, "owner: {person: alex, team: payments}", owner)

    assert_error(tmp_path, catalogue, text, f"{owner}\n    parent: payments-quality",
                 "objective 'alex-growth' is an individual objective: its owner names the person and the team")


def test_an_individual_objective_without_a_team_is_refused(tmp_path, catalogue):
    text = changed(VALID, "owner: {person: alex, team: payments}", "owner: {person: alex}")

    assert_error(tmp_path, catalogue, text, "owner: {person: alex}",
                 "objective 'alex-growth': owner is missing the required key 'team'")


def test_an_individual_objective_with_a_kpi_key_result_is_refused(tmp_path, catalogue):
    text = changed(VALID, "        manual: {unit: bugs, baseline: 8, target: 2}\n",
                   "        kpi: {id: production_bugs, scope: team, baseline: 8, target: 2}\n")

    assert_error(tmp_path, catalogue, text, "kpi: {id: production_bugs",
                 "key result 'alex-open-bugs' links a KPI, but 'alex-growth' is an individual objective",
                 "KPIs measure teams, never a person")


@pytest.mark.parametrize(("old", "new"), [
    ("owner: {team: platform}", "owner: {team: platform, person: kim}"),
    ("owner: {team: payments}\n    parent: acme-ship", "owner:\n      team: payments\n      person: kim\n"
                                                       "    parent: acme-ship"),
], ids=["company", "team"])
def test_a_company_or_team_objective_naming_a_person_is_refused(tmp_path, catalogue, old, new):
    text = changed(VALID, old, new)

    assert_error(tmp_path, catalogue, text, "kim", "objective, owned by a team: owner is {team: <team>} without a "
                                                   "person")


# --- check-ins --------------------------------------------------------------------------


@pytest.mark.parametrize("day", ["2026-09-30", "2027-01-01"])
def test_a_check_in_outside_the_period_is_refused(tmp_path, catalogue, day):
    text = changed(VALID, "date: 2026-11-13", f"date: {day}")

    assert_error(tmp_path, catalogue, text, f"date: {day}",
                 f"key result 'alex-talks': check-in date {day} is outside 2026-Q4 (2026-10-01 to 2026-12-31)")


def test_check_ins_on_the_first_and_last_day_of_the_period_are_accepted(tmp_path, catalogue):
    text = changed(changed(VALID, "date: 2026-10-09", "date: 2026-10-01"), "date: 2026-11-13", "date: 2026-12-31")
    write(tmp_path, "2026-Q4.yaml", text)

    assert errors_of(tmp_path, catalogue) == []


@pytest.mark.parametrize("confidence", ["1.5", "-0.1"])
def test_a_confidence_outside_zero_to_one_is_refused(tmp_path, catalogue, confidence):
    text = changed(VALID, "confidence: 0.6}", f"confidence: {confidence}}}")

    assert_error(tmp_path, catalogue, text, f"confidence: {confidence}",
                 f"check-in confidence must be between 0 and 1, got {float(confidence):g}")


def test_two_check_ins_on_one_date_are_refused(tmp_path, catalogue):
    text = changed(VALID, "date: 2026-11-13", "date: 2026-10-09")
    first, second = lines_of(text, "date: 2026-10-09")

    file, line, message = only_error(tmp_path, catalogue, text)

    assert line == second and message == (f"key result 'alex-talks': a second check-in on 2026-10-09 (the first is "
                                           f"at line {first}); one check-in per date")


# --- the command ------------------------------------------------------------------------

runner = CliRunner()


def test_okr_validate_prints_what_it_read(tmp_path):
    from kpi.cli import app

    write(tmp_path, "2026-Q4.yaml", VALID)

    result = runner.invoke(app, ["okr", "validate", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 3 objectives, 5 key results in 1 period(s)\n"


def test_okr_validate_prints_each_error_with_file_and_line_and_exits_1(tmp_path):
    from kpi.cli import app

    text = changed(VALID, "weight: 0.6", "weight: 0.5")
    write(tmp_path, "2026-Q4.yaml", text)

    result = runner.invoke(app, ["okr", "validate", str(tmp_path)])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"{tmp_path / '2026-Q4.yaml'}:{line_of(text, 'id: alex-growth') + 6}: objective 'alex-growth': the " \
           "weights of its key results sum to 0.9" in result.stderr


def test_okr_validate_refuses_a_folder_that_does_not_exist(tmp_path):
    from kpi.cli import app

    result = runner.invoke(app, ["okr", "validate", str(tmp_path / "nowhere")])

    assert result.exit_code == 2 and "not a folder" in result.stderr
