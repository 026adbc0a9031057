"""The staff's moderation queue in the admin: images held for review, decided one by one or in bulk.

Each decision goes through ``services.moderation.images_review``, which keeps
the audit trail (``ModerationEvent``: who, when, what, why, the state
before); the trail is shown on each case and in its own read-only list.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from imagegen.errors import DomainError
from images.admin import ImagePreviews, thumbnail
from images.models import Image, ModerationCase, ModerationEvent
from images.services.moderation import MAX_REASON, images_review


class AppealFilter(admin.SimpleListFilter):
    title = "appeal"
    parameter_name = "appeal"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Appealed"), ("no", "Not appealed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Image]) -> QuerySet[Image]:
        if self.value() in ("yes", "no"):
            return queryset.filter(appealed_at__isnull=self.value() == "no")
        return queryset


class CategoryFilter(admin.SimpleListFilter):
    title = "category"
    parameter_name = "category"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        held = Image.objects.exclude(moderation_status=Image.Moderation.OK).values_list(
            "moderation_categories", flat=True
        )
        names = sorted({name for categories in held[:2000] for name in categories or []})
        return [(name, name) for name in names]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Image]) -> QuerySet[Image]:
        value = self.value()
        if not value:
            return queryset
        # A JSON list of strings holds the name quoted: exact on both databases, no JSON operator needed.
        return queryset.filter(moderation_categories__icontains=f'"{value}"')


class DecisionForm(forms.ModelForm):
    decision = forms.ChoiceField(
        choices=[
            ("", "— keep as it is —"),
            ("approve", "Approve: visible as its owner chose"),
            ("reject", "Reject: hidden from everyone but its owner"),
        ],
        required=False,
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=MAX_REASON,
        help_text="Shown to the owner. Needed to reject.",
    )

    class Meta:
        model = ModerationCase
        fields: list[str] = []

    def clean(self) -> dict:
        data = super().clean()
        if data.get("decision") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", "A rejection needs a reason, which the owner reads.")
        return data


class ModerationEventInline(admin.TabularInline):
    model = ModerationEvent
    fields = ["created_at", "action", "actor", "previous_status", "new_status", "categories", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "audit trail"

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class RejectForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=MAX_REASON)


@admin.register(ModerationCase)
class ModerationCaseAdmin(ImagePreviews, admin.ModelAdmin):
    form = DecisionForm
    list_display = ["preview", "summary", "moderation_status", "appeal", "flagged_for", "owner", "owner_tier",
                    "source", "created_at"]  # fmt: skip
    list_display_links = ["preview", "summary"]
    list_filter = ["moderation_status", AppealFilter, CategoryFilter, "source", "user__tier", "created_at"]
    search_fields = ["id", "title", "prompt", "user__email"]
    list_select_related = ["user"]
    actions = ["approve", "reject"]
    inlines = [ModerationEventInline]
    readonly_fields = ["large_preview", "id", "owner", "owner_tier", "source", "prompt", "title", "visibility",
                       "moderation_status", "flagged_for", "moderation_reason", "appeal_message", "appealed_at",
                       "label_list", "created_at"]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["large_preview", "id", "owner", "owner_tier", "source", "title", "prompt", "visibility"]}),
        (
            "Moderation",
            {
                "fields": [
                    "moderation_status",
                    "flagged_for",
                    "moderation_reason",
                    "appeal_message",
                    "appealed_at",
                    "label_list",
                ]
            },
        ),
        ("Decision", {"fields": ["decision", "reason"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Image]:
        # Held images, and any image a decision was ever made on (approved ones stay findable).
        decided = Exists(ModerationEvent.objects.filter(image=OuterRef("pk")))
        return (
            super()
            .get_queryset(request)
            .filter(~Q(moderation_status=Image.Moderation.OK) | decided)
            .order_by("-appealed_at", "created_at")
        )

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # images are deleted from the Images list, with their files
        return actions

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="image")
    def summary(self, obj: Image) -> str:
        return obj.title or obj.prompt[:60] or obj.original_filename or str(obj.pk)[:8]

    @admin.display(description="appeal", boolean=True)
    def appeal(self, obj: Image) -> bool:
        return obj.appealed_at is not None

    @admin.display(description="flagged for (score)")
    def flagged_for(self, obj: Image) -> str:
        if not obj.moderation_categories:
            return "—"
        scores = obj.moderation_scores or {}
        return format_html_join(
            ", ",
            "{} ({})",
            ((name, f"{scores[name]:.2f}" if name in scores else "—") for name in obj.moderation_categories),
        )

    @admin.display(description="labels")
    def label_list(self, obj: Image) -> str:
        labels = obj.labels or []
        return ", ".join(f"{label['name']} ({label['confidence']:.2f})" for label in labels) or "—"

    @admin.display(description="owner", ordering="user__email")
    def owner(self, obj: Image) -> str:
        return obj.user.email

    @admin.display(description="tier", ordering="user__tier")
    def owner_tier(self, obj: Image) -> str:
        return obj.user.tier

    def save_model(self, request: HttpRequest, obj: Image, form: forms.ModelForm, change: bool) -> None:
        decision = form.cleaned_data.get("decision")
        if not decision:
            return
        images_review(actor=request.user, ids=[obj.pk], decision=decision, reason=form.cleaned_data.get("reason", ""))
        obj.refresh_from_db()

    @admin.action(description="Approve selected images", permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Image]) -> None:
        count = images_review(actor=request.user, ids=list(queryset.values_list("pk", flat=True)), decision="approve")
        self.message_user(request, f"Approved {count} image(s).", messages.SUCCESS)

    @admin.action(description="Reject selected images…", permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet[Image]) -> HttpResponse | None:
        form = RejectForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            ids = list(queryset.values_list("pk", flat=True))
            try:
                count = images_review(
                    actor=request.user, ids=ids, decision="reject", reason=form.cleaned_data["reason"]
                )
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return None
            self.message_user(request, f"Rejected {count} image(s).", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Reject images",
            "opts": self.model._meta,
            "queryset": queryset,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "previews": [(image, thumbnail(image)) for image in queryset.select_related("user")],
        }
        return TemplateResponse(request, "admin/images/moderationcase/reject.html", context)


@admin.register(ModerationEvent)
class ModerationEventAdmin(admin.ModelAdmin):
    """The audit trail: read-only, never edited or deleted here."""

    list_display = ["created_at", "action", "image_link", "actor", "previous_status", "new_status", "categories",
                    "short_reason"]  # fmt: skip
    list_filter = ["action", "new_status", "created_at"]
    search_fields = ["image__id", "actor__email", "reason"]
    list_select_related = ["actor", "image"]
    readonly_fields = ["image", "actor", "action", "previous_status", "new_status", "categories", "reason",
                       "created_at"]  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="image")
    def image_link(self, obj: ModerationEvent) -> str:
        return format_html('<a href="../moderationcase/{}/change/">{}</a>', obj.image_id, str(obj.image_id)[:8])

    @admin.display(description="why")
    def short_reason(self, obj: ModerationEvent) -> str:
        return obj.reason[:80]
