"""What anyone with a link may see: unlisted and public images, by id, signed out too.

An unlisted image is never listed (``/public/images``, search and other people's
lists only ever show public ones); its page and files open for whoever has its
address. What a link may show at all is ``Image.objects.viewable_by_link()``:
share links (``images.services.sharing``) go through it as well.
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from imagegen.errors import NotFound
from images.models import Image
from images.services.library import with_tag_names

# The visibilities whose image page opens for anyone with its address.
LINK_VISIBILITIES = (Image.Visibility.PUBLIC, Image.Visibility.UNLISTED)


def link_image_queryset() -> QuerySet[Image]:
    """Everyone's public and unlisted images that a link may show (ready, not hidden)."""
    return with_tag_names(Image.objects.viewable_by_link().filter(visibility__in=LINK_VISIBILITIES))


def link_image_get(*, image_id: object) -> Image:
    """A public or unlisted image by id, for anyone; ``NotFound`` for a private, hidden or unknown one."""
    try:
        pk = uuid.UUID(str(image_id))
    except ValueError:
        raise NotFound("not_found", f"image {image_id} not found") from None
    image = link_image_queryset().filter(pk=pk).first()
    if image is None:
        raise NotFound("not_found", f"image {image_id} not found")
    return image
