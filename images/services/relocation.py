"""Keeping an image's files under the prefix its visibility calls for.

Published images (public, not hidden by staff nor held by moderation, ready) live under ``public/``,
the only prefix the CDN serves; everything else, raw uploads included, under
``private/<user>/<image>-<secret>/`` (see ``images/storage.py``). Files are
always written to the private layout first; ``image_files_relocate`` is the
one place that moves them, with the row locked: copy, point the row at the
copies, delete the old objects after the commit. A row never points at a
missing file, and running it again moves nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial

from django.db import transaction
from django.db.models import QuerySet

from images.models import Image
from images.storage import copy_key, delete_keys, image_key, is_public_key, key_exists, key_name

logger = logging.getLogger(__name__)

# Their files are being written or read by a client or a worker right now; the
# worker places them when it is done (``image_process`` relocates at the end).
IN_FLIGHT = (Image.Processing.AWAITING_UPLOAD, Image.Processing.PENDING)


@dataclass
class Relocation:
    """What ``image_files_relocate`` did (or, in a dry run, would do) to one image."""

    moves: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    skipped: bool = False


def is_published(image: Image) -> bool:
    """Whether the image's files belong under ``public/``: anyone may see it."""
    return published(
        visibility=image.visibility,
        is_hidden=image.is_hidden,
        processing=image.processing,
        moderation_status=image.moderation_status,
    )


def published(*, visibility: str, is_hidden: bool, processing: str, moderation_status: str = "ok") -> bool:
    """``is_published`` from the values it reads, for a list that selects columns instead of rows.

    An image held by moderation (pending review, rejected) is not published, whatever its visibility.
    """
    return (
        visibility == Image.Visibility.PUBLIC
        and not is_hidden
        and processing == Image.Processing.READY
        and moderation_status == Image.Moderation.OK
    )


def expected_key(image: Image, key: str) -> str:
    """Where the file stored at ``key`` belongs, given the image's visibility now."""
    return image_key(user_id=image.user_id, image_id=image.pk, name=key_name(key), public=is_published(image))


def planned_moves(image: Image) -> dict[str, str]:
    """Old key → new key of each of the image's files that is not where it belongs."""
    moves = {}
    for key in image.storage_keys():
        wanted = expected_key(image, key)
        if wanted != key:
            moves[key] = wanted
    return moves


def _public_leftovers(image: Image) -> list[str]:
    # Copies under public/ that an earlier move failed to delete: the CDN would still serve them.
    if is_published(image):
        return []
    on_row = set(image.storage_keys())
    candidates = [image_key(user_id=image.user_id, image_id=image.pk, name=key_name(k), public=True) for k in on_row]
    return [key for key in dict.fromkeys(candidates) if key not in on_row and key_exists(key)]


def _point_row_at(image: Image, moves: dict[str, str]) -> None:
    image.storage_key = moves.get(image.storage_key, image.storage_key)
    for variant in image.variants.values():
        if variant.get("key") in moves:
            variant["key"] = moves[variant["key"]]
    image.save(update_fields=["storage_key", "variants", "updated_at"])


def image_files_relocate(*, image_id: object, dry_run: bool = False, sweep: bool = False) -> Relocation:
    """Move the image's files to the prefix its visibility calls for, and its row's keys with them.

    Call it after changing ``visibility`` or ``is_hidden``, inside the same
    transaction and as its last step: the new keys commit with the change,
    the old objects are deleted once it commits (a failed delete is logged;
    ``storage_relayout`` sweeps what is left), and a failure before that
    rolls everything back and deletes the copies. Images whose files are in
    flight (awaiting upload, pending processing) are skipped. A file missing
    from storage keeps its key and is reported in ``missing``. ``sweep``
    also deletes copies under ``public/`` that a non-public image left
    behind; ``dry_run`` only reports.
    """
    copies: list[str] = []
    try:
        with transaction.atomic():
            image = Image.objects.select_for_update().filter(pk=image_id).first()
            if image is None or image.processing in IN_FLIGHT:
                return Relocation(skipped=True)
            result = Relocation(moves=planned_moves(image))
            if sweep:
                result.leftovers = _public_leftovers(image)
            if dry_run:
                return result
            for old, new in list(result.moves.items()):
                if copy_key(old, new):
                    copies.append(new)
                elif not key_exists(new):
                    del result.moves[old]
                    result.missing.append(old)
            if result.moves:
                _point_row_at(image, result.moves)
            if result.moves or result.leftovers:
                transaction.on_commit(partial(_delete_old, image.pk, [*result.moves, *result.leftovers]))
    except BaseException:
        delete_keys(copies)  # the row still points at the old objects
        raise
    if result.missing:
        logger.warning("image files missing from storage", extra={"image_id": str(image_id), "keys": result.missing})
    return result


def _delete_old(image_id: object, keys: list[str]) -> None:
    # The move has committed: a failure here must not fail the caller's request, only leave strays behind.
    try:
        delete_keys(keys)
    except Exception:
        logger.exception(
            "old image files not deleted after a move; run manage.py storage_relayout",
            extra={"image_id": str(image_id), "public_keys": [key for key in keys if is_public_key(key)]},
        )


def images_set_visibility(
    *, queryset: QuerySet[Image], visibility: str | None = None, is_hidden: bool | None = None
) -> int:
    """Staff moderation: set ``visibility`` and/or ``is_hidden`` on these images and move their files.

    One transaction: if a file cannot be moved, nothing changes. Returns how
    many images were updated.
    """
    fields: dict[str, object] = {"visibility": visibility, "is_hidden": is_hidden}
    fields = {name: value for name, value in fields.items() if value is not None}
    with transaction.atomic():
        ids = list(queryset.values_list("pk", flat=True))
        count = Image.objects.filter(pk__in=ids).update(**fields)
        images_files_relocate(ids=ids)
    return count


def images_files_relocate(*, ids: Iterable[object]) -> None:
    """``image_files_relocate`` for each of ``ids``."""
    for image_id in ids:
        image_files_relocate(image_id=image_id)
