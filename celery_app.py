"""The Celery application, configured from Django settings (``CELERY_*``).

Workers start with ``celery -A celery_app worker``; the web process imports
this module through ``imagegen/__init__.py`` so tasks queue on commit.
"""

from __future__ import annotations

import logging.config
import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagegen.settings")
# Defined before the settings load: importing them imports the imagegen
# package, whose __init__ imports this module's `app`.
app = Celery("imagegen")

from imagegen.boot import load_settings_or_exit  # noqa: E402
from imagegen.embedded_broker import tune_sqlite_broker  # noqa: E402

load_settings_or_exit()
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Web processes publish and workers consume: both open the embedded broker's file.
# Only that file is opened through SQLAlchemy here, so this needs no settings yet.
tune_sqlite_broker()


@signals.setup_logging.connect
def _use_django_logging(**kwargs: Any) -> None:
    # Worker logs are the same one-line JSON as the web process's.
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@signals.worker_init.connect
def _tune_embedded_broker(**kwargs: Any) -> None:
    from django.conf import settings

    if settings.BROKER_IS_EMBEDDED:
        # The SQLAlchemy transport hands its transport options to create_engine(),
        # so its poll interval can only be set on the class (see STACK notes).
        from kombu.transport import sqlalchemy

        sqlalchemy.Transport.polling_interval = 0.1


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
