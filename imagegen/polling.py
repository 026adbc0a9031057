"""Waiting in a request thread for a worker's result: short reads, backing off, never past a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

FIRST_DELAY = 0.05
MAX_DELAY = 0.5


def poll(read: Callable[[], T], done: Callable[[T], bool], *, seconds: float) -> T:
    """Call ``read`` until ``done`` says so or ``seconds`` pass; returns the last value read.

    The first look is immediate; then 50 ms, growing by half each time up to
    0.5 s: a quick job is seen quickly, a slow one costs a few reads a second.
    """
    deadline = time.monotonic() + seconds
    delay = FIRST_DELAY
    while True:
        value = read()
        if done(value) or time.monotonic() >= deadline:
            return value
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, MAX_DELAY)
