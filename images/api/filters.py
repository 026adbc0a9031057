"""Query filters of the lists: ``GET /images``, ``GET /public/images`` (the gallery pages too), ``GET /generations``.

Every filter validates its value: an unknown ``source``, a bad date or an
unknown ``ordering`` is a 400 naming the parameter, never an empty list.
``ordering`` filters nothing itself: the cursor pagination orders the page
(``ImageCursorPagination``), since a cursor only works on the ordering it
was made with.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.core.validators import MaxLengthValidator
from django.db.models import Exists, OuterRef, QuerySet
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field

from imagegen.errors import Invalid
from images.models import Generation, Image, ImageLabel
from images.services.library import MAX_TAGS
from images.services.search import MAX_QUERY_LENGTH, images_search, search_terms

MAX_TAG_LENGTH = 64
MAX_FILTER_TAGS = 10
# One ``tag`` value: tags separated by commas, each of at most MAX_TAG_LENGTH characters as sent, no NUL.
TAG_VALUE_PATTERN = rf"^[^\x00,]{{0,{MAX_TAG_LENGTH}}}(,[^\x00,]{{0,{MAX_TAG_LENGTH}}})*$"

# ``ordering`` value → the cursor pagination's ordering (id breaks ties).
ORDERINGS: dict[str, tuple[str, ...]] = {
    "-created_at": ("-created_at", "id"),
    "created_at": ("created_at", "id"),
    "-bytes": ("-bytes", "id"),
    "bytes": ("bytes", "id"),
    "title": ("title", "id"),
    "-title": ("-title", "id"),
    "relevance": ("-rank", "id"),  # with q only: images_search's rank
}
DEFAULT_ORDERING = "-created_at"
RELEVANCE = "relevance"


def list_ordering(params: object) -> str:
    """The ``ordering`` a list uses: as asked, else relevance when searching, else newest first.

    Relevance without a search has nothing to rank by: newest first then.
    """
    searching = bool(str(params.get("q") or "").strip())
    ordering = params.get("ordering") or (RELEVANCE if searching else DEFAULT_ORDERING)
    if ordering not in ORDERINGS or (ordering == RELEVANCE and not searching):
        return DEFAULT_ORDERING
    return ordering


# A direct upload's row is not an image yet: it is never a filter value either.
LISTED_PROCESSING = [(value, label) for value, label in Image.Processing.choices if value != "awaiting_upload"]


class TagListField(forms.Field):
    """``?tag=a&tag=b`` (or ``?tag=a,b``): lower-cased, trimmed tag names."""

    widget = forms.MultipleHiddenInput  # reads every value of a repeated parameter

    def to_python(self, value: object) -> list[str]:
        values = value if isinstance(value, list | tuple) else [value] if value else []
        if len(values) > MAX_FILTER_TAGS:  # counted as sent: repeats and blanks too, as the schema counts them
            raise forms.ValidationError(f"at most {MAX_FILTER_TAGS} tags", code="max_length")
        # Each tag is measured as sent, before trimming and lower-casing, as TAG_VALUE_PATTERN measures it.
        sent = [part for item in values for part in str(item).split(",")]
        for part in sent:
            if "\x00" in part:  # PostgreSQL refuses NUL in text: a 500 otherwise
                raise forms.ValidationError("tags cannot contain NUL characters", code="null_characters_not_allowed")
            if len(part) > MAX_TAG_LENGTH:
                # The tag goes in as a parameter: django-filter %-formats messages, and a tag may hold "%".
                raise forms.ValidationError(
                    "tag %(tag)s… is longer than %(limit)s characters",
                    code="max_length",
                    params={"tag": repr(part[:20]), "limit": MAX_TAG_LENGTH},
                )
        return list(dict.fromkeys(name for name in (part.strip().lower() for part in sent) if name))


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, moved to UTC: PostgreSQL refuses offsets past ±15:59 that Python reads."""

    def to_python(self, value: object) -> dt.datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError:
            raise forms.ValidationError("the date-time is out of range", code="invalid") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


@extend_schema_field(
    {
        "type": "array",
        "description": f"Images with every one of these tags (at most {MAX_FILTER_TAGS} values; each may hold "
        f"several, comma-separated, of at most {MAX_TAG_LENGTH} characters each)",
        "maxItems": MAX_FILTER_TAGS,
        "items": {"type": "string", "pattern": TAG_VALUE_PATTERN},
    }
)
class AllTagsFilter(django_filters.Filter):
    """Images that carry every given tag."""

    field_class = TagListField

    def filter(self, qs: QuerySet[Image], value: list[str]) -> QuerySet[Image]:
        if len(value or []) > MAX_TAGS:
            return qs.none()  # no image carries more tags than that: no join needed to know
        # One join per tag: each must match, so only images with all of them remain.
        for name in value or []:
            qs = qs.filter(tags__name=name)
        return qs


