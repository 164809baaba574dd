"""The README's analyst guide: its ten example questions run on the published warehouse
and answer with rows (the SQL is read from the README itself, so the two cannot drift)."""

from __future__ import annotations

import re
import textwrap

import duckdb

from tests.conftest import PROJECT_ROOT

BEGIN, END = "<!-- analyst-questions:begin", "<!-- analyst-questions:end -->"


def readme_questions() -> list[str]:
    text = (PROJECT_ROOT / "README.md").read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1, "the README's question markers are missing or doubled"
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    return [textwrap.dedent(sql) for sql in re.findall(r"```sql\n(.*?)```", block, re.S)]


def test_the_readme_asks_ten_questions():
    assert len(readme_questions()) == 10


def test_every_readme_question_answers_with_rows_on_the_published_warehouse(small_warehouse):
    with duckdb.connect(str(small_warehouse["config"].published_warehouse), read_only=True) as connection:
        for number, sql in enumerate(readme_questions(), start=1):
            rows = connection.execute(sql).fetchall()
            assert rows, f"question {number} returned no row:\n{sql}"
            assert any(value is not None for row in rows for value in row), f"question {number}: only nulls"
