"""poll (imagegen/polling.py): reads until done or the deadline, backing off between reads."""

from __future__ import annotations

import time

from imagegen.polling import MAX_DELAY, poll


def test_it_returns_the_first_value_that_is_done_without_sleeping_when_it_is_done_at_once():
    reads = []

    value = poll(lambda: reads.append(1) or "ready", lambda v: v == "ready", seconds=10)

    assert (value, len(reads)) == ("ready", 1)


def test_it_reads_again_until_done():
    values = iter(["pending", "pending", "ready", "never read"])

    assert poll(lambda: next(values), lambda v: v == "ready", seconds=10) == "ready"


def test_it_gives_up_at_the_deadline_with_the_last_value_read(monkeypatch):
    clock = [0.0]
    sleeps = []
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])

    def sleep(seconds):
        sleeps.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(time, "sleep", sleep)

    assert poll(lambda: "pending", lambda v: False, seconds=3) == "pending"
    assert sum(sleeps) == 3  # never sleeps past the deadline
    assert sleeps[0] == 0.05 and max(sleeps) <= MAX_DELAY and sleeps[1] > sleeps[0]
