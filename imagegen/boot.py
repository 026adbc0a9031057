"""Load settings up front so a configuration mistake stops the start with one line."""

from __future__ import annotations

import os
import sys


def load_settings_or_exit() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagegen.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # noqa: B018 - touching a setting imports the module
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"imagegen: configuration error: {exc}\n")
        raise SystemExit(2) from None
