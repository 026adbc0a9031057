"""Reading and editing a user's images: the rules the API and the gallery share.

Selectors (``*_queryset``, ``image_get``) read; ``image_update``,
``image_delete`` and ``images_bulk_delete`` write. Stored files are deleted
only after the row's deletion commits, so a rolled-back delete never leaves a
row pointing at nothing.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Aggregate, OuterRef, QuerySet, Subquery

from accounts.models import User
from imagegen.errors import Conflict, Invalid, NotFound
from imagegen.fields import JSONField
from images.models import Image, Tag
from images.processing import EXTENSIONS
from images.services.relocation import image_files_relocate, is_published
from images.storage import delete_keys, file_url, is_public_key, is_s3, signed_local_url

MAX_TAG_LENGTH = 64
MAX_TAGS = 20
MAX_BULK_DELETE = 100
DOWNLOAD_VARIANTS = ("original", "thumb_256", "thumb_768", "webp")


# --- Selectors ------------------------------------------------------------------------


class _JSONArrayAgg(Aggregate):
    """The aggregated values as a JSON array: ``jsonb_agg`` on PostgreSQL, ``json_group_array`` on SQLite."""

    function = "JSONB_AGG"
    output_field = JSONField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        return super().as_sql(compiler, connection, function="JSON_GROUP_ARRAY", **extra)


def with_tag_names(images: QuerySet[Image]) -> QuerySet[Image]:
    """``images`` with each one's tag names in ``tag_names`` (None for none), read in the same query.

    A prefetch would cost one more query per list; the serializers read ``tag_names`` when present.
    """
    names = (
        Image.tags.through.objects.filter(image_id=OuterRef("pk"))
        .order_by()
        .values("image_id")
        .annotate(names=_JSONArrayAgg("tag__name"))
        .values("names")
    )
    return images.annotate(tag_names=Subquery(names, output_field=JSONField()))


def listed_images() -> QuerySet[Image]:
    """Everyone's images as lists show them: never a direct upload that was not completed."""
    return with_tag_names(Image.objects.listed())


def image_queryset(*, user: User) -> QuerySet[Image]:
    """The user's images as lists show them (``listed_images``)."""
    return listed_images().filter(user=user)


def public_image_queryset() -> QuerySet[Image]:
    """Everyone's public images that others may see (``Image.objects.visible_to_others``)."""
    return with_tag_names(Image.objects.visible_to_others().filter(visibility=Image.Visibility.PUBLIC))


def image_get(*, user: User, image_id: object) -> Image:
    """One of the user's images (a direct upload awaiting its file included); 404 otherwise."""
    try:
        pk = uuid.UUID(str(image_id))
    except ValueError:
        raise _not_found(image_id) from None
    image = with_tag_names(Image.objects.filter(user=user, pk=pk)).first()
    if image is None:
        raise _not_found(image_id)
    return image


def image_fingerprint(image: Image) -> str:
    """A digest of every value of ``image`` the API shows (tags included): it changes when they do."""
    values = [getattr(image, field.attname) for field in Image._meta.concrete_fields]
    values.append(sorted(getattr(image, "tag_names", None) or []))
    return hashlib.blake2b(repr(values).encode(), digest_size=16).hexdigest()


def _not_found(image_id: object) -> NotFound:
    return NotFound("not_found", f"image {image_id} not found")


# --- Tags -----------------------------------------------------------------------------


def clean_tags(values: Iterable[object], *, field: str = "tags") -> list[str]:
    """Tag names from strings (each may hold several, comma-separated): trimmed, lower-cased, de-duplicated.

    Raises ``Invalid`` for a value that is not a string, a tag over 64
    characters, or more than 20 tags.
    """
    names: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise Invalid("invalid", f"{field}: each tag must be a string, got {type(value).__name__}", field)
        names += [part.strip().lower() for part in value.split(",")]
    names = list(dict.fromkeys(name for name in names if name))
    for name in names:
        if len(name) > MAX_TAG_LENGTH:
            raise Invalid(
                "max_length", f"{field}: tag {name[:20]!r}… is longer than {MAX_TAG_LENGTH} characters", field
            )
    if len(names) > MAX_TAGS:
        raise Invalid("max_length", f"{field}: at most {MAX_TAGS} tags, got {len(names)}", field)
    return names


def tags_for(names: list[str]) -> list[Tag]:
    """The Tag rows of ``names``, creating the missing ones (concurrent creators are harmless)."""
    if not names:
        return []
    Tag.objects.bulk_create([Tag(name=name) for name in names], ignore_conflicts=True)
    return list(Tag.objects.filter(name__in=names))


# --- Writes ---------------------------------------------------------------------------


