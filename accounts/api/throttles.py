"""Request throttles: per-client window counters shared by every process (``imagegen.ratelimit``).

Scopes and their rates live in ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``
(from ``THROTTLE_*_RATE``): ``anon`` per IP for unauthenticated requests,
``user`` per user (JWT, API key or session alike), ``auth`` per IP on the
sign-in, sign-up and password endpoints, where passwords can be guessed, and
``account`` per account named in a sign-in (API, site and admin alike), so
guesses spread over many addresses still meet a limit.
Rates may span several units (``100/15min``), which DRF's parser cannot read.

Each request costs one atomic counter update, whatever the rate; DRF's
``SimpleRateThrottle`` kept a list of every request time in the window and
rewrote it per request, without a lock.
"""

from __future__ import annotations

import ipaddress

from rest_framework import throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

from imagegen.api.rates import parse_rate
from imagegen.ratelimit import rate_hit


def client_network(address: str) -> str:
    """The client's address; for IPv6 its /64, which one subscriber usually holds whole.

    Keying IPv6 clients by address would let one of them spread its requests
    (and our counter rows) over 2**64 addresses.
    """
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()[:64] or "unknown"
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


class WindowThrottle(throttling.BaseThrottle):
    """A throttle of one ``scope``, counted per ``get_ident_key``."""

    scope: str = ""

    def __init__(self) -> None:
        self._wait: float | None = None

    def rate(self) -> str | None:
        # Read at request time, not import time, so overridden settings apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident_key(self, request: Request, view: object) -> str | None:
        """Who is counted: None leaves the request to other throttles."""
        return client_network(self.get_ident(request))

    def allow_request(self, request: Request, view: object) -> bool:
        rate = self.rate()
        ident = self.get_ident_key(request, view) if rate else None
        if ident is None:
            return True
        limit, window = parse_rate(rate)
        decision = rate_hit(f"{self.scope}:{window}:{ident}", limit=limit, window=window)
        self._wait = decision.wait
        return decision.allowed

    def wait(self) -> float | None:
        return self._wait


class AnonRateThrottle(WindowThrottle):
    """Unauthenticated requests, per client IP (``NUM_PROXIES`` says which address that is)."""

    scope = "anon"

    def get_ident_key(self, request: Request, view: object) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return super().get_ident_key(request, view)


class UserRateThrottle(WindowThrottle):
    """Authenticated requests, per user; anonymous ones are left to ``AnonRateThrottle``."""

    scope = "user"

    def get_ident_key(self, request: Request, view: object) -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None
        return str(request.user.pk)


class AuthRateThrottle(WindowThrottle):
    """Password-handling endpoints, per client IP whether signed in or not."""

    scope = "auth"


def account_ident(email: object) -> str | None:
    """The key an attempt on the account ``email`` is counted under (None when no email was given)."""
    if not isinstance(email, str) or not email.strip():
        return None
    return email.strip().lower()


class AccountRateThrottle(WindowThrottle):
    """Sign-in attempts per account (the ``email`` of the request body), whatever the address."""

    scope = "account"

    def get_ident_key(self, request: Request, view: object) -> str | None:
        data = getattr(request, "data", None)
        if data is None:  # a Django request (the site's and the admin's sign-in pages)
            data = request.POST
        if not hasattr(data, "get"):
            return None
        return account_ident(data.get("email") or data.get("username"))
