"""WarehouseLoader and key listings: deletion marking, order independence, moved issues, SQL safety."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from extractors.errors import LoadError
from extractors.extract import BatchManifest
from extractors.loader import WarehouseLoader
from extractors.streams.jira import ISSUE_KEYS, ISSUES, JiraFieldMapping, jira_streams, reconcile_due

LISTED_AT = "2026-11-27T02:00:00+00:00"


class Batches:
    """Hand-made landing batches in the extractor's format."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0

    def issues(self, scope: str, *issues: tuple[str, str], run_id: str = "run") -> BatchManifest:
        """(id, key) pairs -> a jira__issues batch."""
        lines = [{"record_key": issue_id, "scope": scope, "updated_at": "2026-11-26T10:00:00.000+0000",
                  "payload": {"id": issue_id, "key": key, "updated": "2026-11-26T10:00:00.000+0000"}}
                 for issue_id, key in issues]
        return self._write(ISSUES, scope, lines, run_id, key_listing_of=None)

    def listing(self, scope: str, *ids: str, run_id: str = "run", extracted_at: str = LISTED_AT) -> BatchManifest:
        lines = [{"record_key": issue_id, "scope": scope, "updated_at": None,
                  "payload": {"id": issue_id, "key": f"{scope}-{issue_id}"}} for issue_id in ids]
        return self._write(ISSUE_KEYS, scope, lines, run_id, key_listing_of=ISSUES, extracted_at=extracted_at)

    def _write(self, stream: str, scope: str, lines: list[dict], run_id: str, *, key_listing_of: str | None,
               extracted_at: str = "2026-11-27T01:00:00+00:00") -> BatchManifest:
        self.count += 1
        path = self.root / run_id / stream / f"{self.count}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in lines), encoding="utf-8")
        return BatchManifest(stream=stream, scope=scope, run_id=run_id, path=str(path), records=len(lines),
                             previous_cursor=None, new_cursor=None, extracted_at=extracted_at, requests=1,
                             complete=True, key_listing_of=key_listing_of)


@pytest.fixture
def batches(tmp_path) -> Batches:
    return Batches(tmp_path / "landing")


@pytest.fixture
def loader(tmp_path) -> WarehouseLoader:
    return WarehouseLoader(tmp_path / "warehouse.duckdb")


def issue_rows(loader: WarehouseLoader) -> dict[str, tuple[str, str, datetime | None]]:
    """record_key -> (scope, key, _deleted_at)."""
    with duckdb.connect(str(loader.db_path), read_only=True) as con:
        rows = con.execute(f"SELECT record_key, scope, payload->>'key', _deleted_at FROM raw.{ISSUES}").fetchall()
    return {record_key: (scope, key, deleted_at) for record_key, scope, key, deleted_at in rows}


def deleted(loader: WarehouseLoader) -> set[str]:
    return {key for key, (_, _, deleted_at) in issue_rows(loader).items() if deleted_at is not None}


def test_rows_missing_from_their_scopes_listing_are_marked_at_the_listing_time(loader, batches):
    loader.load([batches.issues("PAY", ("1", "PAY-1"), ("2", "PAY-2"), ("3", "PAY-3")),
                 batches.issues("GRO", ("7", "GRO-1"))])
    report = loader.load([batches.listing("PAY", "1", "3")])
    rows = issue_rows(loader)
    assert deleted(loader) == {"2"}
    assert rows["2"][2] == datetime.fromisoformat(LISTED_AT)
    assert rows["7"][2] is None  # another project's rows are not judged by PAY's listing
    assert report.deleted == 1


def undeleted_at(loader: WarehouseLoader) -> dict[str, datetime | None]:
    with duckdb.connect(str(loader.db_path), read_only=True) as con:
        return dict(con.execute(f"SELECT record_key, _undeleted_at FROM raw.{ISSUES}").fetchall())


