"""ZIP downloads of a selection, an album or a share link, streamed in constant memory.

``archive_plan`` decides the entries (a name from the title or id with the
file's extension, duplicates numbered) and refuses an archive over
``ZIP_MAX_BYTES`` before anything is sent; ``archive_stream`` then reads each
file from storage in chunks (local files or streamed S3 GETs) and hands them to
zipstream-ng, which writes the archive as it goes: no temporary file, no
whole file in memory. Images are already compressed, so entries are stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.conf import settings
from zipstream import ZIP_STORED, ZipStream

from accounts.models import User
from imagegen.errors import Invalid, NotFound, TooLarge
from images.models import Image
from images.services.library import download_filename
from images.storage import iter_chunks

MAX_ZIP_IDS = 500
ZIP_VARIANTS = ("original", "webp")
# What zipstream writes around each stored entry (local header, data descriptor and
# central record, ZIP64 extras included) besides the name twice; and the archive's end.
_ENTRY_OVERHEAD = 30 + 24 + 46 + 2 * 32
_END_OVERHEAD = 22 + 56 + 20


@dataclass(frozen=True)
class ArchiveEntry:
    name: str
    key: str
    size: int


def _chosen_file(image: Image, variant: str) -> tuple[str, str, int]:
    """``(key, content_type, bytes)`` of the file to put in the archive; the original when there is no WebP."""
    stored = image.variants.get("webp") if variant == "webp" else None
    if stored and stored.get("key"):
        content_type = stored.get("content_type") or "image/webp"
        return stored["key"], content_type, int(stored.get("bytes") or 0)
    return image.storage_key, image.content_type, int(image.bytes or 0)


def archive_plan(images: Iterable[Image], *, variant: str = "original") -> list[ArchiveEntry]:
    """The archive's entries, in order; ``TooLarge`` (zip_too_large) when it would pass ``ZIP_MAX_BYTES``."""
    if variant not in ZIP_VARIANTS:
        raise Invalid("invalid_choice", f"variant: must be one of {', '.join(ZIP_VARIANTS)}", "variant")
    entries: list[ArchiveEntry] = []
    taken: set[str] = set()
    for image in images:
        if image.processing != Image.Processing.READY or not image.storage_key:
            continue
        key, content_type, size = _chosen_file(image, variant)
        name = _unique(download_filename(image, variant="original", content_type=content_type), taken)
        entries.append(ArchiveEntry(name=name, key=key, size=size))
    total = sum(entry.size + _ENTRY_OVERHEAD + 2 * len(entry.name.encode()) for entry in entries) + _END_OVERHEAD
    if total > settings.ZIP_MAX_BYTES:
        raise TooLarge(
            "zip_too_large",
            f"the archive would be {total} bytes, over the limit of {settings.ZIP_MAX_BYTES}; choose fewer images",
        )
    return entries


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name-2``, ``name-3``... (before the extension) when an earlier entry has it."""
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    candidate, number = name, 1
    while candidate.lower() in taken:
        number += 1
        candidate = f"{stem}-{number}.{extension}" if extension else f"{stem}-{number}"
    taken.add(candidate.lower())
    return candidate


def archive_stream(entries: list[ArchiveEntry]) -> Iterator[bytes]:
    """The ZIP archive of ``entries``, chunk by chunk; each file is read from storage only when its turn comes."""
    archive = ZipStream(compress_type=ZIP_STORED)
    for entry in entries:
        archive.add(iter_chunks(entry.key), arcname=entry.name)
    yield from archive


def archive_images_selected(*, user: User, ids: list[uuid.UUID]) -> list[Image]:
    """The user's ready images among ``ids``, in the given order; ``NotFound`` naming every other id.

    Nothing is sent unless every id is one of the user's images that can be downloaded.
    """
    if not ids:
        raise Invalid("empty", "ids: give at least one image id", "ids")
    if len(ids) > MAX_ZIP_IDS:
        raise Invalid("max_length", f"ids: at most {MAX_ZIP_IDS} ids, got {len(ids)}", "ids")
    wanted = list(dict.fromkeys(ids))
    found = {
        image.pk: image for image in Image.objects.filter(user=user, pk__in=wanted, processing=Image.Processing.READY)
    }
    missing = [str(pk) for pk in wanted if pk not in found]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise NotFound("not_found", f"not found or not ready: {shown}", "ids")
    return [found[pk] for pk in wanted]
