"""Share links: one image or one album shown to anyone holding the link's token.

The token is 192 random bits (``secrets``), kept as it is so that the owner can
copy the link again; the optional password is kept only as a Django hash. A
link ends when it expires (``Gone``) or when its owner revokes it (``NotFound``
from then on, like a token that never existed). What a link shows goes through
``Image.objects.viewable_by_link()``: nothing hidden by staff, held by moderation or still processing.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

from django.contrib.auth.hashers import check_password, make_password
from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.models import User
from imagegen.errors import Gone, Invalid, NotFound, Unauthenticated
from images.models import Album, Image, ShareLink
from images.services.library import with_tag_names

DEFAULT_EXPIRES_IN = 30 * 24 * 3600
MIN_EXPIRES_IN = 60
MAX_EXPIRES_IN = 10 * 365 * 24 * 3600
MAX_PASSWORD = 128
MAX_TOKEN = 64
# At most this many images of a shared album are shown (the newest added first).
MAX_SHARED_ALBUM_IMAGES = 1000
_TOKEN_BYTES = 24  # 192 bits
_DEFAULT: object = object()


def share_link_create(
    *,
    user: User,
    image_id: object | None = None,
    album_id: object | None = None,
    expires_in: object = _DEFAULT,
    password: str | None = None,
    allow_download: bool = True,
) -> ShareLink:
    """A new link to one of the user's images or albums.

    ``expires_in``: seconds from now (default 30 days), or None for a link that never expires.
    """
    if (image_id is None) == (album_id is None):
        raise Invalid("invalid", "give either image or album, not both or neither", "image" if image_id else None)
    image = album = None
    if image_id is not None:
        image = _owned(Image.objects.listed(), user=user, pk=image_id, field="image")
    else:
        album = _owned(Album.objects.all(), user=user, pk=album_id, field="album")
    if expires_in is _DEFAULT:
        expires_in = DEFAULT_EXPIRES_IN
    expires_at = None
    if expires_in is not None:
        if not isinstance(expires_in, int) or not MIN_EXPIRES_IN <= expires_in <= MAX_EXPIRES_IN:
            raise Invalid(
                "invalid", f"expires_in: seconds from {MIN_EXPIRES_IN} to {MAX_EXPIRES_IN}, or null", "expires_in"
            )
        expires_at = timezone.now() + dt.timedelta(seconds=expires_in)
    if password is not None and len(password) > MAX_PASSWORD:
        raise Invalid("max_length", f"password: at most {MAX_PASSWORD} characters", "password")
    return ShareLink.objects.create(
        user=user,
        image=image,
        album=album,
        token=secrets.token_urlsafe(_TOKEN_BYTES),
        password_hash=make_password(password) if password else "",
        allow_download=allow_download,
        expires_at=expires_at,
    )


def _owned(queryset: QuerySet, *, user: User, pk: object, field: str) -> object:
    try:
        return queryset.get(user=user, pk=uuid.UUID(str(pk)))
    except (ValueError, queryset.model.DoesNotExist):
        raise NotFound("not_found", f"{field}: {pk} not found", field) from None


def share_link_queryset(*, user: User, image_id: object = None, album_id: object = None) -> QuerySet[ShareLink]:
    """The user's live (not revoked) links, newest first; optionally those of one image or album."""
    links = ShareLink.objects.filter(user=user, revoked_at__isnull=True)
    if image_id is not None:
        links = links.filter(image_id=image_id)
    if album_id is not None:
        links = links.filter(album_id=album_id)
    return links


def share_link_revoke(*, user: User, link_id: object) -> None:
    """End a link at once: from now on its token is unknown."""
    try:
        pk = uuid.UUID(str(link_id))
    except ValueError:
        raise NotFound("not_found", f"share link {link_id} not found") from None
    revoked = share_link_queryset(user=user).filter(pk=pk).update(revoked_at=timezone.now())
    if not revoked:
        raise NotFound("not_found", f"share link {link_id} not found")


def share_links_revoke_any(*, queryset: QuerySet[ShareLink]) -> int:
    """Staff: revoke these links, whoever made them; returns how many were live."""
    return queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


def share_link_find(*, token: str) -> ShareLink:
    """The live link of ``token``: ``NotFound`` when unknown or revoked, ``Gone`` when expired."""
    link = None
    if token and len(token) <= MAX_TOKEN:
        link = ShareLink.objects.filter(token=token, revoked_at__isnull=True).first()
    if link is None:
        raise NotFound("not_found", "this share link does not exist or was revoked")
    if link.expires_at is not None and link.expires_at <= timezone.now():
        raise Gone("share_expired", "this share link has expired")
    return link


def share_link_password_check(link: ShareLink, password: str | None) -> None:
    """Pass when the link has no password or ``password`` is its password; else ``Unauthenticated``."""
    if not link.has_password:
        return
    if not password or not check_password(password, link.password_hash):
        message = "this link needs a password" if not password else "wrong password for this link"
        raise Unauthenticated("share_password_required", message, "password")


def share_link_viewed(link: ShareLink) -> None:
    """Count one view (a page or an API read; not the files)."""
    ShareLink.objects.filter(pk=link.pk).update(view_count=F("view_count") + 1)
    link.view_count += 1


def shared_images(link: ShareLink) -> QuerySet[Image]:
    """The images a link shows now: its image, or its album's, as far as a link may show them."""
    images = with_tag_names(Image.objects.viewable_by_link())
    if link.image_id:
        return images.filter(pk=link.image_id)
    return images.filter(album_entries__album_id=link.album_id).order_by("-album_entries__added_at", "id")


def shared_image(link: ShareLink) -> Image:
    """The image of an image link; ``NotFound`` when a link may not show it (hidden, in review, processing)."""
    image = shared_images(link).first()
    if image is None:
        raise NotFound("not_found", "this share link does not exist or was revoked")
    return image
