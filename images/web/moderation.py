"""The owner's appeal of a rejected image, from its page (the API's is ``POST /api/v1/images/{id}/appeal``)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from imagegen.errors import DomainError, NotFound
from images.services.moderation import image_appeal


@login_required
@require_POST
def image_appeal_view(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    try:
        image_appeal(user=request.user, image_id=pk, message=request.POST.get("message", ""))
    except NotFound:
        raise Http404("image not found") from None
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Appeal sent: staff will look at the image again.")
    return redirect("image", pk=pk)
