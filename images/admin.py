"""Staff views of generations, images, tags and webhook deliveries.

Actions call the same services as the API (retry/cancel a generation, delete
images with their stored files); jobs' timings and errors are read-only, since
only the worker writes them.
"""

from __future__ import annotations

from collections import defaultdict

from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from accounts.admin import UserAdmin
from accounts.models import User
from images.models import Album, Generation, Image, ShareLink, Tag, WebhookDelivery
from images.providers import provider_status
from images.services.generations import generation_cancel_any, generation_retry
from images.services.library import MAX_BULK_DELETE, images_bulk_delete
from images.services.quotas import daily_limit_for_tier, day_start
from images.services.relocation import image_files_relocate, images_set_visibility
from images.services.sharing import share_links_revoke_any
from images.storage import file_url
from images.webhooks import redeliver

THUMB_HEIGHT = 64


def thumbnail(image: Image, *, height: int = THUMB_HEIGHT) -> str:
    """A small preview of an image (its 256 px thumbnail through a signed URL), or a dash while it has none."""
    variant = image.variants.get("thumb_256") or image.variants.get("thumb_768")
    if not variant or image.processing != Image.Processing.READY:
        return "—"
    return format_html('<img src="{}" height="{}" alt="" loading="lazy">', file_url(variant["key"]), height)


class ImagePreviews:
    """The previews of an image's admin pages: a small one for lists, a larger one for the form."""

    @admin.display(description="preview")
    def preview(self, obj: Image) -> str:
        return thumbnail(obj)

    @admin.display(description="preview")
    def large_preview(self, obj: Image) -> str:
        return thumbnail(obj, height=256)


class ImageInline(ImagePreviews, admin.TabularInline):
    model = Image
    fields = ["preview", "index", "visibility", "processing", "is_hidden"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ["short_id", "user", "status", "progress", "provider", "short_prompt", "error_code", "attempts",
                    "created_at", "duration"]  # fmt: skip
    list_filter = ["status", "provider", "error_code", "created_at"]
    search_fields = ["id", "prompt", "user__email", "error_message"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    actions = ["retry", "cancel"]
    inlines = [ImageInline]
    readonly_fields = [f.name for f in Generation._meta.fields] + ["duration"]
    fieldsets = [
        (None, {"fields": ["id", "user", "status", "progress", "attempts"]}),
        ("Error", {"fields": ["error_code", "error_message"]}),
        (
            "Request",
            {
                "fields": [
                    "prompt",
                    "negative_prompt",
                    "style",
                    "width",
                    "height",
                    "n",
                    "seed",
                    "provider",
                    "model",
                    "quality",
                    "strength",
                    "reference_images",
                    "reference_image_urls",
                    "metadata",
                ]
            },
        ),
        ("Timings", {"fields": ["created_at", "enqueued_at", "started_at", "heartbeat_at", "finished_at", "duration"]}),
        (
            "Delivery",
            {
                "classes": ["collapse"],
                "fields": [
                    "webhook_url",
                    "webhook_events",
                    "idempotency_key",
                    "request_fingerprint",
                    "request_id",
                    "cancel_requested",
                ],
            },
        ),
    ]

    @admin.display(description="id", ordering="id")
    def short_id(self, obj: Generation) -> str:
        return str(obj.pk)[:8]

    @admin.display(description="prompt")
    def short_prompt(self, obj: Generation) -> str:
        return obj.prompt[:60]

    @admin.display(description="duration")
    def duration(self, obj: Generation) -> str:
        return f"{obj.duration_ms / 1000:.1f} s" if obj.duration_ms is not None else "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # Staff asking "why did this fail with provider_not_configured?" see the answer above the list.
        context = {"providers": provider_status(), **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)

    @admin.action(description="Retry selected failed or canceled generations", permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Generation]) -> None:
        done = sum(generation_retry(generation=g) for g in queryset)
        skipped = queryset.count() - done
        self.message_user(request, f"Queued {done} generation(s) again.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} had not failed or been canceled: left alone.", messages.WARNING)

    @admin.action(description="Cancel selected queued or running generations", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Generation]) -> None:
        done = sum(generation_cancel_any(generation=g) for g in queryset)
        self.message_user(request, f"Canceled {done} generation(s).", messages.SUCCESS)


def _delete_with_files(queryset: QuerySet[Image]) -> int:
    """Delete images through the library service, so every stored file goes after the commit."""
    by_user: dict[object, list] = defaultdict(list)
    for image in queryset.select_related("user").only("pk", "user"):
        by_user[image.user].append(image.pk)
    deleted = 0
    for user, ids in by_user.items():
        for start in range(0, len(ids), MAX_BULK_DELETE):
            done, _ = images_bulk_delete(user=user, ids=ids[start : start + MAX_BULK_DELETE])
            deleted += len(done)
    return deleted


