"""Output shapes of generations and images, and the shapes of their inputs (the rules: services/resolver.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from typing import ClassVar, TypeVar

from django.conf import settings
from django.core.validators import RegexValidator
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.utils import html

from imagegen.api.fields import JsonObjectField
from imagegen.api.strict import RejectUnknownFields
from imagegen.errors import Invalid
from images import params
from images.api.representations import IMAGES, ImageRow
from images.models import Generation, Image
from images.providers import configured_providers
from images.services import resolver
from images.services.generations import with_queue_estimates
from images.services.library import MAX_TAG_LENGTH, MAX_TAGS
from images.services.moderation import moderation_summary
from images.services.relocation import published
from images.services.uploads import DIRECT_UPLOAD_TYPES, MAX_FILES
from images.storage import FileUrls
from images.styles import STYLES


def iso_datetime(value: object, tz: tzinfo | None = None) -> str | None:
    """A datetime as DRF's ``DateTimeField`` writes it: ISO 8601 in the current time zone (or ``tz``), ``Z`` for UTC."""
    if value is None:
        return None
    if timezone.is_aware(value):
        value = value.astimezone(tz or timezone.get_current_timezone())
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def absolute(url: str, context: dict) -> str:
    """Local media URLs are relative: make them absolute from the request, or PUBLIC_BASE_URL outside one."""
    return f"{_absolute_base(context)}{url}" if url.startswith("/") else url


def _absolute_base(context: dict) -> str:
    base = context.get("_absolute_base")
    if base is None:
        # Once per answer, not once per URL: a page of 50 images carries 250 of them.
        request = context.get("request")
        base = request.build_absolute_uri("/")[:-1] if request is not None else settings.PUBLIC_BASE_URL
        context["_absolute_base"] = base
    return base


# What an image's representation reads. The lists select these columns (``values()``)
# instead of building a model instance per row; ``tag_names`` comes from library.with_tag_names.
IMAGE_ROW_FIELDS = (
    "id", "source", "generation_id", "title", "prompt", "width", "height", "format", "content_type", "bytes",
    "sha256", "storage_key", "variants", "dominant_color", "exif", "tag_names", "category", "visibility",
    "processing", "is_hidden", "created_at", "favorite", "background",
    # Analysis and moderation (services/analysis.py, services/moderation.py).
    "labels", "moderation_status", "moderation_categories", "moderation_reason", "appealed_at",
)  # fmt: skip


def image_row(image: Image) -> dict:
    """The values of ``image`` that its representation reads, as a list's ``values()`` row holds them."""
    row = {name: getattr(image, name) for name in IMAGE_ROW_FIELDS if name != "tag_names"}
    # tag_names: read with the row by library.with_tag_names (None: no tags), else from the relation.
    row["tag_names"] = image.tag_names if hasattr(image, "tag_names") else [tag.name for tag in image.tags.all()]
    return row


class _Answer:
    """What the images of one answer share (its time zone, how it makes file URLs absolute), read once.

    Made by the first image serialized and kept in the serializer's context.
    """

    def __init__(self, context: dict) -> None:
        self.timezone = timezone.get_current_timezone()
        self._base = _absolute_base(context)
        self._file_url = FileUrls()
        # Everything an image's representation depends on besides its row (images.api.representations).
        self.fingerprint = (self._base, self.timezone, self._file_url.fingerprint)

    def url(self, key: str, public: bool) -> str:
        url = self._file_url(key, public=public)
        return f"{self._base}{url}" if url.startswith("/") else url


def _answer_of(context: dict) -> _Answer:
    answer = context.get("_answer")
    if answer is None:
        answer = context["_answer"] = _Answer(context)
    return answer


def answer_fingerprint(context: dict) -> tuple:
    """What an answer's representations depend on besides their rows (``_Answer.fingerprint``)."""
    return _answer_of(context).fingerprint


class LabelSerializer(serializers.Serializer):
    """One label of an image (``IMAGE_ANALYZER``), most confident first."""

    name = serializers.CharField(max_length=100)
    confidence = serializers.FloatField(min_value=0, max_value=1)


