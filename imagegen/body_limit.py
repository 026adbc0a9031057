"""Refuse request bodies over the limit before anything reads them.

Django reads a body when something asks for it: the CSRF check of any page
POST (signed out too), a form, a multipart upload spooled to disk. A client
declaring an 8 GiB body and sending it slowly would hold a thread for as long
as it liked. This middleware runs first and answers 413 on the declared
``Content-Length`` alone.

A chunked body has no length to judge: Django under WSGI reads it as empty.
It is read here up to the limit (413 past it) and handed on with its length,
so chunked uploads work and stay bounded.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from typing import IO

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse

from imagegen.api.errors import request_too_large

logger = logging.getLogger("imagegen.request")

# A multipart form's own bytes around its files (boundaries, part headers, text fields).
FORM_OVERHEAD = 64 * 1024
_CHUNK = 64 * 1024


# The paths that take several files in one body; every other path takes at most one file.
MULTI_FILE_PATHS = frozenset({"/api/v1/images", "/upload", "/v1/images/edits"})


def request_body_limit(path: str = "") -> int:
    """The largest body ``path`` takes: a full multipart upload where several files are taken,
    one file (a reference image, a direct upload's PUT) or Django's limit for form data elsewhere."""
    from images.services.uploads import MAX_FILES

    files = MAX_FILES if path.rstrip("/") in MULTI_FILE_PATHS else 1
    return max(files * settings.MAX_UPLOAD_BYTES + FORM_OVERHEAD, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


class BodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = request_body_limit(request.path_info)
        declared = request.META.get("CONTENT_LENGTH")
        if declared:
            try:
                too_large = int(declared) > limit
            except ValueError:
                too_large = False  # Django reads a body of unknown length as empty
            if too_large:
                return self._refuse(request, limit, declared)
            return self.get_response(request)
        if "chunked" not in request.META.get("HTTP_TRANSFER_ENCODING", "").lower() or "wsgi.input" not in request.META:
            return self.get_response(request)
        with tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE) as spool:
            size = _copy_at_most(request.META["wsgi.input"], spool, limit)
            if size > limit:
                return self._refuse(request, limit, "chunked")
            spool.seek(0)
            request.META["CONTENT_LENGTH"] = str(size)
            request._stream = LimitedStream(spool, size)  # what WSGIRequest reads its body from
            return self.get_response(request)

    def _refuse(self, request: HttpRequest, limit: int, declared: str) -> HttpResponse:
        logger.warning("request body too large", extra={"path": request.path, "content_length": declared})
        return request_too_large(request, limit)


def _copy_at_most(source: IO[bytes], target: IO[bytes], limit: int) -> int:
    """Copy ``source`` into ``target`` until it ends or passes ``limit``; returns the bytes copied."""
    size = 0
    while size <= limit:
        chunk = source.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            break
        target.write(chunk)
        size += len(chunk)
    return size