class SentTextField(forms.CharField):
    """Text whose ``max_length`` counts it as sent, as the schema's maxLength does; then trimmed as Django does.

    Django checks the trimmed text: 65 characters with a space at an end would pass a limit of 64.
    """

    def clean(self, value: object) -> str:
        if isinstance(value, str) and self.max_length is not None:
            MaxLengthValidator(self.max_length)(value)
        return super().clean(value)


class TextFilter(django_filters.CharFilter):
    """A text filter whose max_length counts the text as sent (see SentTextField)."""

    field_class = SentTextField


class SearchField(SentTextField):
    """``?q=``: words to find; one with no letter or digit in it is refused, not ignored."""

    def clean(self, value: object) -> str:
        value = super().clean(value)
        if value and value.strip():
            try:
                search_terms(value)
            except Invalid as exc:
                raise forms.ValidationError(exc.message, code=exc.code) from None
        return value


# Blank lists everything; otherwise it needs a word: a letter or digit of any script (Python's \w),
# which no pattern states the same way to an OpenAPI reader (a JSON Schema \w is ASCII only).
@extend_schema_field(
    {
        "type": "string",
        "maxLength": MAX_QUERY_LENGTH,
        "pattern": r"^[^\x00]*$",
        "description": "Words to find (prefixes match); blank lists everything. One with no letter or digit is a "
        "400 no_search_terms.",
    }
)
class SearchFilter(TextFilter):
    field_class = SearchField


@extend_schema_field({"type": "string", "format": "uuid"})
class AlbumFilter(django_filters.UUIDFilter):
    """An album's id (a method filter would be typed as any text)."""


def _has_label(name: str) -> Exists:
    # Labels are indexed lower-cased (services/analysis.py); EXISTS keeps one row per image.
    return Exists(ImageLabel.objects.filter(image=OuterRef("pk"), name=name.strip().lower()))


class _SearchMixin:
    def search(self, qs: QuerySet[Image], name: str, value: str) -> QuerySet[Image]:
        if not value.strip():
            return qs
        return images_search(qs, value)

    def labelled(self, qs: QuerySet[Image], name: str, value: str) -> QuerySet[Image]:
        return qs.filter(_has_label(value)) if value.strip() else qs


class ImageFilter(_SearchMixin, django_filters.FilterSet):
    source = django_filters.ChoiceFilter(choices=Image.Source.choices)
    category = TextFilter(max_length=64)
    tag = AllTagsFilter()
    visibility = django_filters.ChoiceFilter(choices=Image.Visibility.choices)
    processing = django_filters.ChoiceFilter(choices=LISTED_PROCESSING)
    favorite = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")], method="filter_favorite", label="Favorites only (true) or not"
    )
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    q = SearchFilter(
        method="search",
        max_length=MAX_QUERY_LENGTH,
        label="Search words in prompt, title, tags and labels (prefixes match)",
    )
    label = TextFilter(
        method="labelled", max_length=100, label="Images with this label (IMAGE_ANALYZER's), case-insensitive"
    )
    ordering = django_filters.ChoiceFilter(
        choices=[(value, value) for value in ORDERINGS],
        method="keep",
        label="Sort order (default: relevance with q, else -created_at)",
    )
    album = AlbumFilter(method="filter_album", label="Only the images of this album of yours")

    class Meta:
        model = Image
        fields = [
            "source", "category", "tag", "visibility", "processing", "created_after", "created_before", "q", "ordering",
            "favorite", "album", "label",
        ]  # fmt: skip

    def keep(self, qs: QuerySet[Image], name: str, value: str) -> QuerySet[Image]:
        return qs  # validated here, applied by ImageCursorPagination

    def filter_album(self, qs: QuerySet[Image], name: str, value: object) -> QuerySet[Image]:
        # The list holds the caller's images only: another user's album matches none of them.
        return qs.filter(album_entries__album_id=value)

    def filter_favorite(self, qs: QuerySet[Image], name: str, value: str) -> QuerySet[Image]:
        return qs.filter(favorite=value == "true")


class PublicImageFilter(_SearchMixin, django_filters.FilterSet):
    category = TextFilter(max_length=64)
    tag = AllTagsFilter()
    q = SearchFilter(
        method="search",
        max_length=MAX_QUERY_LENGTH,
        label="Search words in prompt, title, tags and labels (prefixes match)",
    )
    label = TextFilter(
        method="labelled", max_length=100, label="Images with this label (IMAGE_ANALYZER's), case-insensitive"
    )

    class Meta:
        model = Image
        fields = ["category", "tag", "q", "label"]


class GenerationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Generation.Status.choices)
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Generation
        fields = ["status", "created_after", "created_before"]
