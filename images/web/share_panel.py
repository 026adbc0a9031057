"""The share panel of the owner's image and album pages: a form for a new link, and the live links."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from images.api.sharing import share_url
from images.models import Album, Image
from images.services.sharing import share_link_queryset
from images.web.forms import ShareLinkForm


def share_context(request: HttpRequest, *, image: Image | None = None, album: Album | None = None) -> dict:
    """The share panel of an image or album page: a form for a new link, and the live links."""
    links = share_link_queryset(
        user=request.user, image_id=image.pk if image else None, album_id=album.pk if album else None
    )
    return {
        "share_form": ShareLinkForm(),
        "share_links": [{"link": link, "url": share_url(request, link)} for link in links[:20]],
        "share_action": reverse("image-share", args=[image.pk]) if image else reverse("album-share", args=[album.pk]),
    }
