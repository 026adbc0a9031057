"""Serves local media files behind signed, expiring URLs (the embedded default's stand-in for presigned S3)."""

from __future__ import annotations

import mimetypes

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET

from images.storage import is_image_key, is_s3, verify_local_signature


@require_GET
def signed_media(request: HttpRequest, key: str) -> FileResponse:
    if is_s3() or not is_image_key(key):
        raise Http404("not found")
    attachment = request.GET.get("attachment", "")
    signature = request.GET.get("signature", "")
    if not verify_local_signature(key, request.GET.get("expires", ""), signature, attachment=attachment):
        raise Http404("not found")
    try:
        handle = default_storage.open(key, "rb")
    except (FileNotFoundError, OSError):
        raise Http404("not found") from None
    content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    # A download link names its file (as S3's ResponseContentDisposition does); a plain one shows it inline.
    response = FileResponse(handle, content_type=content_type, as_attachment=bool(attachment), filename=attachment)
    patch_cache_control(response, private=True, max_age=300)
    response["X-Content-Type-Options"] = "nosniff"
    return response
