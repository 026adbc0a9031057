"""One JSON error format for the whole API.

Every error under ``/api/`` has this body::

    {"error": {"code": "<stable_code>", "message": "<human text>", "field": "<field>" | null,
               "details": {"<field>": ["<message>", ...]}}}   # details: validation errors only

``exception_handler`` is DRF's ``EXCEPTION_HANDLER``; ``handler400/403/404/500``
are Django's error views, answering JSON for ``/api/`` (and OpenAI's shape for
``/v1/``) and Django's own pages elsewhere. An unreachable database is a 503
``service_unavailable`` with ``Retry-After`` everywhere, not a 500. Services raise the
domain's errors (``imagegen.errors``), mapped to a status here once; views raise
``ApiError(status, code, message, field=None)`` for errors of the HTTP layer itself.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings

from imagegen import errors as domain
from imagegen.database import RETRY_AFTER_SECONDS, is_database_unavailable
from imagegen.logging import request_id_var
from imagegen.statuses import status_for

logger = logging.getLogger("imagegen.api")

API_PREFIX = "/api/"
OPENAI_PREFIX = "/v1/"
# While the database is unreachable (imagegen/database.py): code and message of the 503.
UNAVAILABLE = ("service_unavailable", "The service is temporarily unavailable; try again in a few seconds.")


class ApiError(exceptions.APIException):
    """An API error with a stable machine-readable ``code``; raise it from views (services raise the domain's).

    >>> raise ApiError(409, "already_finished", "The generation has already ended.")
    >>> raise ApiError(400, "unknown_style", "style: must be one of photo, ...", field="style")

    ``headers`` are added to the response; ``wait`` (seconds) becomes ``Retry-After``.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        wait: float | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})
        self.wait = wait
        self.extra = dict(extra or {})


def api_error(exc: domain.DomainError) -> ApiError:
    """A domain error as the API's error, same code, message, field and wait."""
    return ApiError(status_for(exc), exc.code, exc.message, exc.field, wait=exc.wait, extra=exc.extra)


def error_body(code: str, message: str, field: str | None = None, details: dict[str, list[str]] | None = None) -> dict:
    """The error object every API error response carries."""
    error: dict[str, Any] = {"code": code, "message": message, "field": field}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_response(
    status: int, code: str, message: str, field: str | None = None, *, headers: Mapping[str, str] | None = None
) -> JsonResponse:
    """The same error as a plain Django response, for views outside DRF."""
    response = JsonResponse(error_body(code, message, field), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, rounded up, never 0 (0 invites a tight retry loop)."""
    return str(max(1, math.ceil(seconds)))


# --- DRF ---------------------------------------------------------------------------


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's ``EXCEPTION_HANDLER``: every API exception becomes the one error format.

    Anything that is not an API error returns ``None``, so Django logs it and
    ``handler500`` answers.
    """
    # Imported here: rest_framework.views loads the authentication classes named
    # in settings, and those import this module.
    from rest_framework.views import set_rollback

    if is_database_unavailable(exc):
        # Authentication, throttles and views all query the database: one outage, one answer.
        logger.warning("database unavailable", extra={"error": str(exc)[:300]})
        exc = ApiError(503, *UNAVAILABLE, wait=RETRY_AFTER_SECONDS)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    elif isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError (forms understand it too).
        exc = exceptions.ValidationError(serializers.as_serializer_error(exc))
    elif isinstance(exc, domain.Unauthenticated):
        # What DRF does for its own AuthenticationFailed: the view's challenge, or 403 without one.
        exc = exceptions.AuthenticationFailed(exc.message, code=exc.code)
        view, request = context.get("view"), context.get("request")
        header = view.get_authenticate_header(request) if view is not None and request is not None else None
        if header:
            exc.auth_header = header
        else:
            exc.status_code = 403
    elif isinstance(exc, domain.DomainError):
        exc = api_error(exc)
    if not isinstance(exc, exceptions.APIException):
        return None

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    wait = getattr(exc, "wait", None)
    if wait is not None:
        headers["Retry-After"] = retry_after(wait)
    if isinstance(exc, ApiError):
        headers.update(exc.headers)
        body = error_body(exc.code, exc.message, exc.field)
        body["error"].update({key: value for key, value in exc.extra.items() if key not in body["error"]})
    elif isinstance(exc, exceptions.ValidationError):
        body = validation_error_body(exc.detail)
    else:
        body = error_body(_code_for(exc), _message_for(exc.detail))
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


def validation_error_body(detail: Any) -> dict:
    """``{"error": {...}}`` for a DRF validation ``detail`` (a dict, a list or a message).

    Nested errors get dotted paths (``items.0.name``); the first error names the
    code, the field and the message.
    """
    non_field = api_settings.NON_FIELD_ERRORS_KEY
    details: dict[str, list[str]] = {}
    first: tuple[str | None, Any] | None = None
    for path, error in _flatten(detail, None):
        field = None if path in (None, non_field) else path
        details.setdefault(field or non_field, []).append(str(error))
        if first is None:
            first = (field, error)
    if first is None:  # an empty detail: still a well-formed error
        return error_body("invalid", "Invalid input.", None, {})
    field, error = first
    code = getattr(error, "code", None) or "invalid"
    message = f"{field}: {error}" if field else str(error)
    return error_body(str(code), message, field, details)


def _flatten(detail: Any, path: str | None) -> Iterator[tuple[str | None, Any]]:
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            yield from _flatten(value, f"{path}.{key}" if path else str(key))
    elif isinstance(detail, list | tuple):
        for index, item in enumerate(detail):
            if isinstance(item, Mapping | list | tuple):
                # many=True serializers and list fields: one entry per item, {} when valid.
                yield from _flatten(item, f"{path}.{index}" if path else str(index))
            else:
                yield path, item
    else:
        yield path, detail


def _code_for(exc: exceptions.APIException) -> str:
    # The documented vocabulary: every failed credential is "authentication_failed",
    # whichever class (DRF, simplejwt, ours) noticed it.
    if isinstance(exc, exceptions.NotAuthenticated):
        return "not_authenticated"
    if isinstance(exc, exceptions.AuthenticationFailed):
        return "authentication_failed"
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def _message_for(detail: Any) -> str:
    if isinstance(detail, Mapping) and "detail" in detail:
        # simplejwt's InvalidToken: {"detail", "code", "messages": [{"message": "Token is expired", ...}]}
        message = str(detail["detail"])
        reasons = [str(m["message"]) for m in detail.get("messages", []) if isinstance(m, Mapping) and "message" in m]
        if reasons:
            message = f"{message}: {reasons[0]}"
        return message
    for _path, error in _flatten(detail, None):
        return str(error)
    return str(detail)


class ErrorObjectSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. required, not_found, throttled.")
    message = serializers.CharField(help_text="Human-readable explanation.")
    field = serializers.CharField(allow_null=True, help_text="The offending field, or null.")
    details = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation errors only: every offending field with its messages.",
    )
    categories = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="moderation_blocked only: the moderation categories the prompt fell under.",
    )


