"""Request throttles, counted in the default cache (the database cache) so every
web process and thread shares the same counts.

Scopes and their rates live in ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``
(from ``THROTTLE_*_RATE``): ``anon`` per IP for unauthenticated requests,
``user`` per user (JWT, API key or session alike), ``auth`` per IP on the
sign-in, sign-up and password endpoints, where passwords can be guessed.
Rates may span several units (``100/15min``), which DRF's parser cannot read.
"""

from __future__ import annotations

from rest_framework import throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

from imagegen.api.rates import parse_rate


class _RateMixin:
    @property
    def THROTTLE_RATES(self) -> dict:
        # Read at request time (DRF binds it at import), so overridden settings apply.
        return api_settings.DEFAULT_THROTTLE_RATES

    def parse_rate(self, rate: str | None) -> tuple[int | None, int | None]:
        if rate is None:
            return None, None
        return parse_rate(rate)


class AnonRateThrottle(_RateMixin, throttling.AnonRateThrottle):
    """Unauthenticated requests, per client IP (``NUM_PROXIES`` says which address that is)."""

    scope = "anon"


class UserRateThrottle(_RateMixin, throttling.UserRateThrottle):
    """Authenticated requests, per user; anonymous ones are left to ``AnonRateThrottle``."""

    scope = "user"

    def get_cache_key(self, request: Request, view: object) -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class AuthRateThrottle(_RateMixin, throttling.SimpleRateThrottle):
    """Password-handling endpoints, per client IP whether signed in or not."""

    scope = "auth"

    def get_cache_key(self, request: Request, view: object) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
