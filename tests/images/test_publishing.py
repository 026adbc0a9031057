"""The outbox: a job's message the broker does not take is owed and re-sent (images/services/publishing.py)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from images.models import Generation
from images.services import publishing
from images.services.generations import generation_retry
from images.services.publishing import generation_publish, generations_publish_owed
from images.services.sweeper import generations_sweep
from images.tasks import run_generation
from tests.images.factories import GenerationFactory
from tests.support.waiting import poll

pytestmark = pytest.mark.django_db

URL = "/api/v1/generations"


class Broker:
    """Stands in for run_generation's publishing: takes messages, or refuses them while ``down``."""

    def __init__(self) -> None:
        self.down = False
        self.sent: list[tuple[str, float | None]] = []
        self.refused = 0

    def delay(self, generation_id: str) -> None:
        self.apply_async(args=[generation_id])

    def apply_async(self, args: list, countdown: float | None = None) -> None:
        if self.down:
            self.refused += 1
            raise OperationalError("[Errno 111] Connection refused")
        self.sent.append((args[0], countdown))

    @property
    def ids(self) -> list[str]:
        return [generation_id for generation_id, _ in self.sent]


@pytest.fixture
def broker(monkeypatch) -> Broker:
    broker = Broker()
    monkeypatch.setattr(run_generation, "delay", broker.delay)
    monkeypatch.setattr(run_generation, "apply_async", broker.apply_async)
    return broker


@pytest.fixture
def retrier_starts(monkeypatch) -> list[bool]:
    """The in-process retrier is not started here (tested on its own below)."""
    starts: list[bool] = []
    monkeypatch.setattr(publishing.RETRIER, "ensure_running", lambda: starts.append(True))
    return starts


def owed(**fields) -> Generation:
    return GenerationFactory(published_at=None, **fields)


def test_it_answers_202_with_the_job_when_the_broker_refuses_its_message(
    api, broker, retrier_starts, django_capture_on_commit_callbacks
):
    broker.down = True
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(URL, {"prompt": "a fox", "seed": 1}, format="json")
    assert response.status_code == 202, response.json()
    generation = Generation.objects.get(pk=response.json()["id"])
    assert generation.status == "queued"
    assert generation.published_at is None and generation.publish_attempts == 1
    assert timezone.now() < generation.publish_retry_at <= timezone.now() + timedelta(seconds=1)
    assert retrier_starts == [True]


