"""The same dbt project on PostgreSQL gives the same marts as on DuckDB.

The raw layer of the shared small-org run is copied into a fresh PostgreSQL database on
the local server (127.0.0.1:5432, trust auth; .ci/run starts it when it is down), the
project is built with `--target postgres` (models, contracts, data and unit tests), and
every mart is compared row for row with the published DuckDB warehouse.
"""

from __future__ import annotations

import math
import os
import secrets
from decimal import Decimal

import duckdb
import psycopg2
import pytest

from kpi.dbt_runner import run_dbt
from kpi.postgres import copy_raw_layer
from tests.support.small_warehouse import ANCHOR

PG = {"host": os.environ.get("KPI_PG_HOST", "127.0.0.1"), "port": int(os.environ.get("KPI_PG_PORT", "5432")),
      "user": os.environ.get("KPI_PG_USER", "postgres")}


@pytest.fixture(scope="module")
def postgres_marts(small_warehouse):
    database = f"kpi_test_{secrets.token_hex(4)}"
    admin = psycopg2.connect(dbname="postgres", **PG)
    admin.autocommit = True
    admin.cursor().execute(f'create database "{database}"')
    try:
        with psycopg2.connect(dbname=database, **PG) as connection:
            copied = copy_raw_layer(small_warehouse["config"].working_warehouse, connection)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("KPI_PG_DATABASE", database)
            patch.setenv("KPI_AS_OF", ANCHOR.isoformat())
            run_dbt(small_warehouse["config"], "build", ["--target", "postgres"])
        connection = psycopg2.connect(dbname=database, **PG)
        yield {"connection": connection, "copied": copied, "config": small_warehouse["config"]}
        connection.close()
    finally:
        admin.cursor().execute(f'drop database if exists "{database}" with (force)')
        admin.close()


def _normalise(value):
    if isinstance(value, Decimal):
        return float(value)
    return value


def _sort_key(row):
    return tuple((value is None, str(value)) for value in row)


def _equal(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-9)
    return a == b


def test_every_mart_on_postgres_equals_duckdb(postgres_marts):
    config = postgres_marts["config"]
    with duckdb.connect(str(config.published_warehouse), read_only=True) as con:
        marts = [name for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]
        expected = {name: sorted(con.execute(f'select * from marts."{name}"').fetchall(), key=_sort_key) for name in marts}
        columns = {name: [c[0] for c in con.execute(f'select * from marts."{name}" limit 0').description] for name in marts}
    assert len(marts) >= 15
    assert {"kpi_period", "kpi_daily", "dim_kpis", "kpi_release_on_time", "dora_metrics", "kpi_scorecard"} <= set(marts)
    with postgres_marts["connection"].cursor() as cursor:
        for name in marts:
            cursor.execute(f'select {", ".join(chr(34) + c + chr(34) for c in columns[name])} from marts."{name}"')
            got = sorted((tuple(_normalise(v) for v in row) for row in cursor.fetchall()), key=_sort_key)
            assert len(got) == len(expected[name]), name
            for got_row, expected_row in zip(got, expected[name]):
                assert all(_equal(g, e) for g, e in zip(got_row, expected_row)), (name, got_row, expected_row)


def test_the_raw_layer_arrives_whole(postgres_marts):
    config = postgres_marts["config"]
    with duckdb.connect(str(config.working_warehouse), read_only=True) as con:
        for table, rows in postgres_marts["copied"].items():
            assert con.execute(f'select count(*) from raw."{table}"').fetchone()[0] == rows, table
    assert postgres_marts["copied"]["github__pull_requests"] > 1000
