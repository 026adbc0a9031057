"""Uploaded images: multipart uploads, direct (presigned) uploads, and the worker step that makes them servable.

An upload is checked before anything is stored (size, content sniffed by
Pillow, the pixel count its header claims, the user's quotas), then its raw
bytes are stored at ``private/<user>/<image>-<secret>/upload.<ext>`` and the
row is created ``pending``. The web request never decodes pixels (a small PNG
can claim 50 million of them): the worker (``image_process``) decodes and
re-encodes it through ``derive_image``: the served original without GPS,
thumbnails, a WebP, moved under ``public/`` if the image is public; a file
that does not decode ends ``failed``. Until then nothing of it is served.

A direct upload goes the other way round: ``direct_upload_create`` makes the
row (``awaiting_upload``) and a URL the client sends the file to (a presigned
S3 POST, or our own signed PUT on local storage), aimed at a random staging
key of that attempt (``uploads/<user>/<image>/<random>``).
``direct_upload_complete`` checks what arrived, copies it to the image's own
key and deletes the staging object, so the URL can no longer change anything;
``images.services.retention.upload_staging_sweep`` deletes whatever is sent to
a staging key later.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import IO, Protocol
from urllib.parse import urlencode

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from imagegen.errors import Conflict, DomainError, Invalid, NotFound, TooLarge
from imagegen.polling import poll
from imagegen.signing import expiring_signature_valid
from images import processing
from images.failures import clipped
from images.jobs import PROCESS_IMAGE, job
from images.models import Image
from images.services.analysis import image_analysis_queue_on_commit
from images.services.derive import derive_image
from images.services.library import clean_tags, tags_for
from images.services.quotas import check_upload_quota, uploads_record
from images.services.relocation import image_files_relocate
from images.storage import (
    delete_keys,
    image_key,
    is_s3,
    read_bytes,
    store_bytes,
    upload_staging_key,
)

logger = logging.getLogger(__name__)

MAX_FILES = 20
# Formats a direct upload may announce; what counts in the end is what the bytes turn out to be.
DIRECT_UPLOAD_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/avif")
UPLOAD_STEM = "upload"


class UploadFile(Protocol):
    """What ``image_upload`` needs of a file: Django's ``UploadedFile`` fits."""

    name: str | None
    size: int | None

    def read(self, size: int = ...) -> bytes: ...
    def seek(self, offset: int, whence: int = ...) -> int: ...


@dataclass
class CheckedUpload:
    """One upload that passed every check, and what its bytes are.

    The bytes are read again when stored rather than kept: twenty files at
    the limit would otherwise sit in memory together.
    """

    name: str
    file: UploadFile
    info: processing.ImageInfo


# --- Checks -------------------------------------------------------------------------


def _limit_error(name: str, size: int) -> TooLarge:
    return TooLarge(
        "file_too_large",
        f"{name}: {size} bytes is over the limit of {settings.MAX_UPLOAD_BYTES} bytes",
        field="files",
    )


def check_image_bytes(name: str, data: bytes, *, field: str = "files") -> processing.ImageInfo:
    """Sniff ``data`` and read its header, never its pixels; Invalid naming ``name`` when it is refused."""
    try:
        return processing.probe(data, max_pixels=settings.MAX_IMAGE_PIXELS)
    except processing.InvalidImage as exc:
        raise Invalid(exc.code, f"{name}: {exc.message}", field=field) from None


def _read_limited(file: UploadFile, name: str) -> bytes:
    file.seek(0)
    data = file.read(settings.MAX_UPLOAD_BYTES + 1)
    if len(data) > settings.MAX_UPLOAD_BYTES:
        raise _limit_error(name, file.size or len(data))
    return data


def check_uploads(files: list[UploadFile]) -> list[CheckedUpload]:
    """Every rule of the files themselves, for all of them, before anything is stored (quotas come next)."""
    if not files:
        raise Invalid("required", "files: send at least one file", field="files")
    if len(files) > MAX_FILES:
        raise Invalid("too_many_files", f"files: at most {MAX_FILES} files, got {len(files)}", field="files")
    checked = []
    for position, file in enumerate(files, start=1):
        name = (file.name or f"file #{position}")[:255]
        if file.size is not None and file.size > settings.MAX_UPLOAD_BYTES:
            raise _limit_error(name, file.size)
        data = _read_limited(file, name)
        checked.append(CheckedUpload(name=name, file=file, info=check_image_bytes(name, data)))
    return checked


# --- Multipart upload ----------------------------------------------------------------