def test_a_listed_or_reloaded_row_is_undeleted_and_stamped_for_incremental_staging(loader, batches):
    loader.load([batches.issues("PAY", ("1", "PAY-1"), ("2", "PAY-2"), ("3", "PAY-3"))])
    loader.load([batches.listing("PAY", "1")])
    assert deleted(loader) == {"2", "3"}
    assert set(undeleted_at(loader).values()) == {None}  # never deleted, or still deleted
    before = datetime.now(UTC)
    loader.load([batches.listing("PAY", "1", "2")])  # 2 is back (permission restored, ...)
    assert deleted(loader) == {"3"}
    stamps = undeleted_at(loader)
    # Its row was not rewritten (its batch is old): the stamp is how staging finds it tonight.
    assert stamps["1"] is None and stamps["3"] is None and stamps["2"] >= before
    loader.load([batches.issues("PAY", ("3", "PAY-3"))])  # delivered again by tonight's search
    assert deleted(loader) == set()
    assert undeleted_at(loader)["3"] > stamps["2"] and undeleted_at(loader)["2"] == stamps["2"]


@pytest.mark.parametrize("issues_first", [True, False])
def test_an_issue_moved_to_another_project_is_not_deleted_whatever_the_batch_order(loader, batches, issues_first):
    loader.load([batches.issues("GRO", ("5", "GRO-5"), ("6", "GRO-6")), batches.issues("PLAT", ("9", "PLAT-1"))])
    # GRO-5 moved to PLAT (PLAT-2): it left GRO's listing and arrives in PLAT's batch.
    listings = [batches.listing("GRO", "6"), batches.listing("PLAT", "9", "5")]
    moved = [batches.issues("PLAT", ("5", "PLAT-2"))]
    report = loader.load(moved + listings if issues_first else listings + moved)
    assert issue_rows(loader)["5"] == ("PLAT", "PLAT-2", None)
    assert deleted(loader) == set() and report.deleted == 0


def test_a_moved_issue_found_only_in_its_new_projects_listing_is_not_deleted(loader, batches):
    loader.load([batches.issues("GRO", ("5", "GRO-5"), ("6", "GRO-6"))])
    # Tonight's search of PLAT did not run (or did not reach it), but PLAT's listing holds it.
    loader.load([batches.listing("GRO", "6"), batches.listing("PLAT", "5")])
    assert deleted(loader) == set()
    assert issue_rows(loader)["5"][0] == "GRO"  # re-scoped when PLAT's issues next load
    loader.load([batches.issues("PLAT", ("5", "PLAT-2"))])
    assert issue_rows(loader)["5"] == ("PLAT", "PLAT-2", None)


def test_an_issue_loaded_in_the_same_load_is_not_judged_by_a_listing_taken_before_it(loader, batches):
    loader.load([batches.issues("PAY", ("1", "PAY-1"))])
    # The listing was read first; issue 2 was created before the search read it.
    loader.load([batches.listing("PAY", "1"), batches.issues("PAY", ("1", "PAY-1"), ("2", "PAY-2"))])
    assert deleted(loader) == set()


