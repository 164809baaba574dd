"""`kpi shell` and `kpi query`: SQL on the published warehouse, opened read-only.

The shell is a small REPL on the duckdb Python package rather than the DuckDB CLI binary,
which is not a Python dependency and may be missing: statements end with `;` and may span
lines, `.tables` lists the tables, `.schema TABLE` its columns, `.quit` leaves. Piped input
runs as a script (`kpi shell < questions.sql`) and exits 1 if a statement failed. Anyone
with the DuckDB CLI can also run `duckdb -readonly data/published/warehouse.duckdb`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

import duckdb
from rich.console import Console
from rich.table import Table

PROMPT, CONTINUATION = "kpi> ", "...> "
HELP = """Statements end with ';' and may span lines. The warehouse is read-only.
  .tables            the published tables (schema.table)
  .schema TABLE      the columns of a table (marts.kpi_period or kpi_period)
  .help              this text
  .quit / .exit      leave (or Ctrl-D)"""


class PublishedWarehouseMissing(RuntimeError):
    pass


def connect_published(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published file; a clear error when there is none."""
    if not path.exists():
        raise PublishedWarehouseMissing(
            f"no published warehouse at {path}: run `make demo` or the kpi_nightly DAG first")
    return duckdb.connect(str(path), read_only=True)


def explain_error(error: duckdb.Error) -> str:
    """DuckDB's message, with the reason spelled out when a statement tried to write."""
    message = str(error)
    if "read-only mode" in message:
        return ("the published warehouse is read-only: statements that write (create, insert, update, "
                f"delete, drop, alter) are refused; the pipeline alone replaces it. DuckDB said: {message}")
    return message


def render(relation: duckdb.DuckDBPyRelation, console: Console, output: str = "table") -> None:
    """Print a query result as a rich table, CSV or JSON records."""
    if output == "csv":
        relation.df().to_csv(console.file, index=False)
    elif output == "json":
        console.file.write(relation.df().to_json(orient="records", date_format="iso") + "\n")
    else:
        table = Table()
        for column in relation.columns:
            table.add_column(column)
        for row in relation.fetchall():
            table.add_row(*("" if value is None else str(value) for value in row))
        console.print(table)


def _meta_command(line: str, connection: duckdb.DuckDBPyConnection, console: Console) -> bool:
    """Run a dot command; False means quit."""
    command, _, argument = line.strip().partition(" ")
    argument = argument.strip().rstrip(";")
    if command in (".quit", ".exit"):
        return False
    if command == ".tables":
        render(connection.sql("select table_schema || '.' || table_name as table_name from information_schema.tables "
                              "order by table_schema, table_name"), console)
    elif command == ".schema" and argument:
        schema, _, table = argument.rpartition(".")
        relation = connection.sql(
            "select column_name, data_type from information_schema.columns where table_name = $table "
            "and (table_schema = $schema or $schema = '') order by ordinal_position",
            params={"table": table, "schema": schema})
        if not relation.fetchall():
            console.print(f"no table {argument!r} (see .tables)")
        else:
            render(relation, console)
    elif command == ".help":
        console.print(HELP, markup=False)
    else:
        console.print(f"unknown command {line.strip()!r}; .help lists the commands", markup=False)
    return True


def _execute(statement: str, connection: duckdb.DuckDBPyConnection, console: Console) -> bool:
    """Run one statement and print its result; False when it failed (the message is printed)."""
    try:
        relation = connection.sql(statement)
        if relation is not None:
            render(relation, console)
    except duckdb.Error as error:
        console.print(f"error: {explain_error(error)}", markup=False)
        return False
    return True


def run_shell(path: Path, stdin: IO[str] | None = None, console: Console | None = None) -> int:
    """The REPL; returns the exit code (1 when a statement of piped input failed)."""
    stdin = stdin or sys.stdin
    console = console or Console()
    interactive = stdin.isatty()
    if interactive:
        import readline  # noqa: F401  (line editing and history for input())
    failed = False
    with connect_published(path) as connection:
        if interactive:
            console.print(f"{path} (read-only). .help for help, .quit to leave.", markup=False)
        buffer: list[str] = []
        while True:
            try:
                line = input(CONTINUATION if buffer else PROMPT) if interactive else stdin.readline()
            except EOFError:  # Ctrl-D
                break
            except KeyboardInterrupt:  # Ctrl-C drops the statement being typed
                buffer = []
                console.print()
                continue
            if not interactive and line == "":  # end of piped input (a blank line is "\n")
                break
            if not buffer and line.strip().startswith("."):
                if not _meta_command(line, connection, console):
                    break
                continue
            buffer.append(line.rstrip("\n"))
            statement = "\n".join(buffer).strip()
            if not statement or not statement.endswith(";"):
                buffer = buffer if statement else []
                continue
            buffer = []
            failed |= not _execute(statement, connection, console)
        leftover = "\n".join(buffer).strip()
        if leftover:  # a last statement without its ';' still runs
            failed |= not _execute(leftover, connection, console)
    return 1 if failed and not interactive else 0