class ModerationSerializer(serializers.Serializer):
    """Where moderation stands on an image; only ``ok`` images are seen by anyone but their owner."""

    status = serializers.ChoiceField(choices=Image.Moderation.choices)
    categories = serializers.ListField(child=serializers.CharField(), help_text="What it was flagged for")
    reason = serializers.CharField(allow_null=True, help_text="Staff's reason for their decision")
    appealed = serializers.BooleanField(help_text="The owner has appealed (an image is appealed once)")


class ImageSerializer(serializers.ModelSerializer):
    """An image, from a model instance or from a row of ``IMAGE_ROW_FIELDS`` (what the lists hand it)."""

    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    variants = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    generation = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    exif = serializers.DictField(read_only=True, help_text="EXIF of the original, GPS removed.")
    background = serializers.ChoiceField(
        choices=params.RENDERED_BACKGROUNDS,
        read_only=True,
        help_text='A generated image\'s background as rendered; "" for uploads',
    )
    labels = serializers.SerializerMethodField()
    moderation = serializers.SerializerMethodField()

    class Meta:
        model = Image
        fields = [
            "id", "source", "generation", "title", "prompt", "width", "height", "format", "content_type",
            "bytes", "sha256", "url", "thumbnail_url", "variants", "dominant_color", "exif", "tags", "category",
            "visibility", "processing", "created_at", "favorite", "background", "labels", "moderation",
        ]  # fmt: skip
        read_only_fields = fields

    def _answer(self) -> _Answer:
        # Kept on the serializer too: DRF's ``context`` walks up to the root serializer on every
        # read, twice per image of a page (a fifth of the page's representation).
        answer = self.__dict__.get("_answer_of_context")
        if answer is None:
            answer = self._answer_of_context = _answer_of(self.context)
        return answer

    def _files(self, row: dict) -> tuple[str | None, str | None, dict]:
        """``url``, ``thumbnail_url`` and ``variants`` of an image's row."""
        # Until the worker has re-encoded an upload, its stored file is the raw
        # upload (EXIF with GPS and all): it is never handed out.
        if row["processing"] != Image.Processing.READY:
            return None, None, {}
        urls = self._answer().url
        public = published(
            visibility=row["visibility"],
            is_hidden=row["is_hidden"],
            processing=row["processing"],
            moderation_status=row["moderation_status"],
        )
        stored = row["variants"]
        thumb = stored.get("thumb_256") or stored.get("thumb_768")
        variants = {
            name: {
                "url": urls(v["key"], public),
                "width": v.get("width"),
                "height": v.get("height"),
                "format": v.get("format"),
                "bytes": v.get("bytes"),
            }
            for name, v in stored.items()
        }
        return (
            urls(row["storage_key"], public) if row["storage_key"] else None,
            urls(thumb["key"], public) if thumb else None,
            variants,
        )

    def get_url(self, obj: Image) -> str | None:
        return self._files(image_row(obj))[0]

    def get_thumbnail_url(self, obj: Image) -> str | None:
        return self._files(image_row(obj))[1]

    @extend_schema_field(
        {
            "type": "object",
            "description": "By name: thumb_256, thumb_768, webp. Empty until processing is ready.",
            "additionalProperties": {
                "type": "object",
                "required": ["url", "width", "height", "format", "bytes"],
                "properties": {
                    "url": {"type": "string", "format": "uri"},
                    "width": {"type": "integer", "nullable": True},
                    "height": {"type": "integer", "nullable": True},
                    "format": {"type": "string", "nullable": True},
                    "bytes": {"type": "integer", "nullable": True},
                },
            },
        }
    )
    def get_variants(self, obj: Image) -> dict:
        return self._files(image_row(obj))[2]

    def get_tags(self, obj: Image) -> list[str]:
        return sorted(image_row(obj)["tag_names"] or [])

    @extend_schema_field(LabelSerializer(many=True))
    def get_labels(self, obj: Image) -> list[dict]:
        return image_row(obj)["labels"] or []

    @extend_schema_field(ModerationSerializer)
    def get_moderation(self, obj: Image) -> dict:
        return moderation_summary(image_row(obj))

    def to_representation(self, obj: Image | dict) -> dict:
        if isinstance(obj, ImageRow):
            return IMAGES.get_or_make((self._answer().fingerprint, obj.key), lambda: self._represent(obj.converted()))
        return self._represent(obj if isinstance(obj, dict) else image_row(obj))

    def _represent(self, row: dict) -> dict:
        # Written out: the per-field path of DRF costs more than the query on every list
        # row. The declared fields stay for the schema; a test checks both agree.
        url, thumbnail_url, variants = self._files(row)
        generation_id = row["generation_id"]
        return {
            "id": str(row["id"]),
            "source": row["source"],
            "generation": str(generation_id) if generation_id else None,
            "title": row["title"],
            "prompt": row["prompt"],
            "width": row["width"],
            "height": row["height"],
            "format": row["format"],
            "content_type": row["content_type"],
            "bytes": row["bytes"],
            "sha256": row["sha256"],
            "url": url,
            "thumbnail_url": thumbnail_url,
            "variants": variants,
            "dominant_color": row["dominant_color"],
            "exif": row["exif"],
            "tags": sorted(row["tag_names"] or []),
            "category": row["category"],
            "visibility": row["visibility"],
            "processing": row["processing"],
            "created_at": iso_datetime(row["created_at"], self._answer().timezone),
            "favorite": row["favorite"],
            "background": row["background"],
            "labels": row["labels"] or [],
            "moderation": moderation_summary(row),
        }


class GenerationErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. provider_error, deadline_exceeded.")
    message = serializers.CharField(help_text="Human-readable explanation.")


class GenerationSerializer(serializers.ModelSerializer):
    # The declared types are the schema's (to_representation writes the values itself).
    images = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    queue_position = serializers.SerializerMethodField()
    duration_ms = serializers.IntegerField(read_only=True, allow_null=True, help_text="null until it has ended.")
    quality = serializers.CharField(read_only=True, help_text="As asked; empty for the provider's default.")
    reference_images = serializers.ListField(child=serializers.UUIDField(), read_only=True)
    reference_image_urls = serializers.ListField(child=serializers.CharField(), read_only=True)
    webhook_url = serializers.CharField(read_only=True, help_text="Empty when no webhook was asked for.")
    webhook_events = serializers.ListField(child=serializers.ChoiceField(choices=params.WEBHOOK_EVENTS), read_only=True)
    metadata = serializers.DictField(read_only=True, help_text="The client's own object, as sent.")
    output_format = serializers.ChoiceField(choices=params.OUTPUT_FORMATS, read_only=True)
    output_compression = serializers.IntegerField(min_value=0, max_value=100, read_only=True, allow_null=True)
    background = serializers.ChoiceField(choices=params.BACKGROUNDS, read_only=True)
    eta_seconds = serializers.SerializerMethodField()
    deadline_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Generation
        fields = [
            "id", "status", "progress", "prompt", "negative_prompt", "style", "width", "height", "n", "seed",
            "provider", "model", "quality", "strength", "reference_images", "reference_image_urls", "images",
            "error", "metadata", "webhook_url", "webhook_events", "queue_position", "eta_seconds", "deadline_at",
            "created_at", "started_at", "finished_at", "duration_ms", "output_format", "output_compression",
            "background",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(ImageSerializer(many=True))
    def get_images(self, obj: Generation) -> list[dict]:
        images = getattr(obj, "image_list", None)  # read with the row by generation_detail
        if images is None:
            images = sorted(obj.images.all(), key=lambda image: image.index or 0)
        serializer = ImageSerializer(context=self.context)
        return [serializer.to_representation(image) for image in images]

    @extend_schema_field(GenerationErrorSerializer(allow_null=True))
    def get_error(self, obj: Generation) -> dict | None:
        if obj.status == Generation.Status.FAILED or obj.error_code:
            return {"code": obj.error_code or "failed", "message": obj.error_message}
        return None

    def _queue_estimate(self, obj: Generation) -> tuple[int | None, int | None]:
        if obj.status != Generation.Status.QUEUED:
            return None, None
        if not hasattr(obj, "queue_position"):  # set with the rows by the services; else read now
            with_queue_estimates(user=obj.user, generations=[obj])
        return obj.queue_position, obj.eta_seconds

    def get_queue_position(self, obj: Generation) -> int | None:
        """Where the fair queue puts this job (1 = next to start); null unless queued."""
        return self._queue_estimate(obj)[0]

    def get_eta_seconds(self, obj: Generation) -> int | None:
        """Seconds until this queued job should be done (recent runs of its provider and size); null unless queued."""
        return self._queue_estimate(obj)[1]

    def to_representation(self, obj: Generation) -> dict:
        # Written out, like ImageSerializer's: a status poll renders one of these per request.
        return {
            "id": str(obj.id),
            "status": obj.status,
            "progress": obj.progress,
            "prompt": obj.prompt,
            "negative_prompt": obj.negative_prompt,
            "style": obj.style,
            "width": obj.width,
            "height": obj.height,
            "n": obj.n,
            "seed": obj.seed,
            "provider": obj.provider,
            "model": obj.model,
            "quality": obj.quality,
            "strength": obj.strength,
            "reference_images": obj.reference_images,
            "reference_image_urls": obj.reference_image_urls,
            "images": self.get_images(obj),
            "error": self.get_error(obj),
            "metadata": obj.metadata,
            "webhook_url": obj.webhook_url,
            "webhook_events": obj.webhook_events,
            "queue_position": self.get_queue_position(obj),
            "eta_seconds": self.get_eta_seconds(obj),
            "deadline_at": iso_datetime(obj.deadline_at),
            "created_at": iso_datetime(obj.created_at),
            "started_at": iso_datetime(obj.started_at),
            "finished_at": iso_datetime(obj.finished_at),
            "duration_ms": obj.duration_ms,
            "output_format": obj.output_format,
            "output_compression": obj.output_compression,
            "background": obj.background,
        }


T = TypeVar("T")


def _rule(check: Callable[[T], T], value: T) -> T:
    """One of the resolver's rules as a field's validation (its message, its code)."""
    try:
        return check(value)
    except Invalid as exc:
        raise serializers.ValidationError(exc.message, code=exc.code) from None


def _choice_field(choices: object, name: str, **kwargs: object) -> serializers.ChoiceField:
    """A choice whose refusal lists the valid values, as the resolver's does."""
    valid = ", ".join(str(choice) for choice in choices)
    message = f"{{input!r}} is not a valid {name}; valid values: {valid}"
    kwargs.setdefault("required", False)
    return serializers.ChoiceField(choices=list(choices), error_messages={"invalid_choice": message}, **kwargs)


# A host name (letters, digits, dots, hyphens), an optional port, then anything without spaces.
WEBHOOK_URL_PATTERN = r"^https://[A-Za-z0-9][A-Za-z0-9.-]*(?::[0-9]{1,5})?(?:[/?#][!-~]*)?$"
# A reference image's URL: a domain name with a letters-only top-level domain (never an IP
# literal), a port from 1 to 9999, a path and query of printable ASCII.
REFERENCE_URL_PATTERN = (
    r"^https://(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,4}[a-z]{2,24}(?::[1-9][0-9]{0,3})?(?:/[!-~]*)?$"
)

SIZE_HINT = 'give size as "WxH" (e.g. "512x512") or aspect_ratio + resolution'


class GenerationCreateSerializer(RejectUnknownFields):
    unknown_field_hints: ClassVar[dict[str, str]] = {
        "width": SIZE_HINT,
        "height": SIZE_HINT,
        "num_images": "the number of images is n",
        "images": "reference images are reference_images (uploaded image ids) or reference_image_urls",
    }

    prompt = serializers.CharField(max_length=params.MAX_PROMPT, trim_whitespace=True)
    negative_prompt = serializers.CharField(
        max_length=params.MAX_PROMPT, required=False, allow_blank=True, trim_whitespace=True, default=""
    )
    style = _choice_field(STYLES, "style", allow_blank=True, default="")
    size = _choice_field(params.SIZES, "size")
    aspect_ratio = _choice_field(params.ASPECT_RATIOS, "aspect_ratio")
    resolution = _choice_field(params.RESOLUTIONS, "resolution")
    n = serializers.IntegerField(min_value=1, max_value=params.MAX_N, default=1)
    seed = serializers.IntegerField(min_value=0, max_value=params.MAX_SEED, required=False, allow_null=True)
    # Choices: the configured providers and their models, set per instance (settings may change).
    provider = serializers.ChoiceField(choices=[], required=False, allow_blank=True, default="")
    model = serializers.ChoiceField(choices=[], required=False, allow_blank=True, default="")
    quality = serializers.ChoiceField(choices=params.QUALITIES, required=False, allow_blank=True, default="")
    strength = serializers.FloatField(
        min_value=0.0,
        max_value=1.0,
        required=False,
        allow_null=True,
        help_text="Only with reference_images or reference_image_urls.",
    )
    reference_images = serializers.ListField(
        child=serializers.UUIDField(),
        max_length=params.MAX_REFERENCES,
        required=False,
        default=list,
        help_text="Ids of the caller's own images.",
    )
    reference_image_urls = serializers.ListField(
        child=serializers.CharField(max_length=2000),
        max_length=params.MAX_REFERENCES,
        required=False,
        default=list,
        help_text="https URLs of public hosts, fetched by the worker.",
    )
    webhook_url = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        default="",
        max_length=2000,
        help_text="An https URL; blank for none.",
    )
    webhook_events = serializers.ListField(
        child=serializers.ChoiceField(choices=params.WEBHOOK_EVENTS),
        required=False,
        default=list,
        help_text="Only with webhook_url; all events when omitted.",
    )
    metadata = JsonObjectField(
        required=False,
        default=dict,
        help_text=f"At most {params.MAX_METADATA_BYTES} bytes as JSON (non-ASCII counted as \\u escapes); no NUL.",
    )
    output_format = serializers.ChoiceField(
        choices=params.OUTPUT_FORMATS, default=params.DEFAULT_OUTPUT_FORMAT, help_text="Format of the stored originals"
    )
    output_compression = serializers.IntegerField(
        min_value=0, max_value=100, required=False, allow_null=True, help_text="Quality 0-100; jpeg and webp only"
    )
    background = serializers.ChoiceField(
        choices=params.BACKGROUNDS, default="auto", help_text="transparent needs output_format png or webp"
    )

    dry_run = serializers.BooleanField(
        required=False, default=False, help_text="Validate and estimate only: nothing is created or counted"
    )
    deadline_seconds = serializers.IntegerField(
        min_value=1,
        max_value=settings.GENERATION_MAX_DEADLINE_SECONDS,
        required=False,
        allow_null=True,
        help_text="Cancel the job if it has not ended this many seconds after it was queued (or header Cancel-After)",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # The shape of the URLs the resolver takes, stated (and checked) as a pattern;
        # the resolver still checks what a pattern cannot (private addresses, DNS).
        scheme = "https?" if settings.DEBUG else "https"
        self.fields["webhook_url"].validators.append(
            RegexValidator(WEBHOOK_URL_PATTERN.replace("https", scheme, 1), "must be an https URL", code="invalid")
        )
        self.fields["reference_image_urls"].child.validators.append(
            RegexValidator(REFERENCE_URL_PATTERN, "must be an https URL of a public host name", code="invalid_url")
        )
        providers = configured_providers()
        choices = {
            "provider": list(providers),
            "model": list(dict.fromkeys(m for p in providers.values() for m in p.models())),
        }
        for name, valid in choices.items():
            field = self.fields[name]
            field.choices = valid
            field.error_messages["invalid_choice"] = (
                f"{{input!r}} is not a valid {name}; valid values: {', '.join(valid)}"
            )

    def amend_openapi(self, schema: dict) -> None:
        """The rules between fields that ``resolver.generation_params`` checks, as one ``not``."""
        providers = configured_providers()
        default = next(iter(providers))
        non_empty = {"minItems": 1}
        has_references = {
            "anyOf": [
                {"required": ["reference_images"], "properties": {"reference_images": non_empty}},
                {"required": ["reference_image_urls"], "properties": {"reference_image_urls": non_empty}},
            ]
        }
        refused = [
            {"required": ["size", "aspect_ratio"]},
            {"required": ["size", "resolution"]},
            {"required": ["resolution"], "not": {"required": ["aspect_ratio"]}},
            {"required": ["strength"], "properties": {"strength": {"type": "number"}}, "not": has_references},
            {
                "required": ["webhook_events"],
                "properties": {"webhook_events": non_empty},
                "not": {"required": ["webhook_url"], "properties": {"webhook_url": {"minLength": 1}}},
            },
            # Compression only for jpeg and webp (the default format is png).
            {
                "required": ["output_compression"],
                "properties": {"output_compression": {"type": "integer"}},
                "not": {"required": ["output_format"], "properties": {"output_format": {"enum": ["jpeg", "webp"]}}},
            },
            # A transparent background only in a format with alpha.
            {
                "required": ["background", "output_format"],
                "properties": {"background": {"enum": ["transparent"]}, "output_format": {"enum": ["jpeg"]}},
            },
            # A model of another provider than the one named (or the default).
            {
                "required": ["model"],
                "properties": {
                    "provider": {"enum": [""]},
                    "model": {"not": {"enum": ["", *providers[default].models()]}},
                },
            },
            *(
                {
                    "required": ["provider", "model"],
                    "properties": {"provider": {"enum": [name]}, "model": {"not": {"enum": ["", *p.models()]}}},
                }
                for name, p in providers.items()
            ),
        ]
        schema["not"] = {"anyOf": refused}
        schema["description"] = (
            "Besides each field's rules: size, or aspect_ratio (with an optional resolution), not both; "
            "strength only with reference images; webhook_events only with a webhook_url; "
            "output_compression only with output_format jpeg or webp; a transparent background not with jpeg; "
            "model one of the provider's (the default provider's when none is named)."
        )

    def validate_style(self, value: str) -> str:
        return _rule(resolver.check_style, value)

    def validate_reference_image_urls(self, value: list[str]) -> list[str]:
        return _rule(resolver.check_reference_urls, value)

    def validate_webhook_url(self, value: str) -> str:
        return _rule(resolver.check_webhook_url, value)

    def validate_metadata(self, value: dict) -> dict:
        return _rule(resolver.check_metadata, value)

    def validate(self, attrs: dict) -> dict:
        try:
            generation = resolver.generation_params(
                prompt=attrs["prompt"],
                negative_prompt=attrs["negative_prompt"],
                style=attrs["style"],
                size=attrs.get("size"),
                aspect_ratio=attrs.get("aspect_ratio"),
                resolution=attrs.get("resolution"),
                n=attrs["n"],
                seed=attrs.get("seed"),
                provider=attrs["provider"],
                model=attrs["model"],
                quality=attrs["quality"],
                strength=attrs.get("strength"),
                reference_images=attrs["reference_images"],
                reference_image_urls=attrs["reference_image_urls"],
                webhook_url=attrs["webhook_url"],
                webhook_events=attrs["webhook_events"],
                metadata=attrs["metadata"],
                output_format=attrs["output_format"],
                output_compression=attrs.get("output_compression"),
                background=attrs["background"],
            )
        except Invalid as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}, code=exc.code) from None
        return {"params": generation, "dry_run": attrs["dry_run"], "deadline_seconds": attrs.get("deadline_seconds")}


