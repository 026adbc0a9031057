"""The worker's and beat's entry point: ``celery -A celery_app worker`` (or ``beat``).

Starts like manage.py and gunicorn (imagegen/boot.py: var/, then the settings,
a configuration mistake in one line), then hands Celery the app, which lives
in ``imagegen/celery.py``.
"""

from imagegen.boot import start

start()

from imagegen.celery import app  # noqa: E402 - after the start, as in manage.py

__all__ = ["app"]