def image_update(
    *,
    user: User,
    image_id: object,
    title: str | None = None,
    category: str | None = None,
    visibility: str | None = None,
    tags: list[str] | None = None,
    favorite: bool | None = None,
) -> Image:
    """Change what the owner may change; ``None`` leaves a field as it is, ``tags`` replaces them all.

    A visibility change moves the image's files between the public and the
    private prefix in the same transaction (``image_files_relocate``).
    """
    with transaction.atomic():
        image = image_get(user=user, image_id=image_id)
        fields = {"title": title, "category": category, "visibility": visibility, "favorite": favorite}
        changed = [name for name, value in fields.items() if value is not None]
        if visibility is not None and visibility not in Image.Visibility.values:
            raise Invalid(
                "invalid_choice", f"visibility: must be one of {', '.join(Image.Visibility.values)}", "visibility"
            )
        for name in changed:
            setattr(image, name, fields[name])
        if changed:
            image.save(update_fields=[*changed, "updated_at"])
        if tags is not None:
            image.tags.set(tags_for(clean_tags(tags)))
        if visibility is not None:
            # Last, so that anything failing before it leaves no copies behind.
            image_files_relocate(image_id=image.pk)
    return image_get(user=user, image_id=image.pk)


def delete_image_rows(images: list[Image]) -> None:
    """Delete these rows now and their stored files once the transaction commits (call inside one)."""
    keys = [key for image in images for key in image.storage_keys()]
    Image.objects.filter(pk__in=[image.pk for image in images]).delete()
    # Files go once the rows are gone for good; a failed commit keeps both.
    transaction.on_commit(partial(delete_keys, keys))


def image_delete(*, user: User, image_id: object) -> None:
    """Delete one of the user's images and, after the commit, every stored file of it."""
    with transaction.atomic():
        delete_image_rows([image_get(user=user, image_id=image_id)])


def images_bulk_delete(*, user: User, ids: list[uuid.UUID]) -> tuple[list[str], list[str]]:
    """Delete the user's images among ``ids``; returns ``(deleted, not_found)`` as id strings.

    Someone else's ids are ``not_found``: whether they exist is not the caller's business.
    """
    if len(ids) > MAX_BULK_DELETE:
        raise Invalid("max_length", f"ids: at most {MAX_BULK_DELETE} ids, got {len(ids)}", "ids")
    wanted = [str(pk) for pk in dict.fromkeys(ids)]
    with transaction.atomic():
        images = list(Image.objects.filter(user=user, pk__in=wanted))
        if images:
            delete_image_rows(images)
    found = {str(image.pk) for image in images}
    return [pk for pk in wanted if pk in found], [pk for pk in wanted if pk not in found]


# --- Downloads ------------------------------------------------------------------------

_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def download_filename(image: Image, *, variant: str, content_type: str) -> str:
    """A safe attachment name: the title (or uploaded name, or id), the variant, the right extension."""
    base = image.title or image.original_filename.rsplit(".", 1)[0] or str(image.pk)
    base = _UNSAFE_FILENAME.sub("-", base).strip("-.")[:80] or str(image.pk)
    suffix = "" if variant == "original" else f"-{variant}"
    extension = EXTENSIONS.get(content_type) or (image.format or "bin").lower()
    return f"{base}{suffix}.{extension}"


def image_download_url(*, user: User, image_id: object, variant: str = "original") -> str:
    """A URL of one of the image's files, to redirect a download to.

    Presigned S3 URLs and signed local URLs answer with ``Content-Disposition:
    attachment`` and a file name; a CDN URL serves the file as it is.
    """
    if variant not in DOWNLOAD_VARIANTS:
        raise Invalid("invalid_choice", f"variant: must be one of {', '.join(DOWNLOAD_VARIANTS)}", "variant")
    image = image_get(user=user, image_id=image_id)
    if image.processing != Image.Processing.READY:
        raise Conflict("not_ready", f"image {image.pk} is {image.processing}: nothing can be downloaded yet")
    if variant == "original":
        key, content_type = image.storage_key, image.content_type
    else:
        stored = image.variants.get(variant)
        if not stored:
            raise NotFound("variant_not_found", f"image {image.pk} has no {variant} variant", "variant")
        key, content_type = stored["key"], stored.get("content_type") or f"image/{stored.get('format', '').lower()}"
    if is_published(image) and settings.CDN_URL and is_public_key(key):
        return file_url(key, public=True)
    filename = download_filename(image, variant=variant, content_type=content_type)
    if is_s3():
        return default_storage.url(key, parameters={"ResponseContentDisposition": f'attachment; filename="{filename}"'})
    return signed_local_url(key, attachment=filename)
