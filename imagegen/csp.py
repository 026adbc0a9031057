"""Content-Security-Policy for the server-rendered pages.

Scripts and styles come only from our own origin (no inline ``<script>`` or
``style=""``); images may also be ``data:``/``blob:`` URLs (previews of files
picked for upload) and come from the storage or CDN origin when images are
served from S3 or CloudFront. A view that needs another policy sets its own
``Content-Security-Policy`` header, which this middleware leaves alone.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def _origin(url: str) -> str | None:
    parts = urlsplit(url if "://" in url else f"https://{url}")
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else None


def storage_origins() -> list[str]:
    """Origins images are served from (and uploaded to) when they are not on our own."""
    origins: list[str] = []
    if cdn := getattr(settings, "CDN_URL", ""):
        origins.append(_origin(cdn))
    if bucket := getattr(settings, "IMAGE_S3_BUCKET", ""):
        if endpoint := getattr(settings, "AWS_ENDPOINT_URL", ""):
            origins.append(_origin(endpoint))
        else:
            # boto3 picks virtual-hosted or path style, regional or global endpoint.
            region = getattr(settings, "AWS_REGION", "us-east-1")
            origins += [
                f"https://{bucket}.s3.{region}.amazonaws.com",
                f"https://{bucket}.s3.amazonaws.com",
                f"https://s3.{region}.amazonaws.com",
            ]
    return list(dict.fromkeys(o for o in origins if o))


def build_policy() -> str:
    extra = " ".join(storage_origins())
    with_storage = f"'self' {extra}".strip()
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": f"'self' data: blob: {extra}".strip(),
        "media-src": with_storage,
        # Direct uploads go from the browser to the bucket (presigned PUT or POST).
        "connect-src": with_storage,
        "form-action": with_storage,
        "object-src": "'none'",
        "base-uri": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    """Add the policy to HTML responses that do not set their own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = build_policy()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.DEBUG and response.status_code >= 400:
            return response  # Django's debug pages are styled and scripted inline
        if response.get("Content-Type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
