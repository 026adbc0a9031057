"""The SQS transport outlives an SQS outage and polls again as soon as a slot frees
(imagegen/sqs_transport.py).

The unit tests feed the channel what kombu 5.7.0 hands it after each kind of
ReceiveMessage, or settle its deliveries; the slow test cuts a real worker off
moto's server for 10 s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

from imagegen.sqs_transport import Channel, Transport
from tests.imagegen.test_settings import PRODUCTION, run
from tests.support.moto import aws_env, boto3_client, moto_server
from tests.support.processes import celery_worker, child_env, wait_for_text
from tests.support.proxy import tcp_proxy
from tests.support.waiting import poll

QUEUE = "imagegen"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/imagegen"
# What _on_list_ready returns for a timed-out, 5xx or dropped ReceiveMessage.
FAILED_RECEIVE: list = []
EMPTY_RECEIVES = [{}, {"ResponseMetadata": {"HTTPStatusCode": 200, "RetryAttempts": 0}}]
ONE_MESSAGE = {"Messages": [{"MessageId": "m-1", "ReceiptHandle": "rh-1", "Body": "{}"}]}


class FakeHub:
    """Records when the channel asks for its next poll."""

    def __init__(self) -> None:
        self.scheduled: list[float] = []

    def call_soon(self, callback: Callable, *args: Any) -> None:
        self.scheduled.append(0.0)

    def call_later(self, delay: float, callback: Callable, *args: Any) -> None:
        self.scheduled.append(delay)


@pytest.fixture
def channel(monkeypatch) -> Channel:
    # A predefined queue: the channel is built without asking SQS for its queues.
    connection = Connection("sqs://", transport=Transport, transport_options={
        "region": "us-east-1", "polling_interval": 0,
        "predefined_queues": {QUEUE: {"url": QUEUE_URL, "access_key_id": "k", "secret_access_key": "s"}},
    })  # fmt: skip
    channel = connection.channel()
    channel.hub = FakeHub()
    delivered: list = []
    channel.connection._callbacks[QUEUE] = delivered.append
    monkeypatch.setattr(channel, "_message_to_python", lambda msg, qname, queue: msg["MessageId"])
    channel.delivered = delivered
    return channel


def receive(channel: Channel, response: Any) -> None:
    """One poll's end, as kombu runs it: the messages are handed over, then the next poll is scheduled."""
    fetched = channel._on_messages_ready(QUEUE_URL, QUEUE, response)
    channel._loop1(QUEUE, fetched)


@pytest.mark.parametrize("response", [FAILED_RECEIVE, *EMPTY_RECEIVES], ids=["failed", "empty", "metadata-only"])
def test_it_reads_a_receive_without_messages_as_no_messages_and_polls_again(channel, response):
    # kombu 5.7.0's own channel raises AttributeError on the failed receive: the worker dies.
    assert channel._on_messages_ready(QUEUE_URL, QUEUE, response) == 0
    channel._loop1(QUEUE, 0)
    assert channel.delivered == []
    assert len(channel.hub.scheduled) == 1


def test_it_backs_off_while_receives_fail_and_polls_at_once_when_they_work_again(channel):
    for _ in range(6):
        receive(channel, FAILED_RECEIVE)
    receive(channel, EMPTY_RECEIVES[0])
    receive(channel, EMPTY_RECEIVES[0])
    assert channel.hub.scheduled == [1, 2, 4, 8, 10, 10, 0, 0]


def test_it_logs_an_outage_once_when_it_starts_and_once_when_it_ends(channel, caplog):
    caplog.set_level(logging.INFO, logger="imagegen.sqs_transport")
    for _ in range(5):
        receive(channel, FAILED_RECEIVE)
    receive(channel, ONE_MESSAGE)
    receive(channel, EMPTY_RECEIVES[0])
    logged = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in logged] == ["WARNING", "INFO"]
    assert "queue imagegen failed" in logged[0][1]
    assert "queue imagegen works again after 5 failed attempt(s)" in logged[1][1]
    assert channel.delivered == ["m-1"]


class Delivery:
    delivery_info: dict = {}  # no "sqs_message": settling it sends nothing to SQS


@pytest.fixture
def polls(channel, monkeypatch) -> list[str]:
    """The receives the channel starts; its queue consumed with one prefetch slot, as a worker's."""
    started: list[str] = []
    monkeypatch.setattr(channel, "_get_bulk_async", lambda queue, callback=None: started.append(queue))
    channel._active_queues.append(QUEUE)
    channel.qos.prefetch_count = 1
    return started


def test_a_full_worker_parks_its_queue_and_the_ack_that_frees_the_slot_starts_the_next_receive(channel, polls):
    channel.qos.append(Delivery(), "tag-1")  # a job running: the only slot is taken
    channel._schedule_queue(QUEUE)
    assert polls == []
    # Not re-queued on every turn of the event loop: one safety-net recheck, a second away.
    assert channel.hub.scheduled == [channel.parked_recheck]

    # kombu's own channel leaves the receive to the next loop turn that happens to run its re-queued
    # check (up to a second on a quiet worker); here the ack itself starts it.
    channel.basic_ack("tag-1")
    assert polls == [QUEUE]


