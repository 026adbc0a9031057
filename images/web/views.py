"""Gallery pages: the public gallery, your gallery, create, live generation progress, image pages, upload.

Views are thin: a form shapes the input, a service checks it
(``images.services.resolver`` for a generation, ``images.services.*``), and a
template shows the result with the same image objects the API returns
(``ImageSerializer``: signed, expiring URLs). Every form works without
JavaScript; ``static/js/app.js`` adds live progress and small conveniences.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from imagegen.errors import DomainError
from imagegen.pages import add_service_error, or_404, safe_next
from imagegen.statuses import status_for
from images.api.filters import ORDERINGS, RELEVANCE, ImageFilter, PublicImageFilter, list_ordering
from images.api.serializers import GenerationSerializer, ImageSerializer
from images.models import Album, Image
from images.providers import configured_providers
from images.services.generations import (
    WAIT_SLOTS,
    generation_cancel,
    generation_create,
    generation_get,
    generation_queryset,
)
from images.services.library import (
    download_filename,
    image_delete,
    image_get,
    image_queryset,
    image_update,
    images_bulk_delete,
    public_image_queryset,
)
from images.services.links import link_image_get
from images.services.resolver import generation_params
from images.services.uploads import image_processing_wait, image_upload
from images.services.usage import stats_for_user
from images.web.forms import GalleryFilterForm, GenerationForm, ImageEditForm, UploadForm, initial_from_generation
from images.web.share_panel import share_context

PAGE_SIZE = 24
REFERENCE_CHOICES = 24
# How long the create page waits for the worker to process a reference it was just given.
REFERENCE_WAIT_SECONDS = 15
SORTS = [("-created_at", "Newest first"), ("created_at", "Oldest first"), ("-bytes", "Largest first"),
         ("title", "Title, A to Z")]  # fmt: skip


def _images(request: HttpRequest, images: list[Image]) -> list[dict]:
    return ImageSerializer(images, many=True, context={"request": request}).data


def noindex(response: HttpResponse) -> HttpResponse:
    """Keep a page out of search engines: unlisted means findable only through its link."""
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _paginate(request: HttpRequest, queryset: object) -> tuple[Page, str]:
    """A page of ``queryset`` and the query string (without ``page``) its links keep."""
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


# --- Galleries ------------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    """Signed in: your gallery. Signed out: everyone's public images."""
    if request.user.is_authenticated:
        return redirect("gallery")
    return public_gallery(request)


def public_gallery(request: HttpRequest) -> HttpResponse:
    filterset = PublicImageFilter(request.GET, queryset=public_image_queryset().order_by("-created_at", "id"))
    form = GalleryFilterForm(request.GET)
    images = filterset.qs if filterset.is_valid() else Image.objects.none()
    _copy_errors(filterset.form, form)
    page, query = _paginate(request, images)
    context = {"page": page, "images": _images(request, page.object_list), "query": query, "form": form}
    return render(request, "images/public_gallery.html", context, status=200 if filterset.is_valid() else 400)


@login_required
def gallery(request: HttpRequest) -> HttpResponse:
    filterset = ImageFilter(request.GET, queryset=image_queryset(user=request.user))
    form = GalleryFilterForm(request.GET)
    valid = filterset.is_valid()
    _copy_errors(filterset.form, form)
    images = Image.objects.none()
    ordering = list_ordering(request.GET)
    if valid:
        images = filterset.qs.order_by(*ORDERINGS[ordering])
    page, query = _paginate(request, images)
    filtered = any(
        request.GET.get(name) for name in ("q", "source", "visibility", "category", "tag", "favorite", "label")
    )
    context = {
        "page": page,
        "images": _images(request, page.object_list),
        "query": query,
        "form": form,
        "filtered": filtered,
        "sorts": [(RELEVANCE, "Best match"), *SORTS] if ordering == RELEVANCE or request.GET.get("q") else SORTS,
        "sort": ordering,
        "categories": _categories(request),
        "albums": Album.objects.filter(user=request.user).order_by("title").only("id", "title")[:200]
        if page.object_list
        else [],
    }
    return render(request, "images/gallery.html", context, status=200 if valid else 400)


def _copy_errors(source: object, target: GalleryFilterForm) -> None:
    for name, errors in source.errors.items():
        for error in errors:
            target.add_error(name if name in target.fields else None, error)


