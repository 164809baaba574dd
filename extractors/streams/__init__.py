"""Stream declarations per source; each source's module registers its scope kinds next to
its streams (importing this package registers GitHub's, which most code needs)."""

from extractors.streams.base import Stream
from extractors.streams.github import GITHUB_STREAMS

__all__ = ["GITHUB_STREAMS", "Stream"]