def image_upload(
    *,
    user: User,
    files: list[UploadFile],
    title: str = "",
    category: str = "",
    tags: list[str] | None = None,
    visibility: str = Image.Visibility.PRIVATE,
) -> list[Image]:
    """Store uploaded files as the user's images (``pending``) and queue their processing.

    Every file is checked first: one bad file refuses the whole request and
    nothing is stored. Pixels are decoded by the worker, which fails an
    image that does not decode. Raises a domain error: 400 ``too_many_files``,
    ``not_an_image``, ``unsupported_format``, ``too_many_pixels``,
    ``corrupt``...; 413 ``file_too_large``, ``storage_quota_exceeded``; 429
    ``upload_quota_exceeded``.
    """
    process_image = job(PROCESS_IMAGE)

    if visibility not in Image.Visibility.values:
        raise Invalid(
            "invalid_choice", f"visibility: must be one of {', '.join(Image.Visibility.values)}", "visibility"
        )
    tag_names = clean_tags(tags or [])
    checked = check_uploads(files)
    stored: list[str] = []
    try:
        with transaction.atomic():
            # Serialises this user's uploads so two requests cannot both pass the quotas.
            User.objects.select_for_update().filter(pk=user.pk).first()
            check_upload_quota(user=user, files=len(checked), nbytes=sum(upload.info.bytes for upload in checked))
            uploads_record(user=user, files=len(checked))
            tag_rows = tags_for(tag_names)
            images = []
            for upload in checked:
                image_id = uuid.uuid4()
                key = image_key(user_id=user.pk, image_id=image_id, name=_upload_name(upload.info.content_type))
                store_bytes(key, _read_limited(upload.file, upload.name))
                stored.append(key)
                image = Image.objects.create(
                    id=image_id,
                    user=user,
                    source=Image.Source.UPLOADED,
                    title=title,
                    original_filename=upload.name,
                    storage_key=key,
                    category=category,
                    visibility=visibility,
                    processing=Image.Processing.PENDING,
                    **_info_fields(upload.info),
                )
                if tag_rows:
                    image.tags.set(tag_rows)
                process_image.delay_on_commit(str(image.pk))
                images.append(image)
    except BaseException:
        delete_keys(stored)  # the rows are rolled back: their files go too
        raise
    stored_rows = {row.pk: row for row in Image.objects.filter(pk__in=[i.pk for i in images]).prefetch_related("tags")}
    return [stored_rows[image.pk] for image in images]  # in the order the files came


def _upload_name(content_type: str) -> str:
    return f"{UPLOAD_STEM}.{processing.EXTENSIONS.get(content_type, 'bin')}"


def _info_fields(info: processing.ImageInfo) -> dict:
    return {
        "width": info.width,
        "height": info.height,
        "format": info.format,
        "content_type": info.content_type,
        "bytes": info.bytes,
        "sha256": info.sha256,
    }


# --- Processing (the worker) --------------------------------------------------------


def image_process(*, image_id: str) -> str:
    """Make a pending upload servable: derivatives stored, the row ``ready`` (or ``failed``).

    Idempotent: an image that is not ``pending`` is left alone, keys are
    deterministic, and the final write is conditional on the row still being
    ``pending``. Returns the processing state. Errors other than an invalid
    image (storage unreachable...) propagate so the task can retry, then
    ``image_process_failed`` records them.
    """
    image = Image.objects.filter(pk=image_id).first()
    if image is None or image.processing != Image.Processing.PENDING:
        return image.processing if image else "missing"
    raw_key = image.storage_key
    try:
        derived = derive_image(read_bytes(raw_key))
    except processing.InvalidImage as exc:
        image_process_failed(image_id=image_id, message=f"{exc.code}: {exc.message}")
        return Image.Processing.FAILED
    stored: list[str] = []
    try:
        for name, rendition in derived.files().items():
            key = image_key(user_id=image.user_id, image_id=image.pk, name=name)
            store_bytes(key, rendition.data)
            stored.append(key)
            rendition.key = key
        with transaction.atomic():
            updated = Image.objects.filter(pk=image.pk, processing=Image.Processing.PENDING).update(
                processing=Image.Processing.READY,
                processing_error="",
                updated_at=timezone.now(),
                **derived.image_fields(),
            )
            if updated and raw_key not in stored:
                # The served original replaces the raw upload (which may carry GPS).
                transaction.on_commit(partial(delete_keys, [raw_key]))
            if updated:
                image_files_relocate(image_id=image.pk)  # written private; a public image's go public
                image_analysis_queue_on_commit(image_ids=[str(image.pk)])
    except BaseException:
        delete_keys([key for key in stored if key != raw_key])
        raise
    if not updated:
        # Deleted (or failed) while we worked: what we stored belongs to nothing.
        delete_keys([key for key in stored if key != raw_key])
        return "missing"
    return Image.Processing.READY


