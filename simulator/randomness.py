"""Seeded random draws shared by every source's generator (same draws, same order:
changing one changes every simulated organisation)."""

from __future__ import annotations

import math
import random


def random_sha(rng: random.Random) -> str:
    """A 40-hex-digit commit SHA."""
    return f"{rng.getrandbits(160):040x}"


def poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method; means here are small (< 5), so it is fast enough.
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def split_total(total: int, weights: list[float]) -> list[int]:
    """Split `total` proportionally to `weights`, summing exactly to `total`."""
    if not weights:
        return []
    raw = [total * weight / sum(weights) for weight in weights]
    counts = [int(value) for value in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)
    for index in by_remainder[: total - sum(counts)]:
        counts[index] += 1
    return counts
