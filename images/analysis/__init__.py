"""Image analyzers: labels for an image's bytes, behind one protocol (``base.py``).

``settings.IMAGE_ANALYZERS`` maps names to dotted paths; ``IMAGE_ANALYZER``
picks one. Like the providers, analyzers never touch the database or storage.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from images.analysis.base import Analyzer


def get_analyzer(name: str | None = None) -> Analyzer:
    """The analyzer registered under ``name`` (default: ``IMAGE_ANALYZER``), made once."""
    return _analyzer(settings.IMAGE_ANALYZERS[name or settings.IMAGE_ANALYZER])


@cache
def _analyzer(dotted_path: str) -> Analyzer:
    return import_string(dotted_path)()
