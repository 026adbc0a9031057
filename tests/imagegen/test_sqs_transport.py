"""The SQS transport outlives an SQS outage (imagegen/sqs_transport.py).

The tests feed the channel what kombu 5.7.0 hands it after each kind of
ReceiveMessage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from kombu import Connection

from imagegen.sqs_transport import Channel, Transport
from tests.imagegen.test_settings import PRODUCTION, run

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


def test_it_is_the_transport_for_an_sqs_broker_url():
    probe = "from celery_app import app; print(app.connection_for_read().get_transport_cls().__module__)"
    result = run(probe, PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imagegen.sqs_transport"
