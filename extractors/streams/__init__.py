"""Stream declarations per source."""

from extractors.streams.base import Stream
from extractors.streams.github import GITHUB_STREAMS

__all__ = ["GITHUB_STREAMS", "Stream"]
