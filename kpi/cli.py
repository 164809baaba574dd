"""The `kpi` command: demo, pipeline runs without Airflow, queries, config checks, simulator."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Optional

import typer

from kpi.config import ConfigError, load_config

app = typer.Typer(help="Engineering-metrics warehouse: OKR first, KPI in support.", no_args_is_help=True)
config_app = typer.Typer(help="Check the pipeline configuration.", no_args_is_help=True)
simulator_app = typer.Typer(help="The local GitHub stand-in and its ground truth.", no_args_is_help=True)
okr_app = typer.Typer(help="OKRs as code (config/okrs/<period>.yaml): validate them, review a quarter.",
                      no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(simulator_app, name="simulator")
app.add_typer(okr_app, name="okr")

ConfigOption = typer.Option(None, "--config", "-c", help="pipeline.yaml (default: $KPI_CONFIG or config/pipeline.yaml)")


def _load(path: Optional[Path]):
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


@app.command()
def demo(
    scale: str = typer.Option("small", help="simulator scale preset"),
    seed: int = typer.Option(7, help="simulator seed"),
    logical_date: Optional[str] = typer.Option(None, "--date", help="logical date of the run (default today, UTC)"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Run kpi_nightly with real Airflow against the simulator and print a summary."""
    from kpi.demo import run_demo

    raise typer.Exit(run_demo(_load(config), scale, seed, date.fromisoformat(logical_date) if logical_date else None))


