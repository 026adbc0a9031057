"""Image edits (OpenAI's ``/v1/images/edits``): input images with an optional mask, as a generation.

The input images go through the uploads machinery (checked, stored, processed
into the gallery like any upload) and become the job's reference images, the
first one being the image the mask applies to. The mask is stored beside them
(``masks/<user>/<uuid>.png``, never served) and named in the job's options; the
worker hands it to the provider. Everything is checked before anything is
stored, and a refusal after that (a quota) takes back what was stored.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from PIL import Image as PILImage

from accounts.models import User
from imagegen.errors import DomainError, Invalid, TooLarge
from images import params
from images.models import Generation
from images.services.generations import generation_create
from images.services.resolver import GenerationParams
from images.services.uploads import UploadFile, check_uploads, image_upload
from images.storage import delete_keys, store_bytes

MASKS_PREFIX = "masks/"
# What the builtin renderer takes per side: "size: auto" (the input's own size) must fit.
MIN_SIDE, MAX_SIDE = 16, 4096


@dataclass(frozen=True)
class EditInputs:
    """Input images and mask that passed every check; ``size`` is the first image's."""

    images: list[UploadFile]
    mask: bytes | None
    size: tuple[int, int]


def _as(field: str, exc: DomainError) -> DomainError:
    """An uploads rule's refusal, naming the edit's own field."""
    message = exc.message.removeprefix("files: ")
    return type(exc)(exc.code, message, field=field, wait=exc.wait)


def edit_inputs_check(*, images: list[UploadFile], mask: UploadFile | None) -> EditInputs:
    """Every rule of an edit's files, reading headers only (the worker decodes pixels).

    1 to 16 images, each an image the uploads accept; a mask must be a PNG with
    an alpha channel and the first image's size. Raises ``Invalid`` / ``TooLarge``
    with OpenAI's codes and the field (``image``, ``mask``) at fault.
    """
    if not images:
        raise Invalid("missing_required_parameter", "send at least one image (image or image[])", "image")
    if len(images) > params.MAX_EDIT_IMAGES:
        raise Invalid(
            "array_above_max_length",
            f"at most {params.MAX_EDIT_IMAGES} images can be edited at once, got {len(images)}",
            "image",
        )
    try:
        checked = check_uploads(images)
    except DomainError as exc:
        raise _as("image", exc) from None
    first = checked[0].info
    mask_bytes = None
    if mask is not None:
        mask_bytes = _mask_bytes(mask)
        try:
            with PILImage.open(io.BytesIO(mask_bytes)) as im:
                fmt, mode, size = im.format, im.mode, im.size
                has_alpha = mode in ("RGBA", "LA", "PA") or "transparency" in im.info
        except (OSError, SyntaxError, ValueError, PILImage.DecompressionBombError):
            raise Invalid("invalid_image_format", "the mask is not an image; send a PNG", "mask") from None
        if fmt != "PNG":
            raise Invalid("invalid_image_format", f"the mask must be a PNG, not {fmt or 'this format'}", "mask")
        if not has_alpha:
            raise Invalid(
                "invalid_image_format", "the mask needs an alpha channel (alpha 0 marks what to change)", "mask"
            )
        if size != (first.width, first.height):
            raise Invalid(
                "invalid_image_dimensions",
                f"the mask is {size[0]}x{size[1]} but the image is {first.width}x{first.height}; they must match",
                "mask",
            )
    return EditInputs(images=images, mask=mask_bytes, size=(first.width, first.height))


def _mask_bytes(mask: UploadFile) -> bytes:
    if mask.size is not None and mask.size > settings.MAX_UPLOAD_BYTES:
        raise TooLarge("image_too_large", f"the mask is over {settings.MAX_UPLOAD_BYTES} bytes", field="mask")
    mask.seek(0)
    data = mask.read(settings.MAX_UPLOAD_BYTES + 1)
    if len(data) > settings.MAX_UPLOAD_BYTES:
        raise TooLarge("image_too_large", f"the mask is over {settings.MAX_UPLOAD_BYTES} bytes", field="mask")
    return data


def auto_size(inputs: EditInputs) -> tuple[int, int]:
    """``size: auto``: the first image's own size, which keeps its pixels where the mask says so."""
    width, height = inputs.size
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise Invalid(
            "invalid_value",
            f"size auto keeps the image's {width}x{height}, outside {MIN_SIDE}..{MAX_SIDE} per side; give a size",
            "size",
        )
    return width, height


def image_edit_create(*, user: User, inputs: EditInputs, params: GenerationParams, request_id: str = "") -> Generation:
    """Store the inputs (as the user's uploads) and the mask, and queue the edit as a generation.

    ``params`` is the resolved request without references (they are the
    uploads made here). Raises what ``image_upload`` and ``generation_create``
    raise (quotas: 413 / 429); nothing stays stored then.
    """
    mask_key = f"{MASKS_PREFIX}{user.pk}/{uuid.uuid4()}.png" if inputs.mask is not None else None
    stored: list[str] = []
    try:
        with transaction.atomic():
            uploads = image_upload(user=user, files=inputs.images)
            stored += [image.storage_key for image in uploads]
            if mask_key:
                store_bytes(mask_key, inputs.mask)
                stored.append(mask_key)
            params.reference_images = [str(image.pk) for image in uploads]  # in order: the mask is the first's
            params.options = {**params.options, **({"mask_key": mask_key} if mask_key else {})}
            generation, _ = generation_create(user=user, params=params, request_id=request_id, uploaded_references=True)
    except BaseException:
        delete_keys(stored)
        raise
    return generation
