"""The Celery application, configured from Django settings (``CELERY_*``).

Workers start from ``celery_app.py`` (``celery -A celery_app worker``); web
processes create the app when Django starts (``imagegen/apps.py``), so tasks
queue on commit through it. Importing this module loads no settings: Celery
reads them the first time the app's configuration is used.
"""

from __future__ import annotations

import logging.config
from typing import Any

from celery import Celery, signals

from imagegen.embedded_broker import tune_sqlite_broker, use_waking_transport

# DJANGO_SETTINGS_MODULE is set by then (imagegen/boot.py, pytest-django): Celery's Django fixup
# needs it here to make this the app of every thread, gunicorn's request threads included.
app = Celery("imagegen")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _tune_embedded_broker_file(**kwargs: Any) -> None:
    # Web processes publish and workers consume: both open the embedded broker's file,
    # and neither opens it before the configuration (the broker's URL) is read.
    tune_sqlite_broker()
    use_waking_transport()


@signals.setup_logging.connect
def _use_django_logging(**kwargs: Any) -> None:
    # Worker logs are the same one-line JSON as the web process's.
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@signals.before_task_publish.connect
def _carry_request_id(headers: dict | None = None, **kwargs: Any) -> None:
    from imagegen.logging import request_id_var

    request_id = request_id_var.get()
    if headers is not None and request_id and "request_id" not in headers:
        headers["request_id"] = request_id


@signals.task_prerun.connect
def _restore_request_id(task: Any = None, **kwargs: Any) -> None:
    from imagegen.logging import new_request_id, request_id_var

    incoming = getattr(task.request, "request_id", None) if task is not None else None
    request_id_var.set(new_request_id(incoming))
