"""kombu's SQS transport, made to outlive an SQS outage: settings select it for ``sqs://``.

Why it exists (kombu 5.7.0, the latest release as of November 2026): when a
ReceiveMessage long poll times out, gets a 5xx, or loses its connection (curl
reports that as 599), ``AsyncAWSQueryConnection._on_list_ready``
(kombu/asynchronous/aws/connection.py) hands the channel ``[]`` instead of the
parsed response, on purpose (celery/kombu#1064, celery/kombu#1173 for
celery/kombu#1172). 5.7.0's ``Channel._on_messages_ready``
(kombu/transport/SQS/__init__.py) reads that with ``messages.get('Messages')``:
``AttributeError``, "Unrecoverable error", and the worker shuts down for good.
Up to 5.6.2 it tested ``'Messages' in messages``, which a list passes, so the
crash is new in 5.7.0 (the versions this applies to: kombu >= 5.7.0, checked
up to 5.7.0). No upstream issue or fix was found for it, and celery 5.7.0
requires kombu >= 5.7.0, so going back to 5.6 is no way out.

Upstream also schedules the next poll at once after a failed one when
``polling_interval`` is 0 (our setting, for pickup latency), so a refused
connection would be retried in a tight loop. Here a failed receive counts as
"no messages", the next one waits with exponential backoff, and each outage is
logged twice: a warning when it starts and an info when it ends.

A worker that cannot take another message (its prefetch slots are held by jobs it runs)
does not poll. Upstream's channel then re-queues its poll with ``Hub.call_soon`` on
every turn of the event loop until a slot frees; a callback queued from the loop's own
thread does not wake the loop, and Celery's acks run as such callbacks, in the same
unordered batch as that poll. When the poll's check ran before the ack in the batch, the
next ReceiveMessage waited for the loop's next wake-up: a timer, at most a second away
(kombu's curl client sweeps once a second), so on a quiet worker a job queued behind
another was received up to 1 s late, the longer the quieter the machine (fewer other
events wake the loop sooner). Here the
channel parks a queue it cannot poll and starts its poll from the ack (or reject, or a
larger prefetch) that frees a slot, at once; a once-a-second recheck stays as a safety
net, and one receive at a time is in flight per queue.

When a kombu release fixes the crash, keep the backoff or drop this module and
``CELERY_BROKER_TRANSPORT`` in imagegen/settings.py;
tests/imagegen/test_sqs_transport.py shows what must still hold.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kombu.asynchronous import get_event_loop
from kombu.asynchronous.http.curl import CurlClient
from kombu.transport import SQS
from vine import promise

from imagegen.backoff import doubling

logger = logging.getLogger(__name__)


@dataclass
class _Outage:
    """Failed receives in a row on one queue, since ``started`` (monotonic seconds)."""

    started: float = field(default_factory=time.monotonic)
    failures: int = 0


class _CurlClient(CurlClient):
    """kombu's curl client with libcurl's timer read in its unit.

    libcurl asks for a timer in milliseconds (-1: none needed); kombu 5.7.0 hands the number to
    ``Hub.call_later``, which counts seconds, so a transfer that waits on a 1 ms timer sits until
    the client's once-a-second sweep instead: a job now and then was picked up up to a second late.
    """

    def _set_timeout(self, msecs: int) -> None:
        if msecs >= 0:
            self.hub.call_later(msecs / 1000, self._timeout_check)


class Channel(SQS.Channel):
    #: Seconds before the poll that follows a first failed receive; each further
    #: failure doubles it, up to ``receive_retry_max``: the longest a recovered
    #: SQS waits to be noticed.
    receive_retry_first: float = 1.0
    receive_retry_max: float = 10.0
    #: Seconds between rechecks of a parked queue: only a safety net, as settling a delivery
    #: resumes its poll at once.
    parked_recheck: float = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._outages: dict[str, _Outage] = {}
        # Queues with a ReceiveMessage in flight, and queues waiting for a free prefetch slot.
        self._receiving: set[str] = set()
        self._parked: set[str] = set()
        super().__init__(*args, **kwargs)

    def asynsqs(self, queue: str | None = None) -> Any:
        # kombu's SQS connections take the HTTP client the event loop holds: make it ours first. The
        # worker's loop may be set after this channel was made, so it is looked up now.
        hub = self.hub or get_event_loop()
        if hub is not None and not isinstance(getattr(hub, "_current_http_client", None), _CurlClient):
            hub._current_http_client = _CurlClient(hub)
        return super().asynsqs(queue)

    def _on_messages_ready(self, queue: str, qname: str, messages: Any) -> int:
        # kombu's names: ``queue`` is the queue's URL, ``qname`` its name.
        if not isinstance(messages, Mapping):
            self._receive_failed(qname)
            return 0
        self._receive_worked(qname)
        return super()._on_messages_ready(queue, qname, messages)

    def _schedule_queue(self, queue: str) -> None:
        if queue not in self._active_queues:
            self._parked.discard(queue)
            return
        if queue in self._receiving:
            return  # its receive's end schedules the next one
        if not self.qos.can_consume():
            if queue not in self._parked:
                self._parked.add(queue)
                self.hub.call_later(self.parked_recheck, self._recheck_parked, queue)
            return
        self._parked.discard(queue)
        self._receiving.add(queue)
        try:
            self._get_bulk_async(queue, callback=promise(self._loop1, (queue,)))
        except BaseException:
            self._receiving.discard(queue)
            raise

    def _recheck_parked(self, queue: str) -> None:
        if queue in self._parked:
            self._parked.discard(queue)
            self._schedule_queue(queue)

    def _resume_parked(self) -> None:
        # Called where a delivery is settled, which Celery does from a callback of the event loop:
        # the receive starts now rather than on the loop's next wake-up.
        if self.hub is None:
            return
        for queue in list(self._parked):
            if not self.qos.can_consume():
                break
            self._schedule_queue(queue)

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        try:
            super().basic_ack(delivery_tag, multiple)
        finally:
            self._resume_parked()

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        try:
            super().basic_reject(delivery_tag, requeue)
        finally:
            self._resume_parked()

    def basic_qos(self, *args: Any, **kwargs: Any) -> Any:
        result = super().basic_qos(*args, **kwargs)
        self._resume_parked()
        return result

    def _loop1(self, queue: str, messages_fetched: Any = None) -> None:
        self._receiving.discard(queue)
        outage = self._outages.get(queue)
        if outage is None:
            super()._loop1(queue, messages_fetched)
            return
        self.hub.call_later(self._retry_delay(outage.failures), self._schedule_queue, queue)

    def _retry_delay(self, failures: int) -> float:
        return doubling(failures, first=self.receive_retry_first, cap=self.receive_retry_max)

    def _receive_failed(self, qname: str) -> None:
        outage = self._outages.get(qname)
        if outage is None:
            outage = self._outages[qname] = _Outage()
            logger.warning(
                "SQS receive from queue %s failed (timeout, 5xx or no connection); "
                "polling again with backoff up to %.0f s until it works",
                qname,
                self.receive_retry_max,
            )
        outage.failures += 1

    def _receive_worked(self, qname: str) -> None:
        outage = self._outages.pop(qname, None)
        if outage is not None:
            logger.info(
                "SQS receive from queue %s works again after %d failed attempt(s) over %.1f s",
                qname,
                outage.failures,
                time.monotonic() - outage.started,
            )


class Transport(SQS.Transport):
    Channel = Channel
