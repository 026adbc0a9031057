"""Moderation providers: verdicts on prompts and images, behind one protocol (``base.py``).

``settings.MODERATION_PROVIDERS`` maps names to dotted paths;
``MODERATION_PROVIDER`` picks one. Providers never touch the database.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from images.moderation.base import Moderator


@cache
def get_moderator(name: str | None = None) -> Moderator:
    """The moderation provider registered under ``name`` (default: ``MODERATION_PROVIDER``)."""
    return import_string(settings.MODERATION_PROVIDERS[name or settings.MODERATION_PROVIDER])()
