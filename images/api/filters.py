"""Query filters of the lists: ``GET /images``, ``GET /public/images`` (the gallery pages too), ``GET /generations``.

Every filter validates its value: an unknown ``source``, a bad date or an
unknown ``ordering`` is a 400 naming the parameter, never an empty list.
``ordering`` filters nothing itself: the cursor pagination orders the page
(``ImageCursorPagination``), since a cursor only works on the ordering it
was made with.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema_field

from images.models import Generation, Image

MAX_TAG_LENGTH = 64
MAX_FILTER_TAGS = 10

# ``ordering`` value → the cursor pagination's ordering (id breaks ties).
ORDERINGS: dict[str, tuple[str, ...]] = {
    "-created_at": ("-created_at", "id"),
    "created_at": ("created_at", "id"),
    "-bytes": ("-bytes", "id"),
    "bytes": ("bytes", "id"),
    "title": ("title", "id"),
    "-title": ("-title", "id"),
}
DEFAULT_ORDERING = "-created_at"

# A direct upload's row is not an image yet: it is never a filter value either.
LISTED_PROCESSING = [(value, label) for value, label in Image.Processing.choices if value != "awaiting_upload"]


class TagListField(forms.Field):
    """``?tag=a&tag=b`` (or ``?tag=a,b``): lower-cased, trimmed tag names."""

    widget = forms.MultipleHiddenInput  # reads every value of a repeated parameter

    def to_python(self, value: object) -> list[str]:
        values = value if isinstance(value, list | tuple) else [value] if value else []
        names = [part.strip().lower() for item in values for part in str(item).split(",")]
        names = list(dict.fromkeys(name for name in names if name))
        for name in names:
            if "\x00" in name:  # PostgreSQL refuses NUL in text: a 500 otherwise
                raise forms.ValidationError("tags cannot contain NUL characters", code="null_characters_not_allowed")
            if len(name) > MAX_TAG_LENGTH:
                raise forms.ValidationError(
                    f"tag {name[:20]!r}… is longer than {MAX_TAG_LENGTH} characters", code="max_length"
                )
        if len(names) > MAX_FILTER_TAGS:
            raise forms.ValidationError(f"at most {MAX_FILTER_TAGS} tags", code="max_length")
        return names


@extend_schema_field({"type": "array", "items": {"type": "string", "maxLength": MAX_TAG_LENGTH}})
class AllTagsFilter(django_filters.Filter):
    """Images that carry every given tag."""

    field_class = TagListField

    def filter(self, qs: QuerySet[Image], value: list[str]) -> QuerySet[Image]:
        # One join per tag: each must match, so only images with all of them remain.
        for name in value or []:
            qs = qs.filter(tags__name=name)
        return qs


class _SearchMixin:
    def search(self, qs: QuerySet[Image], name: str, value: str) -> QuerySet[Image]:
        value = value.strip()
        if not value:
            return qs
        return qs.filter(Q(title__icontains=value) | Q(prompt__icontains=value))


class ImageFilter(_SearchMixin, django_filters.FilterSet):
    source = django_filters.ChoiceFilter(choices=Image.Source.choices)
    category = django_filters.CharFilter(max_length=64)
    tag = AllTagsFilter()
    visibility = django_filters.ChoiceFilter(choices=Image.Visibility.choices)
    processing = django_filters.ChoiceFilter(choices=LISTED_PROCESSING)
    favorite = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")], method="filter_favorite", label="Favorites only (true) or not"
    )
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="search", max_length=200, label="Search in title and prompt")
    ordering = django_filters.ChoiceFilter(
        choices=[(value, value) for value in ORDERINGS], method="keep", label="Sort order (default -created_at)"
    )
    album = django_filters.UUIDFilter(method="filter_album", label="Only the images of this album of yours")

    class Meta:
        model = Image
        fields = [
            "source", "category", "tag", "visibility", "processing", "created_after", "created_before", "q", "ordering",
            "favorite", "album",
        ]  # fmt: skip

    def keep(self, qs: QuerySet[Image], name: str, value: str) -> QuerySet[Image]:
        return qs  # validated here, applied by ImageCursorPagination

    def filter_album(self, qs: QuerySet[Image], name: str, value: object) -> QuerySet[Image]:
        # The list holds the caller's images only: another user's album matches none of them.
        return qs.filter(album_entries__album_id=value)

    def filter_favorite(self, qs: QuerySet[Image], name: str, value: str) -> QuerySet[Image]:
        return qs.filter(favorite=value == "true")


class PublicImageFilter(_SearchMixin, django_filters.FilterSet):
    category = django_filters.CharFilter(max_length=64)
    tag = AllTagsFilter()
    q = django_filters.CharFilter(method="search", max_length=200, label="Search in title and prompt")

    class Meta:
        model = Image
        fields = ["category", "tag", "q"]


class GenerationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Generation.Status.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Generation
        fields = ["status", "created_after", "created_before"]
