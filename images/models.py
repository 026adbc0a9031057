"""Generations (jobs) and images (their outputs, and uploads).

A generation's row is the source of truth for its state: broker messages may
be lost, duplicated or redelivered, and the job still ends exactly once.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.db import models
from django.db.models import Q

from imagegen.fields import JSONField


class Generation(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELED = "canceled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generations")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)

    prompt = models.TextField()
    negative_prompt = models.TextField(blank=True)
    style = models.CharField(max_length=32, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    n = models.PositiveSmallIntegerField(default=1)
    seed = models.BigIntegerField()
    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=100, blank=True)
    strength = models.FloatField(null=True, blank=True)
    quality = models.CharField(max_length=16, blank=True)
    # Ids of the caller's own images, and https URLs fetched by the worker.
    reference_images = JSONField(default=list, blank=True)
    reference_image_urls = JSONField(default=list, blank=True)
    webhook_url = models.URLField(max_length=2000, blank=True)
    webhook_events = JSONField(default=list, blank=True)
    metadata = JSONField(default=dict, blank=True)

    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 - NULL = no key, outside the unique constraint
    request_fingerprint = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # The outbox (images/services/publishing.py): a queued job with ``published_at`` NULL and
    # ``publish_retry_at`` set is owed a broker message, re-sent from that time on.
    published_at = models.DateTimeField(null=True, blank=True)
    publish_attempts = models.PositiveIntegerField(default=0)  # failed publishes: the backoff grows with it
    publish_retry_at = models.DateTimeField(null=True, blank=True)
    # The output asked for (SPEC §6): the stored originals are in this format.
    output_format = models.CharField(max_length=8, default="png")
    output_compression = models.PositiveSmallIntegerField(null=True, blank=True)
    background = models.CharField(max_length=16, default="auto")
    # OpenAI-compatible options with no column of their own: partial_images, input_fidelity,
    # moderation, mask_key (an edit's mask in storage).
    options = JSONField(default=dict, blank=True)
    # Intermediate frames the worker published while rendering, for streams to send:
    # [{"index", "partial_image_index", "key", "content_type"}] (images/services/partials.py).
    partial_frames = JSONField(default=list, blank=True)
    # Tokens the provider reported ({input_tokens, output_tokens, ...}); empty when it reports none.
    usage = JSONField(default=dict, blank=True)
    # The fair queue (images/services/scheduling.py): a queued job waiting for its user's turn has no message yet.
    held = models.BooleanField(default=False)
    # Cancel-After / deadline_seconds: not ended by then, it is canceled (images/services/deadlines.py).
    deadline_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="gen_user_created"),
            models.Index(fields=["user", "status", "-created_at"], name="gen_user_status_created"),
            models.Index(fields=["status", "enqueued_at"], name="gen_status_enqueued"),
            # queue_position: the queued generations created before one.
            models.Index(fields=["status", "created_at"], name="gen_status_created"),
            models.Index(fields=["status", "heartbeat_at"], name="gen_status_heartbeat"),
            # The few jobs owed a message, polled every PUBLISH_RETRY_INTERVAL s.
            models.Index(
                fields=["publish_retry_at"],
                condition=Q(status="queued", published_at__isnull=True),
                name="gen_owed_message",
            ),
            models.Index(
                fields=["user", "created_at"],
                condition=Q(status="queued", held=True),
                name="gen_held_user_created",
            ),
            models.Index(fields=["deadline_at"], condition=Q(deadline_at__isnull=False), name="gen_deadline"),
            # The jobs in flight, counted by the fair queue's admission on every creation, among the
            # many held ones. (SQLite matches a partial index's terms, not IN lists of parameters.)
            models.Index(fields=["status"], condition=Q(held=False), name="gen_in_flight"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="gen_user_idempotency_key_unique",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="gen_progress_max_100"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.finished_at:
            return int((self.finished_at - self.started_at).total_seconds() * 1000)
        return None


class Tag(models.Model):
    name = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def image_search_vector() -> SearchVector:
    """What full-text search reads of an image (images/services/search.py), and the GIN index ``img_search`` holds.

    The index exists on PostgreSQL only, made by migration 0008 outside the models' state: declared
    in ``Meta.indexes``, every later SQLite table rebuild of images would try to build it there.
    """
    return SearchVector("title", weight="A", config="english") + SearchVector("prompt", weight="B", config="english")


class ImageQuerySet(models.QuerySet):
    def listed(self) -> ImageQuerySet:
        """The images that count as someone's: a direct upload whose file never came does not."""
        return self.exclude(processing=Image.Processing.AWAITING_UPLOAD)

    def visible_to_others(self) -> ImageQuerySet:
        """The images anyone but their owner may see at all: ready, not hidden by staff, and not held
        back by moderation (``pending_review`` or ``rejected``).

        Public lists and every link (``viewable_by_link``) start from here; owners see their own
        images through their own querysets.
        """
        return self.filter(is_hidden=False, processing=Image.Processing.READY, moderation_status=Image.Moderation.OK)

    def viewable_by_link(self) -> ImageQuerySet:
        """The images a link may show to anyone (unlisted pages, share links, their ZIPs): whatever
        others may see (``visible_to_others``), whichever its visibility.
        """
        return self.visible_to_others()


