"""wait_for (imagegen/wakeup.py): waiters wake when the job's end is announced, one listener per process."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import connection

from imagegen import wakeup
from images.models import Generation
from images.services.generations import GENERATION_FINISHED_CHANNEL, generation_wait
from tests.images.factories import GenerationFactory

pytestmark = pytest.mark.django_db(transaction=True)

postgresql_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="LISTEN/NOTIFY is PostgreSQL's")


def _finish_soon(generation: Generation, *, after: float, status: str = "succeeded") -> threading.Thread:
    def finish() -> None:
        time.sleep(after)
        Generation.objects.filter(pk=generation.pk).update(status=status)
        connection.close()

    thread = threading.Thread(target=finish)
    thread.start()
    return thread


def _listen() -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    conn = psycopg.connect(**params, autocommit=True)
    conn.execute(f"LISTEN {GENERATION_FINISHED_CHANNEL}")
    return conn


@postgresql_only
def test_it_wakes_a_waiter_when_the_job_ends_without_waiting_for_a_poll(user, monkeypatch):
    # Only a notification can wake the waiter before its deadline: no safety read comes in time.
    monkeypatch.setattr(wakeup, "SAFETY_INTERVAL", 60.0)
    generation = GenerationFactory(user=user, status="running")
    finisher = _finish_soon(generation, after=0.3)
    started = time.monotonic()
    result = generation_wait(user=user, generation_id=generation.pk, seconds=30)
    finisher.join()
    assert result.status == "succeeded"
    assert time.monotonic() - started < 30


@postgresql_only
def test_it_serves_many_waiters_from_one_listening_connection(user, monkeypatch):
    monkeypatch.setattr(wakeup, "SAFETY_INTERVAL", 60.0)
    connects = []
    real_connect = wakeup.Listener._connect
    monkeypatch.setattr(wakeup.Listener, "_connect", lambda self: connects.append(1) or real_connect(self))
    generations = [GenerationFactory(user=user, status="queued") for _ in range(6)]

    def wait(generation: Generation) -> str:
        try:
            return generation_wait(user=user, generation_id=generation.pk, seconds=30).status
        finally:
            connection.close()

    with ThreadPoolExecutor(len(generations)) as pool:
        waiting = [pool.submit(wait, g) for g in generations]
        time.sleep(0.5)
        Generation.objects.filter(pk__in=[g.pk for g in generations]).update(status="canceled")
        statuses = [w.result(timeout=30) for w in waiting]
    assert statuses == ["canceled"] * len(generations)
    assert len(connects) == 1
    assert sum(t.name == f"listen-{GENERATION_FINISHED_CHANNEL}" for t in threading.enumerate()) == 1


@postgresql_only
def test_it_announces_only_the_end_of_a_job_and_only_once_committed(user):
    generation = GenerationFactory(user=user, status="queued")
    with _listen() as listener:
        Generation.objects.filter(pk=generation.pk).update(status="running")
        assert list(listener.notifies(timeout=0.3)) == []
        Generation.objects.filter(pk=generation.pk).update(status="failed")
        notices = list(listener.notifies(timeout=2.0, stop_after=1))
    assert [(n.channel, n.payload) for n in notices] == [(GENERATION_FINISHED_CHANNEL, str(generation.pk))]


@pytest.mark.skipif("connection.vendor == 'postgresql'", reason="SQLite's short fixed poll")
def test_it_reads_again_at_a_short_fixed_interval_without_listening():
    reads = []
    result = wakeup.wait_for(
        lambda: reads.append(time.monotonic()) or len(reads),
        lambda count: count >= 5,
        channel="unused",
        key="k",
        seconds=10,
    )
    assert result == 5
    assert not wakeup._LISTENERS  # no listener thread, no extra connection
