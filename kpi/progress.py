"""Progress of a pipeline run in the terminal (`kpi run`, `kpi demo`).

The pipeline's steps report to a `PipelineProgress`; the default one shows nothing, so
Airflow task logs and tests stay as they are. `RichProgress` draws rich progress bars on
stderr -- one bar per source over its scopes while extracting, one line per later step
with its elapsed time -- and is disabled when stderr is not a terminal.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


class PipelineProgress:
    """Reports nothing."""

    def scopes(self, scopes: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        yield from scopes

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        yield


class RichProgress(PipelineProgress):
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=self.console,
                                 disable=not self.console.is_terminal)

    def __enter__(self) -> "RichProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.progress.stop()

    def scopes(self, scopes: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        planned = list(scopes)
        totals = Counter(scope.get("source", "github") for scope in planned)
        bars = {source: self.progress.add_task(f"extract {source}", total=total) for source, total in totals.items()}
        for scope in planned:
            source = scope.get("source", "github")
            self.progress.update(bars[source], description=f"extract {source}: {scope['scope']}")
            yield scope
            self.progress.advance(bars[source])
        for source, bar in bars.items():
            self.progress.update(bar, description=f"extract {source}")

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        bar = self.progress.add_task(description, total=1)
        yield
        self.progress.update(bar, completed=1)


class AirflowRunProgress:
    """A progress bar over the task instances of a DAG run executing in another process
    (`kpi demo`'s `airflow dags test`), read from its SQLite metadata database once a
    second. Mapped tasks appear as they expand, so the total grows while it runs."""

    FINISHED = ("success", "skipped", "failed", "upstream_failed", "removed")

    def __init__(self, metadata_db, dag_id: str, console: Console | None = None) -> None:
        import threading

        self.metadata_db, self.dag_id = metadata_db, dag_id
        self.console = console or Console(stderr=True)
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=self.console,
                                 disable=not self.console.is_terminal)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def counts(self) -> tuple[int, int, str | None]:
        """(finished, all, a running task) of the DAG's latest run; zeros before it exists."""
        import sqlite3

        try:
            with sqlite3.connect(f"file:{self.metadata_db}?mode=ro", uri=True, timeout=1) as connection:
                rows = connection.execute(
                    "select task_id, state from task_instance where dag_id = ? and run_id = "
                    "(select run_id from dag_run where dag_id = ? order by id desc limit 1)",
                    [self.dag_id, self.dag_id]).fetchall()
        except sqlite3.Error:  # not migrated yet, or locked for a moment
            return 0, 0, None
        finished = sum(1 for _, state in rows if state in self.FINISHED)
        running = next((task for task, state in rows if state == "running"), None)
        return finished, len(rows), running

    def _poll(self) -> None:
        bar = self.progress.add_task(self.dag_id, total=None)
        while not self._stop.wait(1):
            finished, total, running = self.counts()
            self.progress.update(bar, completed=finished, total=total or None,
                                 description=f"{self.dag_id}: {running}" if running else self.dag_id)

    def __enter__(self) -> "AirflowRunProgress":
        self.progress.start()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.progress.stop()