@admin.register(Image)
class ImageAdmin(ImagePreviews, admin.ModelAdmin):
    list_display = ["preview", "title_or_prompt", "user", "source", "visibility", "processing", "is_hidden",
                    "size", "created_at"]  # fmt: skip
    list_display_links = ["preview", "title_or_prompt"]
    list_filter = ["source", "visibility", "processing", "is_hidden", "created_at"]
    search_fields = ["id", "title", "prompt", "user__email", "category", "tags__name"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    raw_id_fields = ["user", "generation"]
    filter_horizontal = ["tags"]
    actions = ["hide", "unhide", "make_private", "delete_with_files"]
    readonly_fields = ["large_preview", "id", "user", "source", "generation", "index", "prompt", "original_filename",
                       "storage_key", "width", "height", "format", "content_type", "bytes", "sha256", "variants",
                       "dominant_color", "exif", "processing", "processing_error", "created_at",
                       "updated_at"]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["large_preview", "id", "user", "source", "generation", "index"]}),
        ("Moderation", {"fields": ["is_hidden", "visibility"]}),
        ("Description", {"fields": ["title", "prompt", "category", "tags"]}),
        (
            "File",
            {
                "fields": [
                    "original_filename",
                    "storage_key",
                    "width",
                    "height",
                    "format",
                    "content_type",
                    "bytes",
                    "sha256",
                    "dominant_color",
                    "processing",
                    "processing_error",
                ]
            },
        ),
        ("Details", {"classes": ["collapse"], "fields": ["variants", "exif", "created_at", "updated_at"]}),
    ]

    def get_actions(self, request: HttpRequest) -> dict:
        # Django's own bulk delete removes rows but leaves their files: ours replaces it.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # images come from generations and uploads

    @admin.display(description="title", ordering="title")
    def title_or_prompt(self, obj: Image) -> str:
        return obj.title or obj.prompt[:60] or str(obj.pk)[:8]

    @admin.display(description="size", ordering="bytes")
    def size(self, obj: Image) -> str:
        return f"{obj.width}\N{MULTIPLICATION SIGN}{obj.height}" if obj.width else "—"

    def save_model(self, request: HttpRequest, obj: Image, form: ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and {"visibility", "is_hidden"} & set(form.changed_data):
            image_files_relocate(image_id=obj.pk)  # the change view's transaction covers both

    def delete_model(self, request: HttpRequest, obj: Image) -> None:
        _delete_with_files(Image.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Image]) -> None:
        _delete_with_files(queryset)

    @admin.action(description="Hide selected images from everyone but their owner", permissions=["change"])
    def hide(self, request: HttpRequest, queryset: QuerySet[Image]) -> None:
        count = images_set_visibility(queryset=queryset, is_hidden=True)
        self.message_user(request, f"Hid {count} image(s).", messages.SUCCESS)

    @admin.action(description="Unhide selected images", permissions=["change"])
    def unhide(self, request: HttpRequest, queryset: QuerySet[Image]) -> None:
        count = images_set_visibility(queryset=queryset, is_hidden=False)
        self.message_user(request, f"Unhid {count} image(s).", messages.SUCCESS)

    @admin.action(description="Make selected images private", permissions=["change"])
    def make_private(self, request: HttpRequest, queryset: QuerySet[Image]) -> None:
        count = images_set_visibility(queryset=queryset, visibility=Image.Visibility.PRIVATE)
        self.message_user(request, f"Made {count} image(s) private.", messages.SUCCESS)

    @admin.action(description="Delete selected images and their files", permissions=["delete"])
    def delete_with_files(self, request: HttpRequest, queryset: QuerySet[Image]) -> None:
        count = _delete_with_files(queryset)
        self.message_user(request, f"Deleted {count} image(s) and their files.", messages.SUCCESS)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["webhook_id", "event", "attempt", "status_code", "ok", "url", "duration_ms", "created_at"]
    list_filter = ["ok", "event"]
    search_fields = ["webhook_id", "generation__id", "url"]
    list_select_related = ["generation"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    actions = ["redeliver_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Redeliver selected webhooks (same webhook-id)", permissions=["change"])
    def redeliver_selected(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        for delivery in queryset:
            redeliver(delivery=delivery)
        self.message_user(request, f"Queued {queryset.count()} redelivery(ies).", messages.SUCCESS)


# --- Users, with what they have made --------------------------------------------------


def _count_subquery(queryset: QuerySet, aggregate: Count | Sum) -> Coalesce:
    # One correlated subquery per column: joining both tables would multiply rows.
    values = queryset.filter(user=OuterRef("pk")).order_by().values("user").annotate(total=aggregate).values("total")
    return Coalesce(Subquery(values, output_field=IntegerField()), Value(0))


# The accounts app's user admin knows users only; this one adds their images and today's quota.
admin.site.unregister(User)


@admin.register(User)
class UserUsageAdmin(UserAdmin):
    list_display = ["email", "name", "tier", "is_active", "is_staff", "image_count", "quota_today", "date_joined"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        today = Generation.objects.filter(created_at__gte=day_start())
        return (
            super()
            .get_queryset(request)
            .annotate(
                _image_count=_count_subquery(Image.objects.listed(), Count("id")),
                _used_today=_count_subquery(today, Sum("n")),
            )
        )

    @admin.display(description="images", ordering="_image_count")
    def image_count(self, user: User) -> int:
        return user._image_count

    @admin.display(description="quota today", ordering="_used_today")
    def quota_today(self, user: User) -> str:
        limit = daily_limit_for_tier(user.tier)
        return f"{user._used_today} / {limit if limit is not None else '∞'}"


# --- Albums and share links -------------------------------------------------------------


@admin.register(Album)
class AlbumAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "created_at", "updated_at"]
    search_fields = ["title", "user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user", "cover"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    """Staff see who shared what and may revoke a link at once; the token and password hash are never shown."""

    list_display = ["id", "kind", "user", "expires_at", "revoked_at", "view_count", "allow_download", "created_at"]
    list_filter = ["allow_download", "revoked_at", "created_at"]
    search_fields = ["user__email", "image__id", "album__id"]
    list_select_related = ["user"]
    fields = ["user", "image", "album", "expires_at", "revoked_at", "allow_download", "view_count", "created_at"]
    readonly_fields = fields
    actions = ["revoke_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke selected share links", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ShareLink]) -> None:
        count = share_links_revoke_any(queryset=queryset)
        self.message_user(request, f"Revoked {count} share link(s).", messages.SUCCESS)


from images import review_admin  # noqa: E402, F401 - the moderation queue registers itself
