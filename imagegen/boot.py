"""How a process starts: what it needs on disk, then the settings, so a configuration mistake
stops the start with one line."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path


def start() -> None:
    """What every entry point (manage.py, imagegen/wsgi.py and asgi.py, celery_app.py) does first.

    Makes ``var/`` and, under DEBUG with no key configured, the development
    ``SECRET_KEY`` (imagegen/var.py), then loads the settings, which only read.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagegen.settings")
    from django.core.exceptions import ImproperlyConfigured

    from imagegen.var import prepare

    try:
        prepare()
    except ImproperlyConfigured as exc:
        _exit(exc)
    load_settings_or_exit()
    from django.conf import settings

    # Otherwise WhiteNoise warns of a missing folder at every start; a read-only checkout serves from the finders.
    with contextlib.suppress(OSError):
        Path(settings.STATIC_ROOT).mkdir(exist_ok=True)


def load_settings_or_exit() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagegen.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # noqa: B018 - touching a setting imports the module
    except ImproperlyConfigured as exc:
        _exit(exc)


def _exit(exc: Exception) -> None:
    sys.stderr.write(f"imagegen: configuration error: {exc}\n")
    raise SystemExit(2) from None
