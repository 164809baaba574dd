"""Where a report came from, and the errors raised when one cannot be read.

The family parsers raise `InvalidReport` with the reason only: they see bytes, not where
the bytes came from. The dispatcher turns it into a `ReportError` whose message names the
file, the repository and the run, so an Airflow log line is enough to find the artifact.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReportContext:
    """Where a report was downloaded from: the CI source, the repository and the run."""

    repository: str
    run_id: str | int
    source: str


class InvalidReport(ValueError):
    """A document that is malformed, empty, truncated or impossible (e.g. coverage above 100 %)."""


class UnknownFormat(InvalidReport):
    """A well-formed document that is not one of the report formats we read."""


class ReportError(Exception):
    """A report that could not be parsed, named by file, repository and run."""

    def __init__(self, reason: str, *, filename: str, context: ReportContext) -> None:
        self.reason = reason
        self.filename = filename
        self.context = context
        super().__init__(f"{filename}: {reason} (repository {context.repository}, "
                         f"run {context.run_id}, source {context.source})")


class UnknownReportFormat(ReportError):
    """The file is not a report format we recognise (an archive lists it as skipped)."""
