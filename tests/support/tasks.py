"""Tasks that exist only for tests; a test worker loads them with ``--include``."""

from pathlib import Path

from celery import shared_task

from imagegen.logging import request_id_var


@shared_task(name="tests.support.tasks.write_marker")
def write_marker(path: str, text: str) -> None:
    Path(path).write_text(f"{text}\n{request_id_var.get()}")