@app.command()
def run(
    full_refresh: bool = typer.Option(False, help="re-read every scope from the start"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Run the pipeline once in this process, without Airflow (tokens from $KPI_<CONN>_TOKEN),
    with progress bars on a terminal; then the dashboard (data/dashboard/) and the dbt docs (data/docs/dbt/)."""
    from kpi.docs import generate_dbt_docs
    from kpi.pipeline import run_all
    from kpi.progress import RichProgress

    loaded = _load(config)
    with RichProgress() as progress:
        # A night that may not publish (failed scope, quarantined batch) raises, naming each cause.
        outcome = run_all(loaded, full_refresh=full_refresh, progress=progress)
        with progress.step("dbt docs"):
            generate_dbt_docs(loaded)
    for table, rows in outcome["tables"].items():
        typer.echo(f"{table}: {rows} rows")
    from kpi.dashboard import dashboard_path

    typer.echo(f"dashboard: {dashboard_path(loaded.data_dir)}")


@app.command()
def query(
    sql: str = typer.Argument(..., help="SQL to run on the published warehouse (read-only)"),
    output: str = typer.Option("table", help="table, csv or json"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Query the published warehouse, read-only (a statement that writes is refused)."""
    import duckdb
    from rich.console import Console

    from kpi.shell import PublishedWarehouseMissing, connect_published, explain_error, render

    if output not in ("table", "csv", "json"):
        typer.echo(f"--output {output!r}: expected table, csv or json", err=True)
        raise typer.Exit(2)
    try:
        connection = connect_published(_load(config).published_warehouse)
    except PublishedWarehouseMissing as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    with connection:
        try:
            relation = connection.sql(sql)
            if relation is not None:
                render(relation, Console(file=sys.stdout), output)
        except duckdb.Error as exc:
            typer.echo(f"query failed: {explain_error(exc)}", err=True)
            raise typer.Exit(1) from None


@app.command()
def shell(config: Optional[Path] = ConfigOption) -> None:
    """Interactive SQL on the published warehouse, read-only (.tables, .schema TABLE, .quit);
    piped input runs as a script and exits 1 if a statement failed."""
    from kpi.shell import PublishedWarehouseMissing, run_shell

    try:
        raise typer.Exit(run_shell(_load(config).published_warehouse))
    except PublishedWarehouseMissing as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


@app.command()
def status(
    as_json: bool = typer.Option(False, "--json", help="print the status as JSON (for machines)"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """The last run and publication, freshness per source and scope, failed scopes and
    quarantined batches; never takes the pipeline's write lock."""
    from rich.console import Console

    from kpi.status import print_status, read_status

    report = read_status(_load(config))
    if as_json:
        typer.echo(report.to_json())
    else:
        print_status(report, Console())


@app.command()
def docs(
    force: bool = typer.Option(False, "--force", help="regenerate the dbt docs even if the dbt project is unchanged"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Generate the dbt docs (every mart and column, lineage, exposures) into data/docs/dbt/
    and print where they and the Great Expectations Data Docs (data/docs/expectations/) are."""
    from expectations.data_docs import data_docs_dir
    from kpi.dbt_runner import DbtError
    from kpi.docs import generate_dbt_docs

    loaded = _load(config)
    if not loaded.working_warehouse.exists():
        typer.echo(f"no working warehouse at {loaded.working_warehouse}: run `kpi run`, `make demo` or the "
                   "kpi_nightly DAG first (the docs' catalog is read from it)", err=True)
        raise typer.Exit(1)
    try:
        outcome = generate_dbt_docs(loaded, force=force)
    except DbtError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"dbt docs: {outcome['page']}" + ("" if outcome["generated"] else " (unchanged)"))
    expectations_index = data_docs_dir(loaded.data_dir) / "index.html"
    typer.echo(f"Great Expectations data docs: {expectations_index}" if expectations_index.is_file()
               else f"Great Expectations data docs: none yet ({expectations_index} is written by each audit)")


@app.command()
def dashboard(
    open_page: bool = typer.Option(False, "--open", help="open it in the default web browser"),
    build: bool = typer.Option(False, "--build", help="rebuild it from the published warehouse first"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Print the path of the offline HTML dashboard (data/dashboard/index.html, rebuilt after
    each publish): every team's OKRs, scorecards, KPI trends, DORA levels, releases and bugs."""
    import webbrowser

    from kpi.dashboard import DashboardError, build_dashboard, dashboard_path

    loaded = _load(config)
    page = dashboard_path(loaded.data_dir)
    if build:
        try:
            build_dashboard(loaded.published_warehouse, page.parent)
        except DashboardError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
    if not page.is_file():
        typer.echo(f"no dashboard at {page}: run `kpi run`, `make demo` or the kpi_nightly DAG first (each "
                   "publish writes it), or `kpi dashboard --build` to build it from the published warehouse",
                   err=True)
        raise typer.Exit(1)
    typer.echo(str(page))
    if open_page and not webbrowser.open(page.resolve().as_uri()):
        typer.echo(f"no web browser could be started here: open {page} in one", err=True)
        raise typer.Exit(1)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def metrics(context: typer.Context, config: Optional[Path] = ConfigOption) -> None:
    """The MetricFlow semantic layer on the published warehouse (read-only): the arguments go
    to `mf`, e.g. `kpi metrics list metrics`, `kpi metrics query --metrics deployment_frequency
    --group-by metric_time__month,team`, `kpi metrics validate-configs`."""
    from kpi.dbt_runner import DbtError
    from kpi.semantic import PublishedWarehouseMissing, run_mf

    if not context.args:
        typer.echo("give mf's arguments, e.g. `kpi metrics list metrics` or `kpi metrics query --metrics "
                   "deployment_frequency --group-by metric_time__month,team`", err=True)
        raise typer.Exit(2)
    try:
        raise typer.Exit(run_mf(_load(config), list(context.args)).returncode)
    except (PublishedWarehouseMissing, DbtError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


@config_app.command("validate")
def config_validate(path: Optional[Path] = typer.Argument(None, help="pipeline.yaml to check")) -> None:
    """Validate a pipeline configuration; errors name the file, the key path and what was expected."""
    loaded = _load(path)
    sources = ", ".join(f"{name} at {source.base_url}" for name in ("github", "jira", "jenkins", "gitlab")
                        if (source := getattr(loaded.sources, name)) is not None)
    typer.echo(f"ok: {len(loaded.teams)} teams; {sources}")


@okr_app.command("validate")
def okr_validate(
    directory: Optional[Path] = typer.Argument(None, help="folder of <period>.yaml files (default config/okrs)"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Validate every OKR file of the folder; each error names the file, the line and what was expected."""
    from kpi.okrs import OKR_DIR, OkrValidationError, load_okrs

    if directory is not None and not directory.is_dir():
        typer.echo(f"{directory}: not a folder (expected the folder of the <period>.yaml OKR files)", err=True)
        raise typer.Exit(2)
    loaded = _load(config)
    try:
        okrs = load_okrs(directory or loaded.okrs_dir or OKR_DIR, config=loaded)
    except OkrValidationError as exc:
        typer.echo(str(exc), err=True)
        typer.echo(f"{len(exc.errors)} error(s)", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"ok: {len(okrs.objective_rows())} objectives, {len(okrs.key_result_rows())} key results "
               f"in {len(okrs.periods)} period(s)")


@okr_app.command("review")
def okr_review(
    period: str = typer.Option(..., "--period", help="the OKR period, e.g. 2026-Q4"),
    team: Optional[str] = typer.Option(None, "--team", help="one team's objectives and scorecard only"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Quarterly review from the published warehouse: objectives with key-result scores and
    status, the alignment tree and the teams' KPI scorecards with points; prints a summary
    and writes a self-contained HTML page under data/okr-review/."""
    from rich.console import Console

    from kpi.okr_review import ReviewError, load_review, print_review, write_review

    loaded = _load(config)
    try:
        review = load_review(loaded.published_warehouse, period, team)
    except ReviewError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    print_review(review, Console())
    typer.echo(f"written: {write_review(review, loaded.data_dir / 'okr-review')}")


@app.command("airflow-pools")
def airflow_pools(
    apply: bool = typer.Option(False, "--apply", help="create or resize them with `airflow pools set`"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """The Airflow pools kpi_nightly runs in (warehouse writer, API calls per source); run with
    --apply after `airflow db migrate`: a task in a missing pool is never scheduled."""
    from kpi.airflow_pools import apply_pools, pool_definitions

    loaded = _load(config)
    pools = apply_pools(loaded) if apply else pool_definitions(loaded)
    for pool in pools:
        typer.echo(f"{pool.name}\t{pool.slots}\t{pool.description}")


@app.command()
def catalogue() -> None:
    """Print the KPI catalogue as markdown (the README's KPI section is this output)."""
    from kpi.catalogue import render_markdown

    typer.echo(render_markdown())


@simulator_app.command(
    "serve", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def simulator_serve(context: typer.Context) -> None:
    """Serve the simulated GitHub: --scale small --seed 7 --port 8765 [--host] [--token] [--anchor]."""
    from simulator.__main__ import main

    raise typer.Exit(main(["serve", *context.args]) or 0)


@simulator_app.command(
    "truth", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def simulator_truth(context: typer.Context) -> None:
    """Print the ground truth KPIs of a simulated organisation as JSON: --scale small --seed 7."""
    from simulator.__main__ import main

    raise typer.Exit(main(["truth", *context.args]) or 0)


if __name__ == "__main__":
    app()
