"""Albums: a user's named sets of their own images (many-to-many; deleting an album keeps its images).

Another user's album or image is ``NotFound`` like an unknown one; in a list of
ids it is named in ``not_found`` and nothing is done with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Count, F, OuterRef, QuerySet, Subquery, UUIDField
from django.db.models.functions import Coalesce, Now

from accounts.models import User
from imagegen.errors import Invalid, NotFound
from images.models import Album, AlbumImage, Image
from images.services.library import image_queryset, with_tag_names

MAX_TITLE = 200
MAX_DESCRIPTION = 2000
MAX_IDS = 500  # ids in one add or remove
_UNSET: Any = object()


def _album_pk(album_id: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(album_id))
    except ValueError:
        raise NotFound("not_found", f"album {album_id} not found") from None


def album_queryset(*, user: User) -> QuerySet[Album]:
    """The user's albums, newest first, each with ``image_count`` and ``cover_id`` (chosen, or the latest added)."""
    latest = AlbumImage.objects.filter(album_id=OuterRef("pk")).order_by("-added_at", "-id").values("image_id")[:1]
    count = (
        AlbumImage.objects.filter(album_id=OuterRef("pk"))
        .order_by()
        .values("album_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Album.objects.filter(user=user).annotate(
        image_count=Coalesce(Subquery(count), 0),
        cover_image_id=Coalesce(F("cover_id"), Subquery(latest), output_field=UUIDField()),
    )


def album_get(*, user: User, album_id: object) -> Album:
    """One of the user's albums (with ``image_count`` and ``cover_image_id``); ``NotFound`` otherwise."""
    album = album_queryset(user=user).filter(pk=_album_pk(album_id)).first()
    if album is None:
        raise NotFound("not_found", f"album {album_id} not found")
    return album


def album_images(*, user: User, album: Album) -> QuerySet[Image]:
    """The album's images as lists show them, the most recently added first."""
    return image_queryset(user=user).filter(album_entries__album=album).order_by("-album_entries__added_at", "id")


def album_covers(albums: Iterable[Album]) -> dict[uuid.UUID, Image]:
    """The cover images of ``albums`` (read in one query), by id."""
    ids = {album.cover_image_id for album in albums if getattr(album, "cover_image_id", None)}
    return {image.pk: image for image in with_tag_names(Image.objects.filter(pk__in=ids))} if ids else {}


def _clean_title(title: str) -> str:
    title = (title or "").strip()
    if not title:
        raise Invalid("blank", "title: an album needs a title", "title")
    if len(title) > MAX_TITLE:
        raise Invalid("max_length", f"title: at most {MAX_TITLE} characters", "title")
    return title


def _clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise Invalid("max_length", f"description: at most {MAX_DESCRIPTION} characters", "description")
    return description


def album_create(*, user: User, title: str, description: str = "") -> Album:
    """A new, empty album of the user's."""
    album = Album.objects.create(user=user, title=_clean_title(title), description=_clean_description(description))
    return album_get(user=user, album_id=album.pk)


def album_update(
    *, user: User, album_id: object, title: str | None = None, description: str | None = None, cover: Any = _UNSET
) -> Album:
    """Change an album's title, description or cover (an image id in the album, or None for the latest added)."""
    with transaction.atomic():
        album = album_get(user=user, album_id=album_id)
        if title is not None:
            album.title = _clean_title(title)
        if description is not None:
            album.description = _clean_description(description)
        if cover is not _UNSET:
            album.cover = None if cover is None else _cover_image(user=user, album=album, image_id=cover)
        album.save()
    return album_get(user=user, album_id=album.pk)


def _cover_image(*, user: User, album: Album, image_id: object) -> Image:
    try:
        image = Image.objects.get(user=user, pk=uuid.UUID(str(image_id)))
    except (ValueError, Image.DoesNotExist):
        raise NotFound("not_found", f"cover: image {image_id} not found", "cover") from None
    if not AlbumImage.objects.filter(album=album, image=image).exists():
        raise Invalid("not_in_album", f"cover: image {image_id} is not in this album; add it first", "cover")
    return image


def album_delete(*, user: User, album_id: object) -> None:
    """Delete the album; its images stay (in your gallery and in other albums)."""
    album_get(user=user, album_id=album_id).delete()


def _check_ids(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    if not ids:
        raise Invalid("empty", "ids: give at least one image id", "ids")
    if len(ids) > MAX_IDS:
        raise Invalid("max_length", f"ids: at most {MAX_IDS} ids, got {len(ids)}", "ids")
    return list(dict.fromkeys(ids))


def album_images_add(*, user: User, album_id: object, ids: list[uuid.UUID]) -> tuple[list[str], list[str]]:
    """Add the user's images among ``ids`` to the album; returns ``(added, not_found)`` as id strings.

    Images already in the album count as added; someone else's ids, and unknown ones, are ``not_found``.
    """
    wanted = [str(pk) for pk in _check_ids(ids)]
    with transaction.atomic():
        album = album_get(user=user, album_id=album_id)
        found = {str(pk) for pk in image_queryset(user=user).filter(pk__in=wanted).values_list("pk", flat=True)}
        added = [pk for pk in wanted if pk in found]
        AlbumImage.objects.bulk_create([AlbumImage(album=album, image_id=pk) for pk in added], ignore_conflicts=True)
        Album.objects.filter(pk=album.pk).update(updated_at=Now())
    return added, [pk for pk in wanted if pk not in found]


def album_images_remove(*, user: User, album_id: object, ids: list[uuid.UUID]) -> tuple[list[str], list[str]]:
    """Take images out of the album (they stay in the gallery); returns ``(removed, not_found)``.

    An id that is not in this album is ``not_found``. A removed cover falls back to the latest added image.
    """
    wanted = [str(pk) for pk in _check_ids(ids)]
    with transaction.atomic():
        album = album_get(user=user, album_id=album_id)
        entries = AlbumImage.objects.filter(album=album, image_id__in=wanted)
        found = {str(pk) for pk in entries.values_list("image_id", flat=True)}
        entries.delete()
        if album.cover_id and str(album.cover_id) in found:
            Album.objects.filter(pk=album.pk).update(cover=None)
        Album.objects.filter(pk=album.pk).update(updated_at=Now())
    return [pk for pk in wanted if pk in found], [pk for pk in wanted if pk not in found]
