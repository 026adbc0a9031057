"""How long a job should take, and when a queued one should be done: ``eta_seconds`` and dry runs' estimate.

A job's run time is the median of the recent successful runs of the same
provider and size (else of the provider, else ``DEFAULT_RUN_SECONDS``); its
wait, the jobs the fair queue puts ahead of it (scheduling.queue_positions)
shared among the jobs running now (as many as run now, the workers' slots). Figures are kept per process for a few
seconds: a status poll must not add a scan of the history.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.db.models import F

from images.models import Generation

DEFAULT_RUN_SECONDS = 10.0
SAMPLE = 20
HISTORY = 500  # the recent jobs read: SAMPLE of each provider and size among them
KEEP_SECONDS = 30.0

T = TypeVar("T")
_kept: dict[object, tuple[float, object]] = {}
_lock = threading.Lock()


def remembered(key: object, compute: Callable[[], T], *, seconds: float = KEEP_SECONDS) -> T:
    """``compute()``, kept in this process for ``seconds``: figures that may be a little old but not cost a query."""
    now = time.monotonic()
    with _lock:
        kept = _kept.get(key)
    if kept is not None and kept[0] > now:
        return kept[1]  # type: ignore[return-value]
    value = compute()
    with _lock:
        _kept[key] = (now + seconds, value)
    return value


def forget() -> None:
    """Drop the kept figures (tests, and after a deploy that changes providers)."""
    with _lock:
        _kept.clear()


def _recent_medians() -> dict[tuple, float]:
    """Median run seconds of the recent successful jobs, by (provider, width, height) and by (provider,)."""
    runs = (
        Generation.objects.filter(status=Generation.Status.SUCCEEDED, started_at__isnull=False)
        .order_by("-finished_at")
        .annotate(took=F("finished_at") - F("started_at"))
        .values_list("provider", "width", "height", "took")[:HISTORY]
    )
    samples: dict[tuple, list[float]] = {}
    for provider, width, height, took in runs:
        if took is None:
            continue
        for key in ((provider, width, height), (provider,)):
            if len(kept := samples.setdefault(key, [])) < SAMPLE:
                kept.append(took.total_seconds())
    return {key: statistics.median(seconds) for key, seconds in samples.items()}


def run_seconds(*, provider: str, width: int, height: int) -> float:
    """Expected seconds of one run of a job of this provider and size (one query per process every KEEP_SECONDS)."""
    medians = remembered("medians", _recent_medians)
    return medians.get((provider, width, height)) or medians.get((provider,)) or DEFAULT_RUN_SECONDS


def eta_seconds(*, position: int, running: int, provider: str, width: int, height: int) -> int:
    """Seconds until a job at ``position`` in the queue (1 = next) should be done, ``running`` jobs draining it."""
    run = run_seconds(provider=provider, width=width, height=height)
    waves = math.ceil((position - 1) / max(1, running))
    return math.ceil(run * (waves + 1))
