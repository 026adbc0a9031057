"""The worker's jobs, queued by name: the services send work without importing the tasks' code.

``images/tasks.py`` imports the services it runs; if the services imported the
tasks to queue them, the two would import each other. A job is sent by its
name anyway (that is what crosses the broker), so the services look the task
up in Celery's registry by name. The registry is filled the way a worker fills
it: Celery's autodiscovery imports every app's ``tasks`` module.
"""

from __future__ import annotations

import threading

from celery import Task, current_app

RUN_GENERATION = "images.run_generation"
PROCESS_IMAGE = "images.process_image"
DELIVER_WEBHOOK = "images.deliver_webhook"


# Celery's autodiscovery returns at once, having imported nothing, to a thread that calls it while
# another thread's call runs: the first requests of a new web process would find no task.
_discovering = threading.Lock()


def job(name: str) -> Task:
    """The registered task ``name`` (``.delay``, ``.delay_on_commit``, ``.apply_async`` as usual)."""
    registry = current_app.tasks
    if name not in registry:
        with _discovering:
            if name not in registry:
                current_app.loader.import_default_modules()  # autodiscovery, as at a worker's start
    return registry[name]