def _categories(request: HttpRequest) -> list[str]:
    values = image_queryset(user=request.user).exclude(category="").values_list("category", flat=True)
    return sorted(set(values.order_by()[:200]))


@login_required
@require_POST
def gallery_delete(request: HttpRequest) -> HttpResponse:
    """The gallery's multi-select delete: the checked ids go to the bulk-delete service."""
    back = safe_next(request, reverse("gallery"))
    ids: list[uuid.UUID] = []
    for value in request.POST.getlist("ids"):
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            continue  # not an id of anything: nothing to delete
    if not ids:
        messages.warning(request, "Select the images to delete first.")
        return redirect(back)
    try:
        deleted, _not_found = images_bulk_delete(user=request.user, ids=ids)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Deleted {len(deleted)} image{'s' if len(deleted) != 1 else ''}.")
    return redirect(back)


# --- Create and follow a generation -----------------------------------------------------


def _reference_choices(request: HttpRequest, selected: list[str]) -> list[Image]:
    ready = image_queryset(user=request.user).filter(processing=Image.Processing.READY)
    recent = list(ready[:REFERENCE_CHOICES])
    have = {str(image.pk) for image in recent}
    wanted = [pk for pk in selected if pk not in have]
    # Selected (remixed) references stay pickable however old they are.
    valid = [pk for pk in wanted if _is_uuid(pk)]
    older = list(image_queryset(user=request.user).filter(pk__in=valid)) if valid else []
    return older + recent


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _generation_form(
    request: HttpRequest, data: QueryDict | None = None, initial: dict | None = None
) -> GenerationForm:
    selected = (data.getlist("reference_images") if data is not None else None) or (initial or {}).get(
        "reference_images", []
    )
    return GenerationForm(
        data,
        request.FILES if data is not None else None,
        initial=initial,
        reference_choices=_reference_choices(request, list(selected)),
        providers=list(configured_providers()),
    )


def _create_initial(request: HttpRequest) -> dict:
    """Prefill from ``?remix=<image id>`` (its generation's parameters) or ``?reference=<image id>``."""
    if remix := request.GET.get("remix"):
        image = or_404(lambda: image_get(user=request.user, image_id=remix))
        if image.generation_id:
            generation = or_404(lambda: generation_get(user=request.user, generation_id=image.generation_id))
            return initial_from_generation(generation)
        return {"reference_images": [str(image.pk)], "prompt": image.prompt}
    if reference := request.GET.get("reference"):
        image = or_404(lambda: image_get(user=request.user, image_id=reference))
        return {"reference_images": [str(image.pk)]}
    return {}


