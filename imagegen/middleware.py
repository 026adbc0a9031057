from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from imagegen.database import is_database_unavailable
from imagegen.logging import new_request_id, request_id_var
from imagegen.metrics import observe_request

logger = logging.getLogger("imagegen.request")


class RequestIdMiddleware:
    """Give every request an id (the caller's ``X-Request-ID`` when valid),
    expose it on the response, and log one line when the request ends."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = new_request_id(request.headers.get("X-Request-ID"))
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            seconds = time.perf_counter() - started
            observe_request(request.method or "", response.status_code, seconds)
            logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(seconds * 1000, 1),
                },
            )
            return response
        finally:
            request_id_var.reset(token)


class DatabaseUnavailableMiddleware:
    """Answer 503 (``imagegen.api.errors.service_unavailable``) when a view outside DRF finds the database down.

    DRF views get the same answer from the API's exception handler; errors raised
    in other middleware (sessions) from ``handler500``. Handled here, an outage is
    a logged warning, not an error with a traceback, and DEBUG serves the same 503.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from imagegen.api.errors import service_unavailable

        if not is_database_unavailable(exception):
            return None
        logger.warning("database unavailable", extra={"path": request.path, "error": str(exception)[:300]})
        return service_unavailable(request)