class DryRunQuotaSerializer(serializers.Serializer):
    daily_limit = serializers.IntegerField(allow_null=True, help_text="null: unlimited")
    used_today = serializers.IntegerField()
    remaining_after = serializers.IntegerField(allow_null=True, help_text="null: unlimited")


class DryRunSerializer(serializers.Serializer):
    """What ``dry_run: true`` answers: the job as it would be queued, its estimate and its effect on the quota."""

    dry_run = serializers.BooleanField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    n = serializers.IntegerField()
    provider = serializers.CharField()
    model = serializers.CharField()
    estimated_seconds = serializers.IntegerField(help_text="Until done if queued now: the wait and the run")
    quota = DryRunQuotaSerializer()

    def to_representation(self, dry_run) -> dict:
        params = dry_run.params
        return {
            "dry_run": True,
            "width": params.width,
            "height": params.height,
            "n": params.n,
            "provider": params.provider,
            "model": params.model,
            "estimated_seconds": dry_run.estimated_seconds,
            "quota": {
                "daily_limit": dry_run.daily_limit,
                "used_today": dry_run.used_today,
                "remaining_after": dry_run.remaining_after,
            },
        }


# --- Images API: inputs and small output shapes ----------------------------------------


# One tag: no comma, no NUL, at most MAX_TAG_LENGTH characters; a string holds up to MAX_TAGS of them.
_TAG = rf"[^,\x00]{{0,{MAX_TAG_LENGTH}}}"