def _render_create(request: HttpRequest, form: GenerationForm, *, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "references": _images(request, form.reference_choices),
        "selected_references": set(form["reference_images"].value() or []),
        "recent": generation_queryset(user=request.user)[:5],
        "idempotency_key": uuid.uuid4().hex,
    }
    return render(request, "images/create.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _render_create(request, _generation_form(request, initial=_create_initial(request)))

    data = request.POST.copy()
    form = _generation_form(request, data)
    if not form.is_valid():
        return _render_create(request, form, status=400)
    uploaded: list[str] = []
    if reference_file := form.cleaned_data.get("reference_file"):
        reference = _store_reference(request, form, reference_file)
        if reference is None:
            return _render_create(request, form, status=400)
        if reference.processing != Image.Processing.READY:
            # Keep it picked for the next try instead of asking for the file again.
            data.setlist("reference_images", [*data.getlist("reference_images"), str(reference.pk)])
            form = _generation_form(request, data)
            form.is_valid()
            form.add_error(
                "reference_images",
                "Your reference image is still being processed; it is selected here. Press Create again in a moment.",
            )
            return _render_create(request, form, status=409)
        uploaded.append(str(reference.pk))

    try:
        generation, _created = generation_create(
            user=request.user,
            params=generation_params(**form.request_fields(extra_reference_ids=uploaded)),
            idempotency_key=request.POST.get("idempotency_key") or None,
            request_id=getattr(request, "request_id", ""),
        )
    except DomainError as exc:
        add_service_error(form, exc)
        return _render_create(request, form, status=status_for(exc))
    return redirect("generation", pk=generation.pk)


def _store_reference(request: HttpRequest, form: GenerationForm, file: object) -> Image | None:
    """Upload the reference file as the user's image and wait (briefly) for the worker to process it."""
    try:
        (image,) = image_upload(user=request.user, files=[file], title="Reference")
    except DomainError as exc:
        add_service_error(form, exc, aliases={"files": "reference_file", "file": "reference_file"})
        return None
    image = _wait_for_processing(image, seconds=REFERENCE_WAIT_SECONDS)
    if image.processing == Image.Processing.FAILED:
        form.add_error("reference_file", f"This image could not be processed: {image.processing_error}")
        return None
    return image


def _wait_for_processing(image: Image, *, seconds: float) -> Image:
    # The upload was fully checked already; the worker usually finishes in well under a second.
    with WAIT_SLOTS as got_slot:
        return image_processing_wait(image, seconds=seconds if got_slot else 0)


@login_required
def generation_detail(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    generation = or_404(lambda: generation_get(user=request.user, generation_id=pk))
    data = GenerationSerializer(generation, context={"request": request}).data
    context = {"generation": generation, "data": data, "poll_url": reverse("generation-detail", args=[generation.pk])}
    return render(request, "images/generation.html", context)


@login_required
@require_POST
def generation_cancel_view(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    try:
        or_404(lambda: generation_cancel(user=request.user, generation_id=pk))
    except DomainError as exc:
        messages.warning(request, f"Not canceled: {exc.message}.")
    else:
        messages.success(request, "Generation canceled.")
    return redirect("generation", pk=pk)


# --- One image --------------------------------------------------------------------------


def _edit_initial(image: Image) -> dict:
    return {
        "title": image.title,
        "category": image.category,
        "tags": ", ".join(sorted(tag.name for tag in image.tags.all())),
        "visibility": image.visibility,
    }


def _own_image(request: HttpRequest, pk: uuid.UUID) -> Image | None:
    if not request.user.is_authenticated:
        return None
    try:
        return image_get(user=request.user, image_id=pk)
    except DomainError:
        return None


@require_http_methods(["GET", "POST"])
def image_detail(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Your image (with edit, download, remix and delete), or someone's public image (to look at)."""
    image = _own_image(request, pk)
    if image is None:
        if request.method != "GET":
            raise Http404("image not found")
        # Public or unlisted: anyone with the address, signed out too.
        shown = or_404(lambda: link_image_get(image_id=pk))
        response = render(request, "images/image_public.html", {"image": shown, "data": _images(request, [shown])[0]})
        return noindex(response) if shown.visibility == Image.Visibility.UNLISTED else response

    form = ImageEditForm(request.POST or None, initial=_edit_initial(image))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                image_update(
                    user=request.user,
                    image_id=image.pk,
                    title=form.cleaned_data["title"],
                    category=form.cleaned_data["category"],
                    visibility=form.cleaned_data["visibility"],
                    tags=[form.cleaned_data["tags"]],
                )
            except DomainError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, "Saved.")
                return redirect("image", pk=image.pk)
    data = _images(request, [image])[0]
    webp = data["variants"].get("webp")
    context = {
        "image": image,
        "data": data,
        "form": form,
        "webp": webp,
        "generation": image.generation if image.generation_id else None,
        "original_name": download_filename(image, variant="original", content_type=image.content_type),
        "webp_name": download_filename(
            image, variant="webp", content_type=image.variants.get("webp", {}).get("content_type", "image/webp")
        ),
        **share_context(request, image=image),
    }
    response = render(request, "images/image_detail.html", context, status=status)
    return noindex(response) if image.visibility == Image.Visibility.UNLISTED else response


@login_required
@require_POST
def image_delete_view(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    or_404(lambda: image_delete(user=request.user, image_id=pk))
    messages.success(request, "Image deleted.")
    return redirect("gallery")


# --- Upload -----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                images = image_upload(
                    user=request.user,
                    files=data["files"],
                    title=data["title"],
                    category=data["category"],
                    tags=[data["tags"]],
                    visibility=data["visibility"],
                )
            except DomainError as exc:
                add_service_error(form, exc, aliases={"file": "files"})
                status = status_for(exc)
            else:
                count = len(images)
                messages.success(
                    request, f"Uploaded {count} image{'s' if count != 1 else ''}; previews appear once processed."
                )
                if count == 1:
                    return redirect("image", pk=images[0].pk)
                return redirect("gallery")
    return render(request, "images/upload.html", {"form": form}, status=status)


# --- Statistics -------------------------------------------------------------------------


@login_required
def stats_view(request: HttpRequest) -> HttpResponse:
    stats = stats_for_user(user=request.user)
    return render(request, "images/stats.html", {"stats": stats})
