"""Conditional GETs for polled resources: a weak ETag from what was read, 304 when it still matches.

The tag is computed from the database values behind an answer, not from the
rendered body, so a matching ``If-None-Match`` costs the query and no
serialization. Everything else the body depends on must go into the
fingerprint or the tag too: the tag adds the host that URLs are made absolute
with; callers add the period of their signed URLs (``images.storage.url_epoch``).
"""

from __future__ import annotations

import hashlib

from django.utils.http import parse_etags
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match", str, OpenApiParameter.HEADER, description="The ETag of an earlier answer: 304 if unchanged"
)


def response_etag(request: Request, fingerprint: str) -> str:
    """The weak ETag of an answer built from data with ``fingerprint``, for this request's URLs."""
    base = f"{fingerprint}:{request.scheme}://{request.get_host()}"
    return f'W/"{hashlib.blake2b(base.encode(), digest_size=12).hexdigest()}"'


def not_modified(request: Request, etag: str) -> Response | None:
    """A bodiless 304 when ``If-None-Match`` holds ``etag`` (weak comparison, RFC 9110 §13.1.2), else None."""
    header = request.headers.get("If-None-Match")
    if not header:
        return None
    opaque = etag.removeprefix("W/")
    for candidate in parse_etags(header):
        if candidate == "*" or candidate.removeprefix("W/") == opaque:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    return None