class Image(models.Model):
    """One stored original (generated or uploaded) and the derivatives made from it."""

    class Source(models.TextChoices):
        GENERATED = "generated"
        UPLOADED = "uploaded"

    class Visibility(models.TextChoices):
        PRIVATE = "private"
        UNLISTED = "unlisted"
        PUBLIC = "public"

    class Processing(models.TextChoices):
        # A direct upload's row exists before its file; it is never listed
        # until completed, and is swept if never completed.
        AWAITING_UPLOAD = "awaiting_upload"
        PENDING = "pending"
        READY = "ready"
        FAILED = "failed"

    class Moderation(models.TextChoices):
        OK = "ok"
        PENDING_REVIEW = "pending_review"
        REJECTED = "rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images")
    source = models.CharField(max_length=16, choices=Source.choices)
    generation = models.ForeignKey(Generation, on_delete=models.SET_NULL, null=True, blank=True, related_name="images")
    index = models.PositiveSmallIntegerField(null=True, blank=True)

    title = models.CharField(max_length=200, blank=True)
    prompt = models.TextField(blank=True)
    original_filename = models.CharField(max_length=255, blank=True)

    storage_key = models.CharField(max_length=500)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    format = models.CharField(max_length=16, blank=True)
    content_type = models.CharField(max_length=64, blank=True)
    bytes = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    # {name: {"key", "width", "height", "format", "content_type", "bytes"}}
    variants = JSONField(default=dict, blank=True)
    dominant_color = models.CharField(max_length=7, blank=True)
    exif = JSONField(default=dict, blank=True)

    tags = models.ManyToManyField(Tag, blank=True, related_name="images")
    category = models.CharField(max_length=64, blank=True)
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE)
    processing = models.CharField(max_length=16, choices=Processing.choices, default=Processing.PENDING)
    processing_error = models.TextField(blank=True)
    is_hidden = models.BooleanField(default=False, help_text="Hidden by staff: not shown publicly.")
    favorite = models.BooleanField(default=False)
    # A generated image's background as rendered: "transparent" or "opaque" ("" for uploads).
    background = models.CharField(max_length=16, blank=True)

    # Analysis and moderation (images/services/analysis.py, moderation.py). ``labels`` is what
    # the API shows ([{name, confidence}]); ImageLabel rows index the same names for ``?label=``.
    labels = JSONField(default=list, blank=True)
    analyzed_at = models.DateTimeField(null=True, blank=True)
    moderated_at = models.DateTimeField(null=True, blank=True)
    moderation_status = models.CharField(max_length=16, choices=Moderation.choices, default=Moderation.OK)
    moderation_categories = JSONField(default=list, blank=True)
    moderation_scores = JSONField(default=dict, blank=True)  # {category: 0..1} as the provider said
    moderation_reason = models.TextField(blank=True)  # staff's words to the owner
    appeal_message = models.TextField(blank=True)
    appealed_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="img_user_created"),
            models.Index(fields=["user", "source", "-created_at"], name="img_user_source_created"),
            models.Index(fields=["user", "category"], name="img_user_category"),
            models.Index(fields=["visibility", "-created_at"], name="img_visibility_created"),
            models.Index(fields=["processing", "created_at"], name="img_processing_created"),
            models.Index(fields=["user", "-created_at"], condition=Q(favorite=True), name="img_user_favorite_created"),
            # The review queue: the few images held back, oldest first.
            models.Index(fields=["created_at"], condition=~Q(moderation_status="ok"), name="img_moderation_queue"),
            # Beat's look for images whose labels or moderation are still owed.
            models.Index(
                fields=["created_at"],
                condition=Q(analyzed_at__isnull=True) | Q(moderated_at__isnull=True),
                name="img_analysis_owed",
            ),
        ]
        constraints = [
            # A redelivered job cannot store a second copy of the same output.
            models.UniqueConstraint(
                fields=["generation", "index"],
                condition=Q(generation__isnull=False),
                name="img_generation_index_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.title or str(self.id)

    def storage_keys(self) -> list[str]:
        """Every stored object of this image: the original and each derivative."""
        keys = [self.storage_key] if self.storage_key else []
        keys += [v["key"] for v in self.variants.values() if v.get("key")]
        return keys


class UploadDay(models.Model):
    """How many files a user uploaded on one UTC day: the daily upload quota's count.

    Kept apart from the images so that deleting an upload does not give its
    place in the quota back.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="upload_days")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="upload_day_user_day_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}: {self.count}"


class WebhookDelivery(models.Model):
    """One attempt to deliver one webhook event; retries share a ``webhook_id``."""

    id = models.BigAutoField(primary_key=True)
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="webhook_deliveries")
    webhook_id = models.CharField(max_length=64, db_index=True)
    event = models.CharField(max_length=32)
    url = models.URLField(max_length=2000)
    attempt = models.PositiveSmallIntegerField(default=1)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} #{self.attempt} → {self.status_code or self.error[:40]}"


class Album(models.Model):
    """A user's named set of their own images; an image may be in many albums, and outlives them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="albums")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=2000)
    # Chosen by the owner; without one, the album shows its most recently added image.
    cover = models.ForeignKey(Image, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    images = models.ManyToManyField(Image, through="AlbumImage", related_name="albums", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="album_user_created")]

    def __str__(self) -> str:
        return self.title


class AlbumImage(models.Model):
    album = models.ForeignKey(Album, on_delete=models.CASCADE, related_name="entries")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="album_entries")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["album", "image"], name="album_image_unique")]
        indexes = [models.Index(fields=["album", "-added_at"], name="album_image_added")]

    def __str__(self) -> str:
        return f"{self.album_id}: {self.image_id}"