def image_process_failed(*, image_id: str, message: str) -> None:
    """Record that an upload cannot be processed; nothing of it is served, its raw file stays until deleted."""
    logger.warning("image processing failed", extra={"image_id": str(image_id), "error": message})
    Image.objects.filter(pk=image_id, processing=Image.Processing.PENDING).update(
        processing=Image.Processing.FAILED,
        processing_error=clipped(message),
        variants={},
        dominant_color="",
        exif={},
        updated_at=timezone.now(),
    )


# --- Direct uploads -----------------------------------------------------------------


@dataclass
class DirectUpload:
    image: Image
    url: str
    method: str
    expires_in: int
    fields: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def target(self) -> dict:
        """The ``upload`` object of the API response."""
        target: dict = {"url": self.url, "method": self.method}
        if self.method == "POST":
            target["fields"] = self.fields
        else:
            target["headers"] = self.headers
        return target


def direct_upload_create(
    *, user: User, filename: str, content_type: str, size: int, base_url: str = ""
) -> DirectUpload:
    """Create an ``awaiting_upload`` row and a URL to send its file to.

    Both aim at a staging key of this attempt. S3: a presigned POST
    limited to ``MAX_UPLOAD_BYTES`` and the announced content type. Local
    storage: a signed PUT URL on this server (``base_url`` makes it
    absolute). The upload counts against today's quota now, and its announced
    size against storage until it is completed. Raises a domain error 400
    ``unsupported_format``, 413 ``file_too_large``,
    ``storage_quota_exceeded``, 429 ``upload_quota_exceeded``.
    """
    content_type = content_type.strip().lower()
    if content_type not in DIRECT_UPLOAD_TYPES:
        raise Invalid(
            "unsupported_format",
            f"content_type: {content_type!r} is not accepted; use one of {', '.join(DIRECT_UPLOAD_TYPES)}",
            field="content_type",
        )
    if size > settings.MAX_UPLOAD_BYTES:
        raise TooLarge(
            "file_too_large", f"{filename}: {size} bytes is over the limit of {settings.MAX_UPLOAD_BYTES} bytes",
            field="bytes",
        )  # fmt: skip
    image_id = uuid.uuid4()
    key = upload_staging_key(user_id=user.pk, image_id=image_id)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        check_upload_quota(user=user, files=1, nbytes=size, field="bytes")
        uploads_record(user=user, files=1)
        image = Image.objects.create(
            id=image_id,
            user=user,
            source=Image.Source.UPLOADED,
            original_filename=filename[:255],
            storage_key=key,
            content_type=content_type,
            bytes=size,
            processing=Image.Processing.AWAITING_UPLOAD,
        )
    ttl = settings.PRESIGNED_URL_TTL
    if is_s3():
        post = _s3_client().generate_presigned_post(
            Bucket=settings.IMAGE_S3_BUCKET,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, settings.MAX_UPLOAD_BYTES]],
            ExpiresIn=ttl,
        )
        return DirectUpload(image=image, url=post["url"], method="POST", fields=post["fields"], expires_in=ttl)
    expires = int(time.time()) + ttl
    query = urlencode({"expires": expires, "signature": upload_signature(image_id=image_id, key=key, expires=expires)})
    url = f"{base_url}{reverse('local-upload', args=[image_id])}?{query}"
    return DirectUpload(image=image, url=url, method="PUT", headers={"Content-Type": content_type}, expires_in=ttl)


def _s3_client():
    # django-storages' own boto3 client: same credentials, region and endpoint as every other file.
    return default_storage.connection.meta.client


def upload_signature(*, image_id: uuid.UUID | str, key: str, expires: int) -> str:
    """HMAC of a local upload URL; a different message from signed media URLs, so neither opens the other."""
    message = f"upload:{image_id}:{key}:{expires}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def verify_upload_signature(*, image_id: uuid.UUID | str, key: str, expires: str, signature: str) -> bool:
    return expiring_signature_valid(
        lambda at: upload_signature(image_id=image_id, key=key, expires=at), expires, signature
    )


def image_processing_wait(image: Image, *, seconds: float) -> Image:
    """Poll until the worker has processed ``image`` (ready or failed) or ``seconds`` pass; returns it fresh."""

    def read() -> Image:
        image.refresh_from_db(fields=["processing", "processing_error"])
        return image

    if image.processing != Image.Processing.PENDING:
        return image
    return poll(read, lambda fresh: fresh.processing != Image.Processing.PENDING, seconds=seconds)


