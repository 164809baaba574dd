"""Every `kpi` command and sub-command answers --help with a description."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from kpi.cli import app


def command_paths(command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    """Every command under `command`, with the words that name it (typer ships its own
    click, so groups are told by what they can do, not by click's classes)."""
    found = [(path, command)]
    if hasattr(command, "list_commands"):
        context = typer.Context(command)
        for name in command.list_commands(context):
            found += command_paths(command.get_command(context, name), (*path, name))
    return found


def test_every_command_and_sub_app_has_a_described_help():
    commands = command_paths(typer.main.get_command(app))
    names = {" ".join(path) for path, _ in commands}
    # The walk reaches the sub-apps' commands, not only the top level.
    assert {"status", "shell", "query", "docs", "metrics", "config validate", "okr review", "simulator serve"} <= names
    runner = CliRunner()
    for path, command in commands:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert (command.help or "").strip(), f"kpi {' '.join(path)} has no description"
        assert command.help.strip().split()[0] in result.output, (path, result.output)
