"""Organizing pages: favorites, albums (and adding the gallery's selection to one), share links, ZIP downloads.

Thin like the other pages: a form or the POSTed ids, one service
(``images.services.albums``, ``sharing``, ``archives``), a template or a redirect.
"""

from __future__ import annotations

import math
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from imagegen.errors import DomainError, Gone, LimitReached, NotFound, Unauthenticated
from imagegen.pages import add_service_error, or_404, safe_next
from imagegen.statuses import status_for
from images.api.archives import zip_response
from images.api.sharing import open_link, shared_body
from images.services.albums import (
    album_covers,
    album_create,
    album_delete,
    album_get,
    album_images,
    album_images_add,
    album_images_remove,
    album_queryset,
    album_update,
)
from images.services.archives import archive_images_selected, archive_plan
from images.services.library import image_get, image_update
from images.services.sharing import (
    share_link_create,
    share_link_find,
    share_link_revoke,
    share_link_viewed,
    shared_images,
)
from images.web.forms import AlbumForm, ShareLinkForm, SharePasswordForm
from images.web.share_panel import share_context
from images.web.views import PAGE_SIZE, _images


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


# --- Albums -----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def albums_page(request: HttpRequest) -> HttpResponse:
    """Your albums, and a form to start one."""
    form = AlbumForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                album = album_create(user=request.user, **form.cleaned_data)
            except DomainError as exc:
                add_service_error(form, exc)
                status = status_for(exc)
            else:
                messages.success(request, f"Album “{album.title}” created.")
                return redirect("album", pk=album.pk)
    page = Paginator(album_queryset(user=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    albums = list(page.object_list)
    covers = album_covers(albums)
    cover_data = {pk: row for pk, row in zip(covers, _images(request, list(covers.values())), strict=True)}
    items = [{"album": album, "cover": cover_data.get(album.cover_image_id)} for album in albums]
    return render(request, "images/albums.html", {"form": form, "items": items, "page": page}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def album_page(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """One of your albums: its images (multi-select to remove), edit, share, download, delete."""
    album = or_404(lambda: album_get(user=request.user, album_id=pk))
    form = AlbumForm(request.POST or None, initial={"title": album.title, "description": album.description})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                album_update(user=request.user, album_id=album.pk, **form.cleaned_data)
            except DomainError as exc:
                add_service_error(form, exc)
                status = status_for(exc)
            else:
                messages.success(request, "Album saved.")
                return redirect("album", pk=album.pk)
    page = Paginator(album_images(user=request.user, album=album), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "album": album,
        "form": form,
        "page": page,
        "query": "",
        "images": _images(request, list(page.object_list)),
        **share_context(request, album=album),
    }
    return render(request, "images/album.html", context, status=status)


@login_required
@require_POST
def album_delete_view(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    or_404(lambda: album_delete(user=request.user, album_id=pk))
    messages.success(request, "Album deleted; its images are still in your gallery.")
    return redirect("albums")


@login_required
@require_POST
def album_remove_view(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """The album page's multi-select: take the checked images out of the album."""
    album = or_404(lambda: album_get(user=request.user, album_id=pk))
    ids = posted_ids(request)
    if not ids:
        messages.warning(request, "Select the images to remove first.")
    else:
        try:
            removed, _ = album_images_remove(user=request.user, album_id=album.pk, ids=ids)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Removed {len(removed)} image{pluralize(len(removed))} from the album.")
    return redirect("album", pk=album.pk)


@login_required
@require_POST
def gallery_add_to_album(request: HttpRequest) -> HttpResponse:
    """The gallery's multi-select: add the checked images to an album, or to a new one titled in the form."""
    back = safe_next(request, reverse("gallery"))
    ids = posted_ids(request)
    if not ids:
        messages.warning(request, "Select the images to add first.")
        return redirect(back)
    try:
        if album_id := request.POST.get("album"):
            album = album_get(user=request.user, album_id=album_id)
        else:
            album = album_create(user=request.user, title=request.POST.get("new_album_title", ""))
        added, _ = album_images_add(user=request.user, album_id=album.pk, ids=ids)
    except NotFound:
        raise Http404("album not found") from None
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    messages.success(request, f"Added {len(added)} image{pluralize(len(added))} to “{album.title}”.")
    return redirect("album", pk=album.pk)


def pluralize(count: int) -> str:
    return "" if count == 1 else "s"


# --- Share links: the owner's side ------------------------------------------------------


def _share_create(request: HttpRequest, *, image_id: object = None, album_id: object = None) -> None:
    form = ShareLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not shared: " + " ".join(str(e) for errors in form.errors.values() for e in errors))
        return
    try:
        share_link_create(
            user=request.user,
            image_id=image_id,
            album_id=album_id,
            expires_in=form.expires_seconds(),
            password=form.cleaned_data["password"] or None,
            allow_download=form.cleaned_data["allow_download"],
        )
    except NotFound:
        raise Http404("not found") from None
    except DomainError as exc:
        messages.error(request, f"Not shared: {exc.message}")
    else:
        messages.success(request, "Share link created: copy it from the list below.")


@login_required
@require_POST
def image_share(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    _share_create(request, image_id=pk)
    return redirect(reverse("image", args=[pk]) + "#share")


@login_required
@require_POST
def album_share(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    _share_create(request, album_id=pk)
    return redirect(reverse("album", args=[pk]) + "#share")


@login_required
@require_POST
def share_revoke(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    or_404(lambda: share_link_revoke(user=request.user, link_id=pk))
    messages.success(request, "Share link revoked: it no longer opens.")
    return redirect(safe_next(request, reverse("gallery")))


# --- Share links: what anyone with the link sees --------------------------------------

_UNLOCKED = "unlocked_share_links"
_UNLOCKED_KEPT = 50


@require_http_methods(["GET", "POST"])
def share_page(request: HttpRequest, token: str) -> HttpResponse:
    """``/s/<token>``: the shared image or album; a password form first when the link has one."""
    try:
        link = share_link_find(token=token)
    except NotFound:
        return _share_unavailable(request, "This link does not exist or was revoked.", 404)
    except Gone:
        return _share_unavailable(request, "This link has expired. Ask whoever shared it for a new one.", 410)
    form = SharePasswordForm(request.POST or None)
    unlocked = str(link.pk) in request.session.get(_UNLOCKED, [])
    if link.has_password and not unlocked:
        if request.method != "POST":
            return _share_password_page(request, form, 401)
        if not form.is_valid():
            return _share_password_page(request, form, 401)
        try:
            open_link(request, token, form.cleaned_data["password"])
        except LimitReached as exc:
            form.add_error("password", f"Too many wrong passwords; try again in {math.ceil(exc.wait or 1)} seconds.")
            return _share_password_page(request, form, 429)
        except Unauthenticated:
            form.add_error("password", "That is not the password of this link.")
            return _share_password_page(request, form, 401)
        request.session[_UNLOCKED] = [*request.session.get(_UNLOCKED, []), str(link.pk)][-_UNLOCKED_KEPT:]
        return redirect("share-page", token=token)
    try:
        body = shared_body(request, link)
    except NotFound:
        return _share_unavailable(request, "This link does not exist or was revoked.", 404)
    share_link_viewed(link)
    images = [body["image"]] if link.image_id else body["album"]["images"]
    for image in images:
        image["show"] = _shown_files(image)
    return _noindex(render(request, "images/share.html", {"link": link, "shared": body, "token": token}))


def _shown_files(image: dict) -> dict:
    """The files a share page shows of an image: a large one to look at and a grid-sized one."""
    variants = image["variants"]
    large = variants.get("webp") or variants.get("thumb_768") or variants.get("thumb_256") or {}
    medium = variants.get("thumb_768") or variants.get("thumb_256") or large
    return {"large": large, "medium": medium}


def _share_password_page(request: HttpRequest, form: SharePasswordForm, status: int) -> HttpResponse:
    return _noindex(render(request, "images/share_password.html", {"form": form}, status=status))


def _share_unavailable(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return _noindex(render(request, "images/share_unavailable.html", {"message": message}, status=status))


def _noindex(response: HttpResponse) -> HttpResponse:
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "private, no-store"
    return response


# --- ZIP downloads ----------------------------------------------------------------------


@login_required
@require_POST
def gallery_download_zip(request: HttpRequest) -> HttpResponse:
    """The gallery's multi-select: the checked images as one ZIP."""
    back = safe_next(request, reverse("gallery"))
    ids = posted_ids(request)
    if not ids:
        messages.warning(request, "Select the images to download first.")
        return redirect(back)
    try:
        images = archive_images_selected(user=request.user, ids=ids)
        entries = archive_plan(images, variant=request.POST.get("variant") or "original")
    except DomainError as exc:
        messages.error(request, f"No ZIP: {exc.message}")
        return redirect(back)
    return zip_response(entries, name=f"imagegen-{len(entries)}-images")


@login_required
@require_http_methods(["GET"])
def album_download(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    album = or_404(lambda: album_get(user=request.user, album_id=pk))
    try:
        entries = archive_plan(
            album_images(user=request.user, album=album), variant=request.GET.get("variant") or "original"
        )
    except DomainError as exc:
        messages.error(request, f"No ZIP: {exc.message}")
        return redirect("album", pk=album.pk)
    return zip_response(entries, name=album.title)


@require_http_methods(["GET"])
def share_download(request: HttpRequest, token: str) -> HttpResponse:
    """``/s/<token>/download``: the shared images as a ZIP, for a link that allows it (and was unlocked here)."""
    try:
        link = share_link_find(token=token)
    except NotFound:
        return _share_unavailable(request, "This link does not exist or was revoked.", 404)
    except Gone:
        return _share_unavailable(request, "This link has expired. Ask whoever shared it for a new one.", 410)
    if link.has_password and str(link.pk) not in request.session.get(_UNLOCKED, []):
        return redirect("share-page", token=token)
    if not link.allow_download:
        return _share_unavailable(request, "This link does not allow downloads.", 403)
    try:
        entries = archive_plan(shared_images(link), variant=request.GET.get("variant") or "original")
    except DomainError as exc:
        return _share_unavailable(request, exc.message, status_for(exc))
    return zip_response(entries, name=link.album.title if link.album_id else "shared-image")