def test_it_records_when_the_broker_took_the_message(api, broker, retrier_starts, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(URL, {"prompt": "a fox"}, format="json")
    generation = Generation.objects.get(pk=response.json()["id"])
    assert broker.ids == [str(generation.pk)]
    assert generation.published_at is not None and generation.publish_retry_at is None
    assert generation.publish_attempts == 0 and retrier_starts == []


def test_a_client_retrying_with_its_idempotency_key_during_an_outage_gets_the_same_job(
    api, broker, retrier_starts, django_capture_on_commit_callbacks
):
    broker.down = True
    ids = []
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(URL, {"prompt": "a fox"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        assert response.status_code in (200, 202)
        ids.append(response.json()["id"])
    assert ids[0] == ids[1] and Generation.objects.count() == 1


def test_it_resends_owed_jobs_once_their_retry_time_has_come(broker, retrier_starts):
    due = owed(publish_retry_at=timezone.now() - timedelta(seconds=1), publish_attempts=3)
    later = owed(publish_retry_at=timezone.now() + timedelta(seconds=30))
    ended = owed(status="canceled", publish_retry_at=timezone.now() - timedelta(seconds=1))
    sent_before = GenerationFactory(published_at=timezone.now(), publish_retry_at=None)
    assert generations_publish_owed() == {"sent": 1, "failed": 0, "owed": 1}
    assert broker.ids == [str(due.pk)]
    due.refresh_from_db()
    assert due.published_at is not None and due.publish_retry_at is None
    for other in (later, ended, sent_before):
        assert str(other.pk) not in broker.ids


def test_once_a_send_works_every_job_a_send_failed_for_goes_out_without_waiting_out_its_backoff(broker, retrier_starts):
    now = timezone.now()
    due = owed(publish_retry_at=now - timedelta(seconds=1), publish_attempts=1)
    backing_off = owed(publish_retry_at=now + timedelta(seconds=30), publish_attempts=6)
    worker_retry = owed(
        publish_retry_at=now + timedelta(seconds=40), publish_attempts=1, enqueued_at=now + timedelta(seconds=40)
    )
    in_flight = owed(publish_retry_at=now + timedelta(seconds=30), publish_attempts=0)
    assert generations_publish_owed() == {"sent": 3, "failed": 0, "owed": 1}
    sent = dict(broker.sent)
    assert set(sent) == {str(due.pk), str(backing_off.pk), str(worker_retry.pk)}
    assert sent[str(due.pk)] is None and sent[str(backing_off.pk)] is None
    assert 38 < sent[str(worker_retry.pk)] <= 40  # still due when the worker asked for it
    assert str(in_flight.pk) not in sent


def test_jobs_not_yet_due_wait_while_no_send_has_worked(broker, retrier_starts):
    owed(publish_retry_at=timezone.now() + timedelta(seconds=30), publish_attempts=6)
    assert generations_publish_owed() == {"sent": 0, "failed": 0, "owed": 1}
    assert broker.sent == [] and broker.refused == 0


def test_it_stops_a_pass_at_the_first_refused_message_and_backs_off_that_job(broker, retrier_starts, settings):
    settings.PUBLISH_RETRY_MAX_SECONDS = 30
    jobs = [owed(publish_retry_at=timezone.now() - timedelta(seconds=10 - i), publish_attempts=5) for i in range(3)]
    broker.down = True
    assert generations_publish_owed() == {"sent": 0, "failed": 1, "owed": 3}
    assert broker.refused == 1
    first = Generation.objects.get(pk=jobs[0].pk)
    assert first.publish_attempts == 6
    # 2**5 = 32 s, capped
    assert timezone.now() + timedelta(seconds=29) < first.publish_retry_at <= timezone.now() + timedelta(seconds=30)


@pytest.mark.parametrize(("failures", "seconds"), [(1, 1), (2, 2), (3, 4), (5, 16), (6, 30), (40, 30)])
def test_the_backoff_doubles_up_to_its_cap(settings, failures, seconds):
    settings.PUBLISH_RETRY_MAX_SECONDS = 30
    assert publishing.publish_backoff_seconds(failures) == seconds


def test_a_worker_retry_the_broker_refuses_is_owed_from_when_it_was_due(broker, retrier_starts):
    generation = GenerationFactory(published_at=timezone.now())
    broker.down = True
    assert generation_publish(generation_id=str(generation.pk), countdown=20) is False
    generation.refresh_from_db()
    assert generation.published_at is None
    assert (
        timezone.now() + timedelta(seconds=19) < generation.publish_retry_at <= timezone.now() + timedelta(seconds=20)
    )


def test_the_sweeper_and_the_staff_retry_publish_through_the_outbox(
    broker, retrier_starts, settings, django_capture_on_commit_callbacks
):
    lost = GenerationFactory(
        published_at=timezone.now(),
        enqueued_at=timezone.now() - timedelta(seconds=settings.GENERATION_QUEUED_STALE_SECONDS + 5),
    )
    failed = GenerationFactory(status="failed", published_at=timezone.now())
    broker.down = True
    with django_capture_on_commit_callbacks(execute=True):
        generations_sweep()
        assert generation_retry(generation=failed) is True
    for generation in (lost, failed):
        generation.refresh_from_db()
        assert generation.status == "queued" and generation.published_at is None
        assert generation.publish_attempts == 1
    assert broker.refused == 2 and len(retrier_starts) == 2


def test_metrics_count_refused_messages_outages_and_owed_jobs(client, broker, retrier_starts, settings):
    settings.METRICS_ALLOW_LOOPBACK = True

    def scrape() -> dict[str, float]:
        lines = client.get("/metrics").content.decode().splitlines()
        return {
            name: float(value)
            for name, value in (line.rsplit(" ", 1) for line in lines if line and not line.startswith("#"))
        }

    before = scrape()
    generations = [GenerationFactory(published_at=timezone.now()) for _ in range(2)]
    broker.down = True
    for generation in generations:
        generation_publish(generation_id=str(generation.pk))
    after = scrape()
    assert after["imagegen_generations_unpublished"] == 2
    assert after["imagegen_publish_failures_total"] - before.get("imagegen_publish_failures_total", 0) == 2
    # One outage, however many jobs it refused.
    assert after["imagegen_broker_outages_total"] - before.get("imagegen_broker_outages_total", 0) <= 1
    assert "imagegen_broker_outages_total" in after
    broker.down = False
    Generation.objects.update(publish_retry_at=timezone.now())
    generations_publish_owed()
    final = scrape()
    assert final["imagegen_generations_unpublished"] == 0
    assert (
        final['imagegen_publish_retries_total{result="sent"}']
        - before.get('imagegen_publish_retries_total{result="sent"}', 0)
        == 2
    )


@pytest.mark.django_db(transaction=True)
def test_the_process_that_failed_to_publish_resends_by_itself_and_then_stops(broker, settings):
    settings.PUBLISH_RETRY_INTERVAL = 0.1
    generation = GenerationFactory(published_at=timezone.now())
    broker.down = True
    assert generation_publish(generation_id=str(generation.pk)) is False
    time.sleep(0.3)
    assert broker.sent == []  # still down: nothing taken, the thread keeps trying
    broker.down = False
    poll(lambda: publishing.RETRIER._thread is None, timeout=10, interval=0.05)
    assert publishing.RETRIER._thread is None, "the retrier should stop once nothing is owed"
    assert broker.ids == [str(generation.pk)]
    generation.refresh_from_db()
    assert generation.published_at is not None