@extend_schema_field(
    {
        "oneOf": [
            {
                "type": "string",
                "description": f"Comma-separated, at most {MAX_TAGS} tags of at most {MAX_TAG_LENGTH} characters",
                "pattern": rf"^{_TAG}(?:,{_TAG}){{0,{MAX_TAGS - 1}}}$",
            },
            {
                "type": "array",
                "description": "One tag per item",
                "maxItems": MAX_TAGS,
                "items": {"type": "string", "pattern": rf"^{_TAG}$"},
            },
        ]
    }
)
class TagsField(serializers.Field):
    """Tags as a comma-separated string, a list of strings (one tag each), or (multipart) a repeated field.

    Only the shape is checked here; ``images.services.library.clean_tags``
    trims, lower-cases and limits them. A form's repeated values may each hold
    several comma-separated tags (a text input); a JSON list holds one tag per item.
    """

    default_error_messages = {
        "invalid": "tags must be a comma-separated string or a list of strings",
        "null_characters_not_allowed": "tags cannot contain NUL characters",
        "comma_in_item": "each item of a tags list is one tag, without commas",
    }

    def get_value(self, dictionary: object) -> object:
        if html.is_html_input(dictionary):  # multipart: every value of a repeated field
            self._from_form = True
            return dictionary.getlist(self.field_name) if self.field_name in dictionary else empty
        return dictionary.get(self.field_name, empty)

    def to_internal_value(self, data: object) -> list[str]:
        values = [data] if isinstance(data, str) else data
        if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
            self.fail("invalid")
        if any("\x00" in value for value in values):  # PostgreSQL refuses NUL in text
            self.fail("null_characters_not_allowed")
        if isinstance(data, list) and not getattr(self, "_from_form", False) and any("," in v for v in values):
            self.fail("comma_in_item")
        return values

    def to_representation(self, value: list[str]) -> list[str]:
        return list(value)


class ImageUploadInputSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(allow_empty_file=False), allow_empty=False, min_length=1)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    category = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    tags = TagsField(required=False, default=list)
    visibility = serializers.ChoiceField(choices=Image.Visibility.choices, default=Image.Visibility.PRIVATE)

    def amend_openapi(self, schema: dict) -> None:
        """What ``image_upload`` checks (400 ``too_many_files``), for the schema."""
        schema["properties"]["files"]["maxItems"] = MAX_FILES


class ImageUpdateInputSerializer(RejectUnknownFields):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    category = serializers.CharField(max_length=64, required=False, allow_blank=True)
    tags = TagsField(required=False)
    visibility = serializers.ChoiceField(choices=Image.Visibility.choices, required=False)
    favorite = serializers.BooleanField(required=False)

    def tolerated_fields(self) -> set[str]:
        return set(ImageSerializer().fields)


class DirectUploadInputSerializer(RejectUnknownFields):
    filename = serializers.CharField(max_length=255)
    content_type = serializers.CharField(max_length=100, help_text="The file's type (case-insensitive).")
    bytes = serializers.IntegerField(
        min_value=1, help_text="Size of the file to upload; over MAX_UPLOAD_BYTES is a 413."
    )

    def amend_openapi(self, schema: dict) -> None:
        """What ``direct_upload_create`` checks, for the schema."""
        properties = schema["properties"]
        properties["content_type"] = {**properties["content_type"], "enum": list(DIRECT_UPLOAD_TYPES)}
        properties["content_type"].pop("pattern", None)
        properties["bytes"]["maximum"] = settings.MAX_UPLOAD_BYTES


class BulkDeleteInputSerializer(RejectUnknownFields):
    ids = serializers.ListField(child=serializers.UUIDField(), allow_empty=False, min_length=1, max_length=100)


class ImageListSerializer(serializers.Serializer):
    images = ImageSerializer(many=True)


class UploadTargetSerializer(serializers.Serializer):
    url = serializers.URLField()
    method = serializers.ChoiceField(choices=["POST", "PUT"])
    fields = serializers.DictField(
        child=serializers.CharField(), required=False, help_text="POST: form fields to send before the file"
    )
    headers = serializers.DictField(child=serializers.CharField(), required=False, help_text="PUT: headers to send")


class DirectUploadSerializer(serializers.Serializer):
    image_id = serializers.UUIDField()
    upload = UploadTargetSerializer()
    expires_in = serializers.IntegerField(help_text="Seconds the upload URL stays valid")


class BulkDeleteResultSerializer(serializers.Serializer):
    deleted = serializers.ListField(child=serializers.UUIDField())
    not_found = serializers.ListField(child=serializers.UUIDField())