class ErrorSerializer(serializers.Serializer):
    """The error body, for ``extend_schema(responses={400: ErrorSerializer, ...})``."""

    error = ErrorObjectSerializer()


# --- Django's error views (urls.py: handler400/403/404/500) ------------------------


def service_unavailable(request: HttpRequest) -> HttpResponse:
    """503 with ``Retry-After`` while the database is unreachable: the API's JSON, OpenAI's shape, or a plain page."""
    headers = {"Retry-After": retry_after(RETRY_AFTER_SECONDS)}
    if _is_api(request):
        return error_response(503, *UNAVAILABLE, headers=headers)
    if _is_openai(request):
        response = _openai_error(503, UNAVAILABLE[0], UNAVAILABLE[1], "server_error")
    else:
        # No request context: the page must not touch the session or the user, which live in the database.
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
    response["Retry-After"] = headers["Retry-After"]
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _is_openai(request: HttpRequest) -> bool:
    return request.path.startswith(OPENAI_PREFIX)


def _openai_error(status: int, code: str, message: str, error_type: str) -> JsonResponse:
    # The OpenAI-compatible endpoint answers in OpenAI's shape so its SDK can read the error.
    body = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    return JsonResponse(body, status=status)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return error_response(400, "bad_request", "The request could not be understood.")
    if _is_openai(request):
        return _openai_error(400, "bad_request", "The request could not be understood.", "invalid_request_error")
    return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return error_response(403, "permission_denied", "You do not have permission to perform this action.")
    if _is_openai(request):
        return _openai_error(403, "permission_denied", "Permission denied.", "invalid_request_error")
    return defaults.permission_denied(request, exception)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return error_response(404, "not_found", f"Nothing at {request.path}: check the URL and the API version.")
    if _is_openai(request):
        return _openai_error(404, "not_found", f"Unknown URL {request.path}.", "invalid_request_error")
    return defaults.page_not_found(request, exception)


def request_too_large(request: HttpRequest, limit: int) -> HttpResponse:
    """413 for a body over ``limit`` bytes (imagegen.body_limit), in the shape the path's clients read."""
    message = f"The request body is over the limit of {limit} bytes."
    if _is_api(request):
        return error_response(413, "request_too_large", message)
    if _is_openai(request):
        return _openai_error(413, "request_too_large", message, "invalid_request_error")
    page = f"<!doctype html><title>Request too large</title><h1>Request too large</h1><p>{message}</p>"
    return HttpResponse(page, status=413)


def handler500(request: HttpRequest) -> HttpResponse:
    # Errors raised in a middleware (a session saved on the way out) arrive only here.
    exc = sys.exc_info()[1]
    if exc is not None and is_database_unavailable(exc):
        return service_unavailable(request)
    # Django has already logged the exception (logger django.request, with the traceback).
    request_id = getattr(request, "request_id", None) or request_id_var.get() or "-"
    message = f"Internal server error; quote request id {request_id} when reporting it."
    if _is_api(request):
        return error_response(500, "server_error", message)
    if _is_openai(request):
        return _openai_error(500, "server_error", message, "server_error")
    return defaults.server_error(request)
