"""WarehouseLoader: idempotent merge, change detection, atomic watermarks."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from extractors.errors import LoadError
from extractors.extract import BatchManifest
from extractors.loader import WarehouseLoader

STREAM = "github__pull_requests"
SCOPE = "acme/payments-api"


def write_batch(tmp_path: Path, run_id: str, records: list[dict], *, new_cursor: str | None,
                previous: str | None = None, stream: str = STREAM,
                extracted_at: str = "2024-06-10T12:00:00+00:00", scope: str = SCOPE) -> BatchManifest:
    path = tmp_path / run_id / stream / (scope.replace("/", "__") + ".jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [{"record_key": str(r["id"]), "scope": scope, "updated_at": r["updated_at"], "payload": r}
             for r in records]
    path.write_text("".join(json.dumps(l, sort_keys=True, separators=(",", ":")) + "\n" for l in lines))
    return BatchManifest(stream=stream, scope=scope, run_id=run_id, path=str(path), records=len(records),
                         previous_cursor=previous, new_cursor=new_cursor, extracted_at=extracted_at,
                         requests=1, complete=True)


def table_rows(db: Path, table: str = STREAM) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            f"SELECT record_key, scope, updated_at, payload::VARCHAR, extracted_at, run_id "
            f"FROM raw.{table} ORDER BY record_key").fetchall()


def state_rows(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT stream, scope, cursor_value, moved_at, run_id FROM raw._stream_state "
                           "ORDER BY ALL").fetchall()


RECORDS = [
    {"id": 1, "title": "one", "updated_at": "2024-06-01T00:00:00Z"},
    {"id": 2, "title": "two", "updated_at": "2024-06-02T00:00:00Z"},
]


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "warehouse.duckdb"


def test_loading_the_same_window_twice_leaves_tables_identical(tmp_path, db):
    loader = WarehouseLoader(db)
    loader.load([write_batch(tmp_path, "run-1", RECORDS, new_cursor="2024-06-02T00:00:00Z")])
    rows_after_first, state_after_first = table_rows(db), state_rows(db)
    # when the same records come back in a later run
    report = loader.load([write_batch(tmp_path, "run-2", RECORDS, new_cursor="2024-06-02T00:00:00Z",
                                      extracted_at="2024-06-11T12:00:00+00:00")])
    # then nothing moves: not even extracted_at / run_id of the unchanged rows
    assert table_rows(db) == rows_after_first
    assert state_rows(db) == state_after_first
    assert [r[5] for r in rows_after_first] == ["run-1", "run-1"]
    assert (report.inserted, report.updated, report.unchanged) == (0, 0, 2)
    assert not report.batches[0].watermark_moved


def test_changed_payload_updates_exactly_that_row(tmp_path, db):
    loader = WarehouseLoader(db)
    loader.load([write_batch(tmp_path, "run-1", RECORDS, new_cursor="2024-06-02T00:00:00Z")])
    before = {row[0]: row for row in table_rows(db)}
    changed = [RECORDS[0], {**RECORDS[1], "title": "two (edited)", "updated_at": "2024-06-03T00:00:00Z"},
               {"id": 3, "title": "three", "updated_at": "2024-06-03T00:00:00Z"}]
    report = loader.load([write_batch(tmp_path, "run-2", changed, new_cursor="2024-06-03T00:00:00Z",
                                      extracted_at="2024-06-11T12:00:00+00:00")])
    after = {row[0]: row for row in table_rows(db)}
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 1)
    assert after["1"] == before["1"]
    assert json.loads(after["2"][3])["title"] == "two (edited)" and after["2"][5] == "run-2"
    assert after["3"][5] == "run-2"
    assert WarehouseLoader(db).read_watermarks() == {(STREAM, SCOPE): "2024-06-03T00:00:00Z"}


def test_failed_batch_rolls_back_its_whole_scope_tables_and_watermarks(tmp_path, db):
    loader = WarehouseLoader(db)
    loader.load([write_batch(tmp_path, "run-1", RECORDS, new_cursor="2024-06-02T00:00:00Z")])
    rows_before, state_before = table_rows(db), state_rows(db)
    good = write_batch(tmp_path, "run-2", [{"id": 9, "title": "new", "updated_at": "2024-06-09T00:00:00Z"}],
                       new_cursor="2024-06-09T00:00:00Z")
    corrupt = write_batch(tmp_path, "run-2", RECORDS, new_cursor="2024-06-09T00:00:00Z",
                          stream="github__deployments")
    Path(corrupt.path).write_text('{"record_key": "1", "scope": "x", "payload": {"id": 1}}\n{"record_key": "2", "sco')
    # when the second batch of the same scope is corrupt
    with pytest.raises(LoadError) as caught:
        loader.load([good, corrupt])
    # then the error names the file and the scope's first batch (merge and watermark) was undone
    assert corrupt.path in str(caught.value)
    assert table_rows(db) == rows_before
    assert state_rows(db) == state_before
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw._load_log").fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM information_schema.tables "
                           "WHERE table_name = 'github__deployments'").fetchone()[0] == 0


def _two_scope_night(tmp_path: Path, run_id: str) -> list[BatchManifest]:
    """A night of two repositories, each a parent stream and a child stream."""
    night = []
    for number, scope in enumerate(("acme/one", "acme/two")):
        night.append(write_batch(tmp_path, run_id, [{"id": 10 * number + 1, "updated_at": "2024-06-05T00:00:00Z"}],
                                 new_cursor="2024-06-05T00:00:00Z", scope=scope))
        night.append(write_batch(tmp_path, run_id, [{"id": 10 * number + 2, "updated_at": "2024-06-05T00:00:00Z"}],
                                 new_cursor="2024-06-05T00:00:00Z", scope=scope, stream="github__pull_request_reviews"))
    return night


def test_a_failed_scope_rolls_back_alone_and_a_rerun_loads_exactly_once(tmp_path, db):
    # given a night of two repositories whose second scope's child batch is truncated
    night = _two_scope_night(tmp_path, "run-1")
    intact = Path(night[3].path).read_text()
    Path(night[3].path).write_text(intact[: len(intact) // 2])
    loader = WarehouseLoader(db)
    # when it is loaded
    with pytest.raises(LoadError) as caught:
        loader.load(night)
    # then the first scope (parent and child) is committed with its watermarks, the second
    # has nothing (its parent rolled back with its child), and the error says so
    assert night[3].path in str(caught.value) and "1 scope(s) loaded before it stay committed" in str(caught.value)
    assert [row[:2] for row in table_rows(db)] == [("1", "acme/one")]
    assert [row[:2] for row in table_rows(db, "github__pull_request_reviews")] == [("2", "acme/one")]
    assert loader.read_watermarks() == {(STREAM, "acme/one"): "2024-06-05T00:00:00Z",
                                        ("github__pull_request_reviews", "acme/one"): "2024-06-05T00:00:00Z"}
    # when the same night is loaded again once the batch is whole
    Path(night[3].path).write_text(intact)
    report = loader.load(night)
    # then the warehouse equals a clean single load: nothing lost, nothing twice
    clean = tmp_path / "clean.duckdb"
    WarehouseLoader(clean).load(_two_scope_night(tmp_path / "clean", "run-1"))
    for table in (STREAM, "github__pull_request_reviews"):
        assert [row[:4] for row in table_rows(db, table)] == [row[:4] for row in table_rows(clean, table)]
    assert loader.read_watermarks() == WarehouseLoader(clean).read_watermarks()
    assert (report.inserted, report.unchanged) == (2, 2)
    assert report.committed_scopes == ["acme/one", "acme/two"]


def test_record_count_mismatch_with_manifest_is_rejected(tmp_path, db):
    manifest = write_batch(tmp_path, "run-1", RECORDS, new_cursor="2024-06-02T00:00:00Z")
    Path(manifest.path).write_text(Path(manifest.path).read_text().splitlines()[0] + "\n")  # lost a line
    with pytest.raises(LoadError, match="manifest says 2"):
        WarehouseLoader(db).load([manifest])
    assert WarehouseLoader(db).read_watermarks() == {}


def test_watermark_never_moves_backwards(tmp_path, db):
    loader = WarehouseLoader(db)
    loader.load([write_batch(tmp_path, "run-1", RECORDS, new_cursor="2024-06-02T00:00:00Z")])
    report = loader.load([write_batch(tmp_path, "run-0", RECORDS[:1], new_cursor="2024-06-01T00:00:00Z")])
    assert loader.read_watermarks() == {(STREAM, SCOPE): "2024-06-02T00:00:00Z"}
    assert report.batches[0].cursor_after == "2024-06-02T00:00:00Z"


def test_empty_batch_creates_table_and_keeps_watermark(tmp_path, db):
    loader = WarehouseLoader(db)
    report = loader.load([write_batch(tmp_path, "run-1", [], new_cursor=None)])
    assert table_rows(db) == [] and report.inserted == 0
    assert loader.read_watermarks() == {}


def test_read_watermarks_on_missing_file_is_empty(tmp_path):
    missing = tmp_path / "nope.duckdb"
    assert WarehouseLoader(missing).read_watermarks() == {}
    assert not missing.exists()  # reading must not create the database


def test_raw_table_has_the_documented_columns(tmp_path, db):
    WarehouseLoader(db).load([write_batch(tmp_path, "run-1", RECORDS, new_cursor="2024-06-02T00:00:00Z")])
    with duckdb.connect(str(db), read_only=True) as con:
        columns = con.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            f"WHERE table_schema = 'raw' AND table_name = '{STREAM}' ORDER BY ordinal_position").fetchall()
        duplicates = con.execute(f"SELECT count(*) - count(DISTINCT record_key) FROM raw.{STREAM}").fetchone()[0]
    assert columns == [
        ("record_key", "VARCHAR", "NO"), ("scope", "VARCHAR", "NO"),
        ("updated_at", "TIMESTAMP WITH TIME ZONE", "YES"), ("payload", "JSON", "NO"),
        ("extracted_at", "TIMESTAMP WITH TIME ZONE", "NO"), ("run_id", "VARCHAR", "NO"),
    ]
    assert duplicates == 0


def test_reference_table_is_replaced_wholesale(tmp_path, db):
    loader = WarehouseLoader(db)
    loader.load_reference_table("team_repositories", [{"team": "payments", "repository": "acme/payments-api"},
                                                      {"team": "payments", "repository": "acme/ledger"}])
    count = loader.load_reference_table("team_repositories", [{"team": "web", "repository": "acme/site"}])
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT team, repository FROM raw.team_repositories").fetchall()
    assert count == 1 and rows == [("web", "acme/site")]
    loader.load_reference_table("team_repositories", [], columns={"team": "VARCHAR", "repository": "VARCHAR"})
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.team_repositories").fetchone()[0] == 0


def test_http_validator_is_stored_with_the_load_and_forgotten_when_not_trusted(tmp_path, db):
    from dataclasses import replace

    loader = WarehouseLoader(db)
    batch = write_batch(tmp_path, "run-1", RECORDS, new_cursor="2024-06-02T00:00:00Z")
    loader.load([replace(batch, etag='W/"abc"', etag_url="http://x/pulls?page=1")])
    assert loader.read_validators() == {(STREAM, SCOPE): {"etag": 'W/"abc"', "url": "http://x/pulls?page=1"}}
    # a failed load moves neither the watermark nor the validator
    broken = replace(write_batch(tmp_path, "run-2", RECORDS, new_cursor="2024-07-01T00:00:00Z"),
                     etag='W/"def"', etag_url="http://x/pulls?page=1", records=99)
    with pytest.raises(LoadError):
        loader.load([broken])
    assert loader.read_validators()[(STREAM, SCOPE)]["etag"] == 'W/"abc"'
    assert loader.read_watermarks()[(STREAM, SCOPE)] == "2024-06-02T00:00:00Z"
    # a 304 batch: empty, complete, same validator, watermark kept
    empty = write_batch(tmp_path, "run-3", [], new_cursor="2024-06-02T00:00:00Z", previous="2024-06-02T00:00:00Z")
    loader.load([replace(empty, etag='W/"abc"', etag_url="http://x/pulls?page=1", not_modified=True)])
    assert loader.read_validators()[(STREAM, SCOPE)]["etag"] == 'W/"abc"'
    # a read whose first page could not vouch for the scope forgets the validator
    loader.load([write_batch(tmp_path, "run-4", RECORDS, new_cursor="2024-06-02T00:00:00Z")])
    assert loader.read_validators() == {}
    assert len(table_rows(db)) == 2


def test_state_tables_of_an_older_warehouse_are_upgraded_in_place(tmp_path, db):
    # a warehouse written before validators existed: no ops schema
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute("CREATE TABLE raw._stream_state (stream VARCHAR NOT NULL, scope VARCHAR NOT NULL, "
                    "cursor_value VARCHAR, moved_at TIMESTAMPTZ NOT NULL, run_id VARCHAR NOT NULL, "
                    "PRIMARY KEY (stream, scope))")
        con.execute("INSERT INTO raw._stream_state VALUES (?, ?, '2024-06-01T00:00:00Z', now(), 'old')", [STREAM, SCOPE])
    loader = WarehouseLoader(db)
    assert loader.read_validators() == {}
    loader.load([write_batch(tmp_path, "run-1", RECORDS, new_cursor="2024-06-02T00:00:00Z")])
    assert loader.read_watermarks()[(STREAM, SCOPE)] == "2024-06-02T00:00:00Z"


def test_a_key_stays_unique_across_loads_scopes_and_duplicate_lines(tmp_path, db):
    # no PRIMARY KEY holds this (its in-memory index grows with the table): the merge must
    loader = WarehouseLoader(db)
    loader.load([write_batch(tmp_path, "run-1", RECORDS, new_cursor="2024-06-02T00:00:00Z")])
    moved = write_batch(tmp_path, "run-2", [{**RECORDS[0], "title": "moved", "updated_at": "2024-06-05T00:00:00Z"}],
                        new_cursor="2024-06-05T00:00:00Z", scope="acme/renamed-api")
    again = write_batch(tmp_path, "run-3", RECORDS, new_cursor="2024-06-02T00:00:00Z")
    twice = again.path + ".twice.jsonl"
    Path(twice).write_text(Path(again.path).read_text() * 2)  # every line twice in one batch
    doubled = BatchManifest(**{**again.__dict__, "path": twice, "records": 2})
    loader.load([moved])
    loader.load([doubled])
    with duckdb.connect(str(db), read_only=True) as con:
        keys = con.execute(f"SELECT record_key, count(*) FROM raw.{STREAM} GROUP BY 1 ORDER BY 1").fetchall()
    assert keys == [("1", 1), ("2", 1)]


def test_duplicate_keys_in_one_batch_keep_the_newest_version_whatever_the_line_order(tmp_path, db):
    newest = {**RECORDS[0], "title": "newest", "updated_at": "2024-06-09T00:00:00Z"}
    older = {**RECORDS[0], "title": "older", "updated_at": "2024-06-03T00:00:00Z"}
    undated = {**RECORDS[0], "title": "undated", "updated_at": None}
    only_undated = {**RECORDS[1], "title": "only undated", "updated_at": None}
    batch = write_batch(tmp_path, "run-1", [older, newest, undated, older, only_undated, only_undated],
                        new_cursor="2024-06-09T00:00:00Z")
    report = WarehouseLoader(db).load([BatchManifest(**{**batch.__dict__, "records": 2})])
    assert report.inserted == 2
    with duckdb.connect(str(db), read_only=True) as con:
        titles = con.execute(f"SELECT record_key, payload->>'title' FROM raw.{STREAM} ORDER BY 1").fetchall()
    assert titles == [(str(RECORDS[0]["id"]), "newest"), (str(RECORDS[1]["id"]), "only undated")]
