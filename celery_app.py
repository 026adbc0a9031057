"""The worker's and beat's entry point: ``celery -A celery_app worker`` (or ``beat``).

Loads the settings first (a configuration mistake stops the start with one
line), then hands Celery the app, which lives in ``imagegen/celery.py``.
"""

from imagegen.boot import load_settings_or_exit

load_settings_or_exit()

from imagegen.celery import app  # noqa: E402 - after the settings, as in manage.py

__all__ = ["app"]