def direct_upload_receive(*, image_id: uuid.UUID, stream: IO[bytes], content_type: str, length: int | None) -> None:
    """Store the body of a local signed PUT at its image's staging key (the signature was checked by the view).

    Reads at most ``MAX_UPLOAD_BYTES`` (413 past it, whatever Content-Length
    said). Raises a domain error 404 for an unknown image, 409 when it is no longer
    awaiting its file, 400 for a content type other than the announced one.
    """
    image = Image.objects.filter(pk=image_id).first()
    if image is None:
        raise NotFound("not_found", f"image {image_id} not found")
    if image.processing != Image.Processing.AWAITING_UPLOAD:
        raise Conflict("already_completed", f"image {image_id} is no longer awaiting its upload")
    if content_type.split(";")[0].strip().lower() != image.content_type:
        raise Invalid(
            "content_type_mismatch", f"Content-Type must be {image.content_type}, as announced", "Content-Type"
        )
    limit = settings.MAX_UPLOAD_BYTES
    if length is not None and length > limit:
        raise TooLarge("file_too_large", f"{length} bytes is over the limit of {limit} bytes")
    chunks, total = [], 0
    while chunk := stream.read(64 * 1024):
        total += len(chunk)
        if total > limit:
            raise TooLarge("file_too_large", f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    if not total:
        raise Invalid("empty", "the body is empty")
    store_bytes(image.storage_key, b"".join(chunks))


def direct_upload_complete(*, user: User, image_id: object) -> tuple[Image, bool]:
    """Check the file a direct upload sent, move it to the image's own key and queue its processing.

    Returns ``(image, started)``; ``started`` is False when it was already
    completed (a repeated call is harmless). The bytes checked are the bytes
    stored at ``images/<user>/<image>/upload.<ext>``; the staging object is
    deleted, so nothing sent to the upload URL afterwards reaches the image.
    Raises a domain error 404, 409 ``upload_missing`` when no file arrived,
    413/400 when the file breaks the upload rules, 413
    ``storage_quota_exceeded`` when its real size does not fit (the staging
    file is then deleted, so the client can upload again).
    """
    from images.services.library import image_get

    process_image = job(PROCESS_IMAGE)

    pk = image_get(user=user, image_id=image_id).pk  # 404 for an unknown id or anyone else's
    stored = ""
    try:
        with transaction.atomic():
            # One completion at a time per image: a second one waits, then finds it done.
            image = Image.objects.select_for_update().filter(pk=pk).first() or image_get(user=user, image_id=pk)
            if image.processing != Image.Processing.AWAITING_UPLOAD:
                return image, False
            staging = image.storage_key
            info, data = _check_staged(image)
            User.objects.select_for_update().filter(pk=user.pk).first()
            try:
                check_upload_quota(user=user, files=0, nbytes=info.bytes, exclude_image_id=image.pk, field="file")
            except DomainError:
                delete_keys([staging])
                raise
            stored = image_key(user_id=user.pk, image_id=image.pk, name=_upload_name(info.content_type))
            store_bytes(stored, data)
            Image.objects.filter(pk=image.pk).update(
                processing=Image.Processing.PENDING, storage_key=stored, updated_at=timezone.now(), **_info_fields(info)
            )
            transaction.on_commit(partial(delete_keys, [staging]))
            process_image.delay_on_commit(str(image.pk))
    except BaseException:
        delete_keys([stored])  # the row still points at its staging key
        raise
    image.refresh_from_db()
    return image, True


def _check_staged(image: Image) -> tuple[processing.ImageInfo, bytes]:
    """What arrived at a direct upload's staging key, checked like a multipart file; deleted when refused."""
    key = image.storage_key
    if not default_storage.exists(key):
        raise Conflict("upload_missing", f"nothing was uploaded for image {image.pk} yet")
    name = image.original_filename or str(image.pk)
    try:
        size = default_storage.size(key)
        if size > settings.MAX_UPLOAD_BYTES:
            raise _limit_error(name, size)
        data = read_bytes(key)
        if len(data) > settings.MAX_UPLOAD_BYTES:  # replaced by a larger file since
            raise _limit_error(name, len(data))
        return check_image_bytes(name, data, field="file"), data
    except DomainError:
        delete_keys([key])
        raise


def direct_uploads_expire(*, older_than: datetime | timedelta) -> int:
    """Delete direct uploads never completed and created before ``older_than`` (a time, or an age).

    Any file sent to their keys is deleted too. Returns how many rows went.
    """
    cutoff = timezone.now() - older_than if isinstance(older_than, timedelta) else older_than
    stale = Image.objects.filter(processing=Image.Processing.AWAITING_UPLOAD, created_at__lt=cutoff)
    count = 0
    for image in stale.only("pk", "storage_key", "variants").iterator():
        # Conditional: a completion racing the sweep keeps its row.
        deleted, _ = Image.objects.filter(pk=image.pk, processing=Image.Processing.AWAITING_UPLOAD).delete()
        if deleted:
            delete_keys(image.storage_keys())
            count += 1
    return count
