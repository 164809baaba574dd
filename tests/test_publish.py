import os
import stat
import subprocess
import sys

import duckdb

from kpi.publish import publish


def make_working(path, value: int):
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema if not exists marts")
        connection.execute("create schema if not exists raw")
        connection.execute("create or replace table marts.kpi_x as select ? as value", [value])
        connection.execute("create or replace table raw.private as select 'internal' as secret")


def test_publish_writes_a_read_only_copy_of_the_marts_only(tmp_path):
    working, published = tmp_path / "work.duckdb", tmp_path / "pub" / "warehouse.duckdb"
    make_working(working, 1)
    counts = publish(working, published, run_id="r1")
    assert counts == {"marts.kpi_x": 1}
    assert stat.S_IMODE(os.stat(published).st_mode) & 0o222 == 0
    with duckdb.connect(str(published), read_only=True) as connection:
        assert connection.execute("select value from marts.kpi_x").fetchall() == [(1,)]
        assert connection.execute("select run_id from meta.publication").fetchall() == [("r1",)]
        schemas = {r[0] for r in connection.execute("select schema_name from information_schema.schemata").fetchall()}
        assert "raw" not in schemas


def test_a_reader_keeps_its_view_while_a_new_version_is_swapped_in(tmp_path):
    working, published = tmp_path / "work.duckdb", tmp_path / "warehouse.duckdb"
    make_working(working, 1)
    publish(working, published, run_id="r1")
    reader = duckdb.connect(str(published), read_only=True)
    try:
        make_working(working, 2)
        publish(working, published, run_id="r2")
        assert reader.execute("select value from marts.kpi_x").fetchall() == [(1,)]
        # A new reader is another process (DuckDB shares one instance per path inside a process).
        fresh = subprocess.run(
            [sys.executable, "-c", "import duckdb, sys; print(duckdb.connect(sys.argv[1], read_only=True)"
             ".execute('select value from marts.kpi_x').fetchone()[0])", str(published)],
            capture_output=True, text=True, check=True,
        )
        assert fresh.stdout.strip() == "2"
    finally:
        reader.close()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
