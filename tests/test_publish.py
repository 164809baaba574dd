import json
import os
import stat
import subprocess
import sys

import duckdb

from kpi.publish import current_parquet_export, parquet_root, publish


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


def test_a_view_mart_is_published_as_a_table_of_its_rows(tmp_path):
    """Per-KPI marts are views in the working warehouse (dbt names their tables with the
    file's own catalog, "work"); readers of the published file get their rows as a table."""
    working, published = tmp_path / "work.duckdb", tmp_path / "warehouse.duckdb"
    make_working(working, 7)
    with duckdb.connect(str(working)) as connection:
        connection.execute('create view marts.kpi_doubled as select value * 2 as doubled from "work"."marts"."kpi_x"')
    assert publish(working, published, run_id="r1") == {"marts.kpi_doubled": 1, "marts.kpi_x": 1}
    with duckdb.connect(str(published), read_only=True) as connection:
        assert connection.execute("select table_type from information_schema.tables "
                                  "where table_name = 'kpi_doubled'").fetchall() == [("BASE TABLE",)]
        assert connection.execute("select doubled from marts.kpi_doubled").fetchall() == [(14,)]


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


def make_two_marts(path, value: int):
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema if not exists marts")
        for table in ("kpi_a", "kpi_b"):
            connection.execute(f"create or replace table marts.{table} as select ? as value from range(?)",
                               [value, 3 + value % 2])


def read_export(folder):
    """Every table of one export folder, read through its manifest: (run id, {table: values})."""
    manifest = json.loads((folder / "manifest.json").read_text())
    values = {}
    with duckdb.connect() as connection:
        for name, entry in manifest["tables"].items():
            values[name] = [row[0] for row in connection.execute(
                "select value from read_parquet(?)", [str(folder / entry["path"])]).fetchall()]
    return manifest, values


def test_the_parquet_export_holds_every_published_table_with_its_rows(tmp_path):
    working, published = tmp_path / "work.duckdb", tmp_path / "pub" / "warehouse.duckdb"
    make_two_marts(working, 1)
    make_working(working, 5)
    counts = publish(working, published, run_id="r1")
    folder = current_parquet_export(published)
    manifest, values = read_export(folder)
    assert manifest["run_id"] == "r1"
    assert {name: entry["rows"] for name, entry in manifest["tables"].items()} == counts
    assert counts == {"marts.kpi_a": 4, "marts.kpi_b": 4, "marts.kpi_x": 1}
    assert values == {"marts.kpi_a": [1] * 4, "marts.kpi_b": [1] * 4, "marts.kpi_x": [5]}
    assert not (folder / "raw").exists()  # only the published schemas


def test_each_publish_switches_the_export_and_keeps_only_the_previous_one(tmp_path):
    working, published = tmp_path / "work.duckdb", tmp_path / "warehouse.duckdb"
    folders = []
    for run in range(1, 4):
        make_two_marts(working, run)
        publish(working, published, run_id=f"r{run}")
        folders.append(current_parquet_export(published))
    assert read_export(folders[-1])[0]["run_id"] == "r3"
    assert os.path.islink(parquet_root(published) / "current")
    assert sorted(p.name for p in parquet_root(published).iterdir()) == sorted(
        ["current", folders[1].name, folders[2].name])  # r1 removed, r2 kept for readers in mid-read


def test_a_reader_of_the_export_never_sees_two_runs_mixed_while_publishes_go_on(tmp_path):
    working, published = tmp_path / "work.duckdb", tmp_path / "warehouse.duckdb"
    make_two_marts(working, 0)
    publish(working, published, run_id="r0")
    # The publisher is another process, so its renames interleave freely with the reads here.
    publisher = subprocess.Popen([sys.executable, "-c", (
        "import sys, duckdb\n"
        "from kpi.publish import publish\n"
        "from pathlib import Path\n"
        "working, published = Path(sys.argv[1]), Path(sys.argv[2])\n"
        "for run in range(1, 13):\n"
        "    with duckdb.connect(str(working)) as c:\n"
        "        for t in ('kpi_a', 'kpi_b'):\n"
        "            c.execute(f'create or replace table marts.{t} as select ? as value from range(?)', [run, 3 + run % 2])\n"
        "    publish(working, published, run_id=f'r{run}')\n"), str(working), str(published)])
    seen = set()
    try:
        while publisher.poll() is None or len(seen) < 2:
            folder = current_parquet_export(published)
            manifest, values = read_export(folder)
            run = int(manifest["run_id"][1:])
            assert values == {"marts.kpi_a": [run] * (3 + run % 2), "marts.kpi_b": [run] * (3 + run % 2)}
            seen.add(run)
            if publisher.poll() is not None:
                break
    finally:
        publisher.wait(timeout=120)
    assert publisher.returncode == 0
    assert len(seen) >= 2  # the reader did read while the export changed under it
    assert read_export(current_parquet_export(published))[0]["run_id"] == "r12"
