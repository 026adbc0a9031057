"""Requests held by `Prefer: wait` must not starve the server (gunicorn gthread, as the README runs it)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from images.models import Generation
from tests.support.http import call
from tests.support.processes import child_env, web_server
from tests.support.waiting import poll

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WAITERS = 20


def test_twenty_waiting_requests_leave_get_answering(user, tmp_path):
    token = str(RefreshToken.for_user(user).access_token)
    # No worker runs: every job stays queued, so each waiter holds on for its full wait.
    with web_server(tmp_path / "web.log", env=child_env()) as base, ThreadPoolExecutor(WAITERS) as pool:
        waiters = [
            pool.submit(call, "POST", f"{base}/api/v1/generations", token, {"prompt": f"p{i}"}, Prefer="wait=15")
            for i in range(WAITERS)
        ]
        poll(Generation.objects.count, until=lambda count: count >= WAITERS, timeout=30, interval=0.1)
        assert Generation.objects.count() == WAITERS
        target = Generation.objects.first()
        status, body = call("GET", f"{base}/api/v1/generations/{target.pk}", token)
        still_waiting = sum(not w.done() for w in waiters)
        results = [w.result() for w in waiters]
    assert status == 200 and body["id"] == str(target.pk)
    # The GET was answered while the waiting requests were still being held.
    # Each of the two processes holds at most MAX_WAITING_REQUESTS (12) waiters; the rest answer at once.
    assert still_waiting >= 12
    assert all(code == 202 and body["status"] == "queued" for code, body in results)
