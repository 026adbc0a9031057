"""Provider registry: names mapped to dotted paths in ``settings.IMAGE_PROVIDERS``."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from images.providers.base import Provider


@cache
def get_provider(name: str) -> Provider:
    """The provider instance registered under ``name`` (KeyError if there is none)."""
    return import_string(settings.IMAGE_PROVIDERS[name])()


def configured_providers() -> dict[str, Provider]:
    """Providers whose settings are present, the default first."""
    names = sorted(settings.IMAGE_PROVIDERS, key=lambda n: (n != settings.IMAGE_PROVIDER, n))
    providers = {name: get_provider(name) for name in names}
    return {name: p for name, p in providers.items() if p.is_configured()}


def default_provider_name() -> str:
    return settings.IMAGE_PROVIDER


def provider_status() -> dict[str, dict]:
    """Which providers have their settings; informational, never a reason to be unready."""
    configured = configured_providers()
    return {
        name: {
            "configured": name in configured,
            "default": name == default_provider_name(),
            "models": get_provider(name).models() if name in configured else [],
        }
        for name in settings.IMAGE_PROVIDERS
    }
