"""What the server-rendered pages share: a service's refusal shown on its form, or as the page's 404.

The pages' one mapping of the domain's errors (``imagegen.errors``); the API has
its own in ``imagegen.api.errors``, and both take the status from ``imagegen.statuses``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from imagegen.errors import DomainError, NotFound

T = TypeVar("T")


def or_404(call: Callable[[], T]) -> T:
    """Run a service call; its "not found" (another user's id included) becomes this page's 404."""
    try:
        return call()
    except NotFound as exc:
        raise Http404(exc.message) from None


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The request's ``next`` (form field, else query) if it stays on this site (https if we are), else ``fallback``."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return candidate if candidate and allowed else fallback


def add_service_error(form: forms.Form, exc: object, *, aliases: dict[str, str] | None = None) -> None:
    """Show a service's error on ``form``: next to its field when the form has one, above the form otherwise.

    Understands Django's ``ValidationError`` (keyed by field or not), the
    domain's errors (one message, maybe a ``field``) and ``serializer.errors``-like
    dicts. ``aliases`` maps a service's field name to the form's
    (``reference_images.0`` style paths match on their first part).
    """
    aliases = aliases or {}

    def target(name: str | None) -> str | None:
        if not name:
            return None
        name = aliases.get(name, name)
        head = name.split(".", 1)[0]
        head = aliases.get(head, head)
        return head if head in form.fields else None

    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(target(name), errors)
    elif isinstance(exc, ValidationError):
        form.add_error(None, exc)
    elif isinstance(exc, dict):
        for name, messages in exc.items():
            for message in _flatten_messages(messages):
                form.add_error(target(None if name == "non_field_errors" else name), message)
    elif isinstance(exc, DomainError):
        form.add_error(target(exc.field), exc.message)
    else:
        raise TypeError(f"cannot show {type(exc).__name__} on a form")


def _flatten_messages(value: object) -> list[str]:
    if isinstance(value, dict):
        return [m for item in value.values() for m in _flatten_messages(item)]
    if isinstance(value, list | tuple):
        return [m for item in value for m in _flatten_messages(item)]
    return [str(value)]
