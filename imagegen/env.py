"""Strict readers for configuration taken from environment variables.

Every reader names the variable in its error, so a bad value stops the
process at start with a one-line message instead of failing deep inside a
request.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int_map(name: str, default: str) -> dict[str, int]:
    """Parse ``key:int,key:int`` (e.g. ``TIER_QUOTAS=free:50,pro:1000``)."""
    raw = os.environ.get(name, default)
    result: dict[str, int] = {}
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, number = item.partition(":")
        key = key.strip()
        if not sep or not key:
            raise ImproperlyConfigured(f"{name} entries must look like name:number, got {item!r}")
        try:
            value = int(number.strip())
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {key!r} needs a whole number, got {number!r}") from None
        if value < 0:
            raise ImproperlyConfigured(f"{name}: {key!r} must not be negative")
        result[key] = value
    if not result:
        raise ImproperlyConfigured(f"{name} must name at least one entry")
    return result


def require(name: str, value: str, *, why: str) -> str:
    if not value:
        raise ImproperlyConfigured(f"{name} is required {why}")
    return value
