"""The fair queue end to end: real workers, a real web server, two users; who starts first is read from the rows.

SPEC §6: with one worker slot, if user A has 30 jobs queued and user B then
queues one, B's job starts before A's third next job starts. Here A queues
fewer jobs (each takes a fraction of a second) which changes nothing: A's
backlog only has to outlast the in-flight limit. The workers start once both
users have queued, so how fast this machine runs A's jobs while A is still
queueing them does not change the backlog B finds.
"""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import RefreshToken

from images.models import Generation
from tests.factories import UserFactory
from tests.support.http import call
from tests.support.moto import aws_env, boto3_client
from tests.support.processes import celery_worker, child_env, web_server
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

A_JOBS = 8


def token(user) -> str:
    return str(RefreshToken.for_user(user).access_token)


def queue_and_run(env: dict[str, str], tmp_path, *, workers: int) -> tuple[list[Generation], Generation]:
    """A queues A_JOBS, then B queues one, then the workers start: A's whole backlog is there, whatever the speed."""
    a, b = UserFactory(), UserFactory()
    with ExitStack() as stack:
        base = stack.enter_context(web_server(tmp_path / "web.log", env=env))
        for index in range(A_JOBS):
            status, _ = call("POST", f"{base}/api/v1/generations", token(a),
                             {"prompt": f"slow-0.4 a{index}", "provider": "fake"})  # fmt: skip
            assert status == 202
        status, body = call(
            "POST", f"{base}/api/v1/generations", token(b), {"prompt": "slow-0.4 b", "provider": "fake"}
        )
        assert status == 202
        for index in range(workers):
            stack.enter_context(celery_worker(tmp_path / f"worker-{index}.log", env=env))
        wait_for(
            lambda: Generation.objects.filter(status="succeeded").count() == A_JOBS + 1,
            timeout=120,
            what="every job to succeed",
            log=tmp_path / "worker-0.log",
        )
    return list(Generation.objects.filter(user=a)), Generation.objects.get(pk=body["id"])


def assert_b_started_before_as_third_next_job(a_jobs: list[Generation], b_job: Generation) -> None:
    next_of_a = sorted(g.started_at for g in a_jobs if g.started_at > b_job.created_at)
    assert len(next_of_a) >= 3
    assert b_job.started_at < next_of_a[2], (b_job.started_at, next_of_a)


def test_with_one_worker_slot_a_second_user_is_not_starved_on_the_embedded_broker(tmp_path):
    env = child_env(
        IMAGEGEN_VAR_DIR=str(tmp_path),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        GENERATION_IN_FLIGHT_LIMIT="2",
    )

    a_jobs, b_job = queue_and_run(env, tmp_path, workers=1)

    assert_b_started_before_as_third_next_job(a_jobs, b_job)
    assert all(g.attempts == 1 for g in [*a_jobs, b_job])  # each ran once


def test_with_two_workers_on_sqs_a_second_user_is_not_starved(moto_url, tmp_path):
    queue = f"imagegen-fair-{tmp_path.name}"[:80]
    boto3_client("sqs", moto_url).create_queue(QueueName=queue)
    env = child_env(
        **aws_env(moto_url),
        CELERY_BROKER_URL="sqs://",
        SQS_QUEUE_NAME=queue,
        IMAGEGEN_VAR_DIR=str(tmp_path),
        GENERATION_IN_FLIGHT_LIMIT="2",  # the workers' slots: none of A's jobs waits in the broker
    )

    a_jobs, b_job = queue_and_run(env, tmp_path, workers=2)

    assert_b_started_before_as_third_next_job(a_jobs, b_job)
    assert all(g.attempts == 1 for g in [*a_jobs, b_job])
