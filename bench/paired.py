"""Paired timing, shared by the benchmarks: A and B in turns, the order alternated, the median per-pair ratio.

Each pair runs both sides back to back, so both see the same machine (other processes, CPU frequency, page
cache); pair 0 runs A then B, pair 1 B then A, and so on, so neither side always goes first and inherits what the
other left behind. The result is the median of the per-pair ratios A / B, with the middle half of them as the
spread, rather than a ratio of two medians or two bests taken at different moments.

    result = measure_pairs(timed(ours), timed(baseline), pairs=21, warmup=1)
    print(result.describe())             # 1.07x (middle half 1.04-1.10, 21 pairs)

``measure_rounds`` pairs several candidates with one baseline, a pair of each per round (bench/startup.py). A
measure returns seconds however it gets them: ``timed`` wraps a call in wall time; bench/upload.py's sides report
the time their own process measured.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

Measure = Callable[[], float]  # runs one side once and returns its seconds


def timed(action: Callable[[], object]) -> Measure:
    """A measure that times ``action`` as wall time around the whole call."""
    def measure() -> float:
        started = time.perf_counter()
        action()
        return time.perf_counter() - started
    return measure


@dataclass(frozen=True)
class Pairs:
    """Seconds of side A and side B, one entry per pair, in the order the pairs ran."""

    a: tuple[float, ...]
    b: tuple[float, ...]

    @property
    def ratios(self) -> list[float]:
        return [a / b for a, b in zip(self.a, self.b)]

    @property
    def ratio(self) -> float:
        """The median of the per-pair ratios A / B."""
        return statistics.median(self.ratios)

    @property
    def spread(self) -> tuple[float, float]:
        """The middle half of the per-pair ratios (first and third quartile)."""
        return quartiles(self.ratios)

    @property
    def difference(self) -> float:
        """The median of the per-pair differences A - B, in seconds (for a fast baseline, where a ratio says little)."""
        return statistics.median(a - b for a, b in zip(self.a, self.b))

    @property
    def median_a(self) -> float:
        return statistics.median(self.a)

    @property
    def median_b(self) -> float:
        return statistics.median(self.b)

    def describe(self) -> str:
        low, high = self.spread
        return f"{self.ratio:.2f}x (middle half {low:.2f}-{high:.2f}, {len(self.a)} pairs)"


def quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    first, _, third = statistics.quantiles(values, n=4, method="inclusive")
    return first, third


def measure_pairs(a: Measure, b: Measure, pairs: int, *, warmup: int = 0) -> Pairs:
    """``pairs`` pairs of A and B, A first in even pairs and B first in odd ones; ``warmup`` pairs run first and
    are dropped (first runs pay one-off costs: bytecode caches, imports, the page cache)."""
    if pairs < 1:
        raise ValueError("pairs must be at least 1")
    for n in range(warmup):
        run_pair(a, b, n)
    results = [run_pair(a, b, n) for n in range(pairs)]
    return Pairs(a=tuple(r[0] for r in results), b=tuple(r[1] for r in results))


def measure_rounds(candidates: dict[str, Measure], baseline: Measure, pairs: int, *, warmup: int = 0
                   ) -> dict[str, Pairs]:
    """Each candidate paired with ``baseline``, the pairs taken in rounds (one pair per candidate each round), so a
    burst of load from other processes lands on a pair or two of every candidate rather than on all of one's. The
    order alternates pair to pair for each candidate, and between neighbours within a round."""
    if pairs < 1:
        raise ValueError("pairs must be at least 1")
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in candidates}
    for n in range(warmup + pairs):
        for i, (name, measure) in enumerate(candidates.items()):
            pair = run_pair(measure, baseline, n + i)
            if n >= warmup:
                results[name].append(pair)
    return {name: Pairs(a=tuple(r[0] for r in runs), b=tuple(r[1] for r in runs)) for name, runs in results.items()}


def run_pair(a: Measure, b: Measure, n: int) -> tuple[float, float]:
    """One pair: (A's seconds, B's seconds), A run first when ``n`` is even."""
    if n % 2 == 0:
        first = a()
        return first, b()
    second = b()
    return a(), second


def verdict(value: float, target: float) -> str:
    """'met' when ``value`` is at most ``target``, else 'MISSED' (the benches exit 1 then)."""
    return "met" if value <= target else "MISSED"
