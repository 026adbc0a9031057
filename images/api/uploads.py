"""The local stand-in for a presigned S3 upload: ``PUT /uploads/<image id>?expires=&signature=`` with the raw file.

Used only on local storage (``direct_upload_create`` hands out these URLs).
The signature is the credential, like a presigned URL: no session, no CSRF
token. The body is read in chunks and refused past ``MAX_UPLOAD_BYTES``
without being held whole first.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from imagegen.api.errors import error_response
from imagegen.errors import DomainError
from imagegen.statuses import status_for
from images.models import Image
from images.services.uploads import direct_upload_receive, verify_upload_signature
from images.storage import is_s3


@csrf_exempt
@require_http_methods(["PUT"])
def local_upload(request: HttpRequest, image_id: uuid.UUID) -> HttpResponse:
    if is_s3():
        return error_response(404, "not_found", "uploads go to the bucket: use the URL from /images/upload-url")
    key = Image.objects.filter(pk=image_id).values_list("storage_key", flat=True).first()
    signature = request.GET.get("signature", "")
    expires = request.GET.get("expires", "")
    if key is None or not verify_upload_signature(image_id=image_id, key=key, expires=expires, signature=signature):
        return error_response(403, "invalid_signature", "this upload URL is invalid or has expired")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0) or None
    except ValueError:
        return error_response(400, "bad_request", "Content-Length is not a number", "Content-Length")
    try:
        direct_upload_receive(image_id=image_id, stream=request, content_type=request.content_type or "", length=length)
    except DomainError as exc:
        return error_response(status_for(exc), exc.code, exc.message, exc.field)
    return JsonResponse({"image_id": str(image_id), "uploaded": True})
