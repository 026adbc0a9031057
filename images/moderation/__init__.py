"""Moderation providers: verdicts on prompts and images, behind one protocol (``base.py``).

``settings.MODERATION_PROVIDERS`` maps names to dotted paths;
``MODERATION_PROVIDER`` picks one. Providers never touch the database.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from images.moderation.base import Moderator


def get_moderator(name: str | None = None) -> Moderator:
    """The moderation provider registered under ``name`` (default: ``MODERATION_PROVIDER``), made once."""
    return _moderator(
        settings.MODERATION_PROVIDERS[name or settings.MODERATION_PROVIDER], settings.MODERATION_POLICY_FILE
    )


@cache
def _moderator(dotted_path: str, policy_file: str) -> Moderator:
    # Keyed on the policy file too: the builtin provider reads the one named when it is made.
    return import_string(dotted_path)()