class ShareLink(models.Model):
    """A link that shows one image or one album to anyone holding its token, until it expires or is revoked."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="share_links")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, null=True, blank=True, related_name="share_links")
    album = models.ForeignKey(Album, on_delete=models.CASCADE, null=True, blank=True, related_name="share_links")
    token = models.CharField(max_length=64, unique=True)
    password_hash = models.CharField(max_length=256, blank=True)  # Django's hashers; empty: no password
    allow_download = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # NULL: never
    revoked_at = models.DateTimeField(null=True, blank=True)
    view_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="share_user_created")]
        constraints = [
            models.CheckConstraint(
                condition=Q(image__isnull=False, album__isnull=True) | Q(image__isnull=True, album__isnull=False),
                name="share_one_target",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} share {self.id}"

    @property
    def kind(self) -> str:
        return "image" if self.image_id else "album"

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)


class ImageLabel(models.Model):
    """One label of one image, for ``?label=``: the analyzer's name, lower-cased, and its confidence (0..1)."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="label_rows")
    # db_index: on PostgreSQL Django adds a varchar_pattern_ops index beside the plain one, so a
    # search's prefix match (``name LIKE 'word%'``, services/search.py) is read from an index too.
    name = models.CharField(max_length=100, db_index=True)
    confidence = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["image", "name"], name="image_label_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.confidence:.2f})"


class ModerationCase(Image):
    """An image as the staff's moderation queue shows it (the admin's own page for ``Image``)."""

    class Meta:
        proxy = True
        verbose_name = "moderation case"


class ModerationEvent(models.Model):
    """The audit trail of moderation: every verdict and decision on an image, never edited.

    ``actor`` is the staff member who decided (None for a provider's verdict or the owner's appeal).
    """

    class Action(models.TextChoices):
        FLAGGED = "flagged"  # a provider held the image for review
        APPROVED = "approved"
        REJECTED = "rejected"
        APPEALED = "appealed"

    id = models.BigAutoField(primary_key=True)
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="moderation_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    previous_status = models.CharField(max_length=16, choices=Image.Moderation.choices)
    new_status = models.CharField(max_length=16, choices=Image.Moderation.choices)
    categories = JSONField(default=list, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action}: {self.previous_status} → {self.new_status}"
