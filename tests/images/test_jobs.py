"""Jobs queued by name (images/jobs.py): the registered task, found whether or not its module was imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from images.jobs import DELIVER_WEBHOOK, PROCESS_IMAGE, RUN_GENERATION, job
from tests.support.processes import BASE_DIR, child_env


def test_each_name_is_the_task_the_worker_runs():
    from images import tasks

    assert job(RUN_GENERATION) is tasks.run_generation._get_current_object()
    assert job(PROCESS_IMAGE).name == PROCESS_IMAGE
    assert job(DELIVER_WEBHOOK).name == DELIVER_WEBHOOK


def test_a_process_that_never_imported_the_tasks_finds_them_by_autodiscovery():
    code = textwrap.dedent(
        """
        import sys, django
        django.setup()
        assert "images.tasks" not in sys.modules
        from images.jobs import RUN_GENERATION, job
        print(job(RUN_GENERATION).name)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=child_env(), capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == RUN_GENERATION


def test_the_first_requests_of_a_new_process_all_find_the_job_at_once():
    # Celery's autodiscovery returns without importing anything to a thread that calls it while another runs it.
    code = textwrap.dedent(
        """
        import json, threading, django
        django.setup()
        from images.jobs import RUN_GENERATION, job

        start, errors = threading.Barrier(16), []

        def ask():
            start.wait()
            try:
                job(RUN_GENERATION)
            except Exception as exc:
                errors.append(repr(exc))

        threads = [threading.Thread(target=ask) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(json.dumps(errors))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=child_env(), capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