def test_a_reject_frees_the_slot_too(channel, polls):
    channel.qos.append(Delivery(), "tag-1")
    channel._schedule_queue(QUEUE)
    channel.basic_reject("tag-1", requeue=False)
    assert polls == [QUEUE]


def test_the_safety_net_recheck_polls_a_queue_whose_slot_freed_without_an_ack(channel, polls):
    channel.qos.append(Delivery(), "tag-1")
    channel._schedule_queue(QUEUE)
    channel.qos._delivered.clear()  # freed behind the channel's back
    channel._recheck_parked(QUEUE)
    assert polls == [QUEUE]


def test_one_receive_at_a_time_is_in_flight_per_queue(channel, polls):
    channel._schedule_queue(QUEUE)
    channel._schedule_queue(QUEUE)  # kombu's consume and a settled delivery both asking
    assert polls == [QUEUE]
    channel._loop1(QUEUE, 0)  # the receive ended empty: the next one is queued on the loop
    channel._schedule_queue(QUEUE)
    assert polls == [QUEUE, QUEUE]


def test_an_ack_when_nothing_is_parked_starts_no_receive(channel, polls):
    channel.qos.append(Delivery(), "tag-1")
    channel.basic_ack("tag-1")
    assert polls == []


def test_a_cancelled_queue_is_neither_parked_nor_polled(channel, polls):
    channel.qos.append(Delivery(), "tag-1")
    channel._schedule_queue(QUEUE)
    channel._active_queues.remove(QUEUE)
    channel.basic_ack("tag-1")
    assert polls == []
    assert channel._parked == set()


def test_it_is_the_transport_for_an_sqs_broker_url():
    probe = "from celery_app import app; print(app.connection_for_read().get_transport_cls().__module__)"
    result = run(probe, PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imagegen.sqs_transport"


@pytest.mark.slow
def test_a_worker_outlives_a_10_s_sqs_outage_and_then_runs_a_new_job(tmp_path, monkeypatch):
    queue = "imagegen-outage"
    marker = tmp_path / "marker.txt"
    log = tmp_path / "worker.log"
    with moto_server() as moto_url, tcp_proxy(moto_url) as proxy:
        boto3_client("sqs", moto_url).create_queue(QueueName=queue)
        env = child_env(**aws_env(proxy.url), CELERY_BROKER_URL="sqs://", SQS_QUEUE_NAME=queue,
                        IMAGEGEN_VAR_DIR=str(tmp_path))  # fmt: skip
        with celery_worker(log, include="tests.support.tasks", env=env) as worker:
            time.sleep(1)  # its first long poll is in flight
            proxy.pause()
            time.sleep(10)
            proxy.resume()
            assert worker.poll() is None, log.read_text()[-3000:]
            # Queued only once a receive works again: moto still holds the long
            # poll the outage cut off, and a message sent before that poll ends
            # would go to it, hidden for the visibility timeout (as SQS would).
            wait_for_text(log, "works again", worker, timeout=60)
            send_marker_task(moto_url, queue, marker, monkeypatch)
            poll(marker.exists, timeout=30, interval=0.2)
            assert marker.exists(), log.read_text()[-3000:]
            assert marker.read_text().startswith("after the outage")
            assert worker.poll() is None
    text = log.read_text()
    assert text.count("SQS receive from queue imagegen-outage failed") == 1, text[-3000:]
    assert text.count("SQS receive from queue imagegen-outage works again") == 1, text[-3000:]
    # Backoff, not a tight loop: a handful of polls were refused in 10 s.
    assert 2 <= proxy.refused <= 10, proxy.refused


def send_marker_task(moto_url: str, queue: str, marker: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from celery_app import app

    for name, value in aws_env(moto_url).items():
        monkeypatch.setenv(name, value)  # kombu finds the endpoint in the environment
    options = {"region": "us-east-1", "is_secure": False}
    with app.connection_for_write("sqs://", transport_options=options) as connection:
        app.send_task("tests.support.tasks.write_marker", args=[str(marker), "after the outage"],
                      queue=queue, connection=connection)  # fmt: skip


class _RecordingHub:
    def __init__(self) -> None:
        self.later: list[float] = []

    def call_later(self, delay: float, callback: Callable, *args: Any) -> None:
        self.later.append(delay)


def test_curls_timer_is_read_in_milliseconds_and_minus_one_sets_none():
    from imagegen.sqs_transport import _CurlClient

    client = _CurlClient.__new__(_CurlClient)  # only the timer callback: no curl handles needed
    client.hub = _RecordingHub()
    client._set_timeout(1)
    client._set_timeout(250)
    client._set_timeout(-1)
    assert client.hub.later == [0.001, 0.25]
