"""Organizing pages: favorites, albums (and adding the gallery's selection to one), share links, ZIP downloads.

Thin like the other pages: a form or the POSTed ids, one service
(``images.services.albums``, ``sharing``, ``archives``), a template or a redirect.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from imagegen.pages import or_404, safe_next
from images.services.library import image_get, image_update


def posted_ids(request: HttpRequest) -> list[uuid.UUID]:
    """The checked ``ids`` of a multi-select form; a value that is no id is nothing to act on."""
    ids: list[uuid.UUID] = []
    for value in request.POST.getlist("ids"):
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            continue
    return list(dict.fromkeys(ids))


# --- Favorites --------------------------------------------------------------------------


@login_required
@require_POST
def image_favorite(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Mark or unmark one of your images as a favorite (``favorite`` = "true" or "false")."""
    image = or_404(lambda: image_get(user=request.user, image_id=pk))
    favorite = request.POST.get("favorite", "true") == "true"
    image_update(user=request.user, image_id=image.pk, favorite=favorite)
    messages.success(request, "Added to favorites." if favorite else "Removed from favorites.")
    return redirect(safe_next(request, reverse("image", args=[image.pk])))
