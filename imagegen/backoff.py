"""The one retry schedule: doubling from a first delay, up to a cap."""

from __future__ import annotations


def doubling(tries: int, *, first: float, cap: float) -> float:
    """Seconds to wait after the ``tries``-th failure: ``first``, twice that, four times... never over ``cap``."""
    return float(min(cap, first * 2 ** max(0, tries - 1)))
