"""A real task goes through the embedded broker to a real worker process."""

from __future__ import annotations

import pytest

from celery_app import app
from imagegen.logging import request_id_var
from tests.support.processes import celery_worker
from tests.support.waiting import poll

pytestmark = pytest.mark.slow


def test_a_task_sent_through_the_embedded_broker_runs_in_a_worker_with_the_request_id(tmp_path, settings):
    assert settings.BROKER_IS_EMBEDDED
    marker = tmp_path / "marker.txt"
    with celery_worker(tmp_path / "worker.log", include="tests.support.tasks"):
        token = request_id_var.set("req-from-web")
        try:
            app.send_task("tests.support.tasks.write_marker", args=[str(marker), "ran"])
        finally:
            request_id_var.reset(token)
        poll(marker.exists, timeout=20, interval=0.1)
    assert marker.read_text().splitlines() == ["ran", "req-from-web"]