def test_listings_are_not_stored_and_other_raw_tables_get_no_deletion_column(loader, batches, tmp_path):
    github = Batches(tmp_path / "github")
    manifest = github._write("github__issues", "acme/api", [
        {"record_key": "1", "scope": "acme/api", "updated_at": None, "payload": {"id": 1}}], "run", key_listing_of=None)
    loader.load([manifest, batches.issues("PAY", ("1", "PAY-1")), batches.listing("PAY", "1")])
    with duckdb.connect(str(loader.db_path), read_only=True) as con:
        tables = {name for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'").fetchall()}
        columns = {(table, column) for table, column in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND column_name = '_deleted_at'").fetchall()}
        logged = con.execute("SELECT stream, scope, unchanged FROM raw._load_log WHERE stream = ?",
                             [ISSUE_KEYS]).fetchall()
    assert ISSUE_KEYS not in tables
    assert columns == {(ISSUES, "_deleted_at")}
    assert logged == [(ISSUE_KEYS, "PAY", 1)]


def test_an_existing_warehouse_gains_the_deletion_column_on_its_first_listing(loader, batches):
    loader.load([batches.issues("PAY", ("1", "PAY-1"), ("2", "PAY-2"))])
    with duckdb.connect(str(loader.db_path), read_only=True) as con:
        assert "_deleted_at" not in {c for (c,) in con.execute(
            f"SELECT column_name FROM information_schema.columns WHERE table_name = '{ISSUES}'").fetchall()}
    loader.load([batches.listing("PAY", "2")])
    assert deleted(loader) == {"1"}


def test_a_table_tracked_before_undelete_stamps_existed_gains_the_column(loader, batches):
    loader.load([batches.issues("PAY", ("1", "PAY-1"), ("2", "PAY-2"))])
    loader.load([batches.listing("PAY", "2")])
    with duckdb.connect(str(loader.db_path)) as con:  # as an older loader left it
        con.execute(f"ALTER TABLE raw.{ISSUES} DROP COLUMN _undeleted_at")
    loader.load([batches.issues("GRO", ("7", "GRO-7"))])  # a load without any listing
    assert undeleted_at(loader) == {"1": None, "2": None, "7": None}


def test_an_empty_raw_table_made_for_an_unconfigured_jira_has_both_deletion_columns(loader):
    """ensure_raw_tables (Jira not configured, or not loaded yet): staging reads both columns."""
    loader.ensure_raw_tables(list(jira_streams("cloud", JiraFieldMapping()).values()))
    with duckdb.connect(str(loader.db_path), read_only=True) as con:
        columns = {name for (name,) in con.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ?",
            [ISSUES]).fetchall()}
    assert {"_deleted_at", "_undeleted_at"} <= columns


def test_keys_and_scopes_with_quotes_cannot_alter_the_sql(loader, batches):
    hostile_key = "1'); DROP TABLE raw.jira__issues; --"
    hostile_scope = "PAY' OR '1'='1"
    loader.load([batches.issues(hostile_scope, (hostile_key, "PAY-1"), ("2", 'PAY-"2"')),
                 batches.issues("GRO", ("3", "GRO-3"))])
    loader.load([batches.listing(hostile_scope, "2")])
    rows = issue_rows(loader)
    assert set(rows) == {hostile_key, "2", "3"}  # the table is intact
    assert deleted(loader) == {hostile_key}  # only the hostile scope was judged
    loader.load([batches.listing(hostile_scope, hostile_key, "2")])
    assert deleted(loader) == set()


def test_a_listing_whose_count_disagrees_with_its_manifest_rolls_the_load_back(loader, batches):
    loader.load([batches.issues("PAY", ("1", "PAY-1"), ("2", "PAY-2"))])
    listing = batches.listing("PAY", "1")
    broken = BatchManifest(**{**listing.__dict__, "records": 2})
    with pytest.raises(LoadError, match="listing holds 1 keys, manifest says 2"):
        loader.load([batches.issues("PAY", ("3", "PAY-3")), broken])
    with duckdb.connect(str(loader.db_path), read_only=True) as con:
        keys = {key for (key,) in con.execute(f"SELECT record_key FROM raw.{ISSUES}").fetchall()}
        columns = {c for (c,) in con.execute(
            f"SELECT column_name FROM information_schema.columns WHERE table_name = '{ISSUES}'").fetchall()}
    assert keys == {"1", "2"} and "_deleted_at" not in columns  # nothing of the load stayed


def test_last_listing_load_paces_the_reconciliation(loader, batches):
    assert loader.read_last_loaded(ISSUE_KEYS) == {}
    now = datetime.now(UTC)
    assert reconcile_due(None, timedelta(days=7), now)
    loader.load([batches.issues("PAY", ("1", "PAY-1")), batches.listing("PAY", "1")])
    last = loader.read_last_loaded(ISSUE_KEYS)
    assert set(last) == {"PAY"}
    assert not reconcile_due(last["PAY"], timedelta(days=7), now)
    assert reconcile_due(last["PAY"], timedelta(days=7), now + timedelta(days=7, minutes=1))


def test_a_load_failing_after_a_listings_scope_marks_nothing_and_retakes_the_listing(loader, batches):
    # given PAY holds issues 1 and 2, and tonight's PAY listing names 1 only
    loader.load([batches.issues("PAY", ("1", "PAY-1"), ("2", "PAY-2"))])
    broken = batches.issues("GRO", ("3", "GRO-3"))
    broken = BatchManifest(**{**broken.__dict__, "records": 5})
    # when the load fails in a later scope (GRO) after PAY's scope committed
    with pytest.raises(LoadError, match="manifest says 5"):
        loader.load([batches.listing("PAY", "1"), broken])
    # then no deletion was marked and the listing does not count as taken: the next run lists again
    assert deleted(loader) == set()
    assert loader.read_last_loaded(ISSUE_KEYS) == {}
    # and a rerun that completes marks exactly the missing issue
    loader.load([batches.listing("PAY", "1"), batches.issues("GRO", ("3", "GRO-3"))])
    assert deleted(loader) == {"2"}
    assert set(loader.read_last_loaded(ISSUE_KEYS)) == {"PAY"}
