from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from images.models import Generation, Image, Tag, WebhookDelivery
from images.services.generations import generation_cancel_any, generation_retry
from images.webhooks import redeliver


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "status", "progress", "provider", "short_prompt", "attempts", "created_at",
                    "duration"]  # fmt: skip
    list_filter = ["status", "provider", "created_at"]
    search_fields = ["id", "prompt", "user__email"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    actions = ["retry", "cancel"]
    readonly_fields = [f.name for f in Generation._meta.fields] + ["duration"]

    @admin.display(description="prompt")
    def short_prompt(self, obj: Generation) -> str:
        return obj.prompt[:60]

    @admin.display(description="duration")
    def duration(self, obj: Generation) -> str:
        return f"{obj.duration_ms / 1000:.1f} s" if obj.duration_ms is not None else "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Retry selected failed or canceled generations")
    def retry(self, request: HttpRequest, queryset: QuerySet[Generation]) -> None:
        done = sum(generation_retry(generation=g) for g in queryset)
        self.message_user(request, f"Queued {done} generation(s) again.", messages.SUCCESS)

    @admin.action(description="Cancel selected queued or running generations")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Generation]) -> None:
        done = sum(generation_cancel_any(generation=g) for g in queryset)
        self.message_user(request, f"Canceled {done} generation(s).", messages.SUCCESS)


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "source", "title", "visibility", "processing", "is_hidden", "created_at"]
    list_filter = ["source", "visibility", "processing", "is_hidden"]
    search_fields = ["id", "title", "prompt", "user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user", "generation"]
    filter_horizontal = ["tags"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["webhook_id", "event", "attempt", "status_code", "ok", "url", "created_at"]
    list_filter = ["ok", "event"]
    search_fields = ["webhook_id", "generation__id", "url"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["redeliver_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Redeliver selected webhooks (same webhook-id)")
    def redeliver_selected(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        for delivery in queryset:
            redeliver(delivery=delivery)
        self.message_user(request, f"Queued {queryset.count()} redelivery(ies).", messages.SUCCESS)
