"""One job attempt (images.services.pipeline.generation_run), run in-process."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image as PILImage

from images.failures import plain_message
from images.fetch import FetchError
from images.models import Generation, Image
from images.providers.base import ProviderError
from images.services import pipeline
from images.services.pipeline import generation_run, output_image_id
from tests.images.factories import GenerationFactory

pytestmark = pytest.mark.django_db


def fake(user, prompt: str = "a quiet harbour", **fields) -> Generation:
    return GenerationFactory(user=user, provider="fake", model="fake-1", prompt=prompt, **fields)


def stored_files(media_root: Path) -> list[Path]:
    return sorted(p for p in media_root.rglob("*") if p.is_file())


def test_a_job_stores_each_image_with_its_derivatives_and_succeeds(
    user, media_root, django_capture_on_commit_callbacks
):
    generation = fake(user, n=2, width=512, height=256)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = generation_run(generation_id=str(generation.pk))
    assert outcome.status == "succeeded" and outcome.retry_in is None
    generation.refresh_from_db()
    assert generation.status == "succeeded" and generation.progress == 100
    assert generation.started_at and generation.finished_at and generation.attempts == 1
    images = list(generation.images.order_by("index"))
    assert [i.index for i in images] == [0, 1]
    for image in images:
        assert image.processing == "ready" and image.source == "generated"
        assert (image.width, image.height, image.content_type) == (512, 256, "image/png")
        assert set(image.variants) >= {"thumb_256", "thumb_768", "webp"}
        for key in image.storage_keys():
            assert (media_root / key).is_file()
        with PILImage.open(media_root / image.storage_key) as png:
            assert png.text["prompt"] == generation.prompt
            assert png.text["seed"] == str(generation.seed)
    assert len(stored_files(media_root)) == sum(len(i.storage_keys()) for i in images)


def test_the_same_message_twice_gives_one_set_of_images(user, media_root):
    generation = fake(user)
    assert generation_run(generation_id=str(generation.pk)).status == "succeeded"
    files = stored_files(media_root)
    assert generation_run(generation_id=str(generation.pk)).status == "succeeded"
    assert Image.objects.filter(generation=generation).count() == 1
    assert stored_files(media_root) == files
    generation.refresh_from_db()
    assert generation.attempts == 1


def test_a_message_for_a_job_another_live_worker_holds_is_deferred(user, settings):
    generation = fake(user, status="running", attempts=1, heartbeat_at=timezone.now())
    outcome = generation_run(generation_id=str(generation.pk))
    assert outcome.status == "busy"
    assert outcome.retry_in == settings.GENERATION_HEARTBEAT_TIMEOUT + 1
    generation.refresh_from_db()
    assert generation.status == "running" and generation.attempts == 1


def test_a_running_job_whose_heartbeat_stopped_is_taken_over(user, settings):
    stale = timezone.now() - timedelta(seconds=settings.GENERATION_HEARTBEAT_TIMEOUT + 5)
    generation = fake(user, status="running", attempts=1, heartbeat_at=stale)
    assert generation_run(generation_id=str(generation.pk)).status == "succeeded"
    generation.refresh_from_db()
    assert generation.attempts == 2
    assert generation.images.count() == 1


def test_a_transient_error_requeues_with_backoff_then_succeeds(user, media_root):
    generation = fake(user, prompt="busy provider fail-transient-1")
    first = generation_run(generation_id=str(generation.pk))
    assert first.status == "queued" and first.retry_in > 0
    generation.refresh_from_db()
    assert generation.status == "queued"
    assert generation.error_code == "provider_unavailable"
    assert generation.enqueued_at > timezone.now()  # the sweeper waits for the retry
    assert stored_files(media_root) == []
    assert generation_run(generation_id=str(generation.pk)).status == "succeeded"
    generation.refresh_from_db()
    assert (generation.status, generation.attempts, generation.error_code) == ("succeeded", 2, "")


def test_transient_errors_fail_the_job_after_the_last_attempt(user, settings):
    settings.GENERATION_MAX_ATTEMPTS = 2
    generation = fake(user, prompt="always busy fail-transient-99")
    assert generation_run(generation_id=str(generation.pk)).status == "queued"
    assert generation_run(generation_id=str(generation.pk)).status == "failed"
    generation.refresh_from_db()
    assert generation.status == "failed" and generation.error_code == "provider_unavailable"


def test_a_permanent_error_fails_at_once_with_the_providers_message(user, media_root):
    generation = fake(user, prompt="fail-permanent please")
    outcome = generation_run(generation_id=str(generation.pk))
    assert outcome.status == "failed" and outcome.retry_in is None
    generation.refresh_from_db()
    assert generation.status == "failed" and generation.attempts == 1
    assert generation.error_code == "moderation_blocked"
    assert "refuses" in generation.error_message
    assert stored_files(media_root) == []


def test_a_canceled_queued_job_is_never_run(user):
    generation = fake(user, status="canceled")
    assert generation_run(generation_id=str(generation.pk)).status == "canceled"
    generation.refresh_from_db()
    assert generation.attempts == 0 and generation.started_at is None


def test_cancel_while_running_stops_the_job_and_keeps_no_files(user, media_root, monkeypatch, settings):
    settings.GENERATION_PROGRESS_INTERVAL = 0
    generation = fake(user, prompt="slow-0.5")
    real_progress = pipeline.JobTracker.progress

    def cancel_midway(self, percent, **kwargs):
        if percent >= 40:
            Generation.objects.filter(pk=generation.pk).update(status="canceled", cancel_requested=True)
        real_progress(self, percent, **kwargs)

    monkeypatch.setattr(pipeline.JobTracker, "progress", cancel_midway)
    assert generation_run(generation_id=str(generation.pk)).status == "canceled"
    generation.refresh_from_db()
    assert generation.status == "canceled"
    assert generation.images.count() == 0
    assert stored_files(media_root) == []


def test_a_storage_failure_midway_removes_what_was_written_and_retries(user, media_root, monkeypatch):
    generation = fake(user, n=2)
    real_store = pipeline.store_bytes
    calls = {"n": 0}

    def flaky_store(key, data):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("disk full")
        real_store(key, data)

    monkeypatch.setattr(pipeline, "store_bytes", flaky_store)
    outcome = generation_run(generation_id=str(generation.pk))
    assert outcome.status == "queued"
    assert stored_files(media_root) == []
    assert Image.objects.count() == 0
    generation.refresh_from_db()
    assert generation.error_code == "internal_error" and "disk full" not in generation.error_message


def test_a_job_at_its_attempt_limit_fails_instead_of_running_again(user, settings):
    generation = fake(user, attempts=settings.GENERATION_MAX_ATTEMPTS)
    assert generation_run(generation_id=str(generation.pk)).status == "failed"
    generation.refresh_from_db()
    assert generation.error_code == "too_many_attempts"


def test_output_ids_are_stable_so_a_rerun_overwrites_its_own_files(user):
    generation = fake(user)
    assert output_image_id(generation.pk, 0) == output_image_id(str(generation.pk), 0)
    assert output_image_id(generation.pk, 0) != output_image_id(generation.pk, 1)


def test_a_missing_generation_is_ignored():
    import uuid

    assert generation_run(generation_id=str(uuid.uuid4())).status == "missing"


def test_backoff_grows_and_stays_under_the_visibility_timeout(settings):
    settings.GENERATION_RETRY_BASE_SECONDS = 5
    settings.GENERATION_RETRY_MAX_SECONDS = 10_000
    assert pipeline.backoff_seconds(1) <= 5
    assert 20 <= pipeline.backoff_seconds(4) <= 40
    assert pipeline.backoff_seconds(30) < settings.SQS_VISIBILITY_TIMEOUT


def test_the_builtin_provider_gives_byte_identical_files_for_the_same_seed(user, media_root):
    first = GenerationFactory(user=user, seed=42, width=256, height=256, prompt="teal mountains at dusk")
    second = GenerationFactory(user=user, seed=42, width=256, height=256, prompt="teal mountains at dusk")
    for generation in (first, second):
        assert generation_run(generation_id=str(generation.pk)).status == "succeeded"
    a, b = (Image.objects.get(generation=g) for g in (first, second))
    assert (media_root / a.storage_key).read_bytes() == (media_root / b.storage_key).read_bytes()
    assert a.sha256 == b.sha256


# --- what a failed job tells its owner ------------------------------------------------


class Failing:
    """A provider that raises one given error."""

    name = "failing"

    def __init__(self, error: ProviderError) -> None:
        self.error = error

    def generate(self, request, *, on_progress, should_cancel):
        raise self.error


def fail_with(monkeypatch, error: ProviderError) -> None:
    monkeypatch.setattr(pipeline, "get_provider", lambda name: Failing(error))


def logged(caplog, generation: Generation) -> list[dict]:
    return [vars(r) for r in caplog.records if getattr(r, "generation", None) == str(generation.pk)]


LEAKS = [
    ("could not reach KIE: [Errno -3] Temporary failure in name resolution", "provider_unavailable"),
    ("could not download the image OpenAI returned: could not resolve cdn.example: [Errno -2] Name or service "
     "not known", "dns_failure"),
    ("cdn.example resolves to 10.0.0.5, which is not a public address", "forbidden_address"),
    ("KIE returned an unusable image: the image data is damaged (broken PNG file)", "invalid_response"),
    ("reference image could not be decoded: cannot identify image file <_io.BytesIO object at 0x7f3a>",
     "invalid_reference"),
    ("Incorrect API key provided: sk-proj-abc*****xyz", "provider_auth"),
    ("OpenAI client error: Traceback (most recent call last): ...", "invalid_response"),
]  # fmt: skip


@pytest.mark.parametrize(("detail", "code"), LEAKS, ids=[code for _, code in LEAKS])
def test_a_failed_job_shows_a_plain_message_per_code_and_logs_the_detail(user, monkeypatch, caplog, detail, code):
    fail_with(monkeypatch, ProviderError(detail, code=code, permanent=True))
    generation = fake(user)

    assert generation_run(generation_id=str(generation.pk)).status == "failed"

    generation.refresh_from_db()
    assert generation.error_code == code
    assert generation.error_message == plain_message(code)
    assert detail not in generation.error_message
    [line] = [r for r in logged(caplog, generation) if r["msg"] == "generation failed"]
    assert (line["code"], line["error"]) == (code, detail)


def test_a_job_waiting_for_its_retry_shows_no_detail_either(user, monkeypatch):
    fail_with(
        monkeypatch, ProviderError("could not reach KIE: [Errno 111] Connection refused", code="provider_unavailable")
    )
    generation = fake(user)

    assert generation_run(generation_id=str(generation.pk)).status == "queued"

    generation.refresh_from_db()
    assert "Errno" not in generation.error_message
    assert plain_message("provider_unavailable") in generation.error_message


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("moderation_blocked", "Your request was rejected by the safety system."),
        ("provider_rejected", "Invalid size '4000x4000'. Supported sizes are 1024x1024, 1536x1024 and 1024x1536."),
        ("invalid_style", "unknown style 'sepia'; valid: anime, watercolor"),
    ],
)
def test_a_providers_refusal_or_bad_request_explanation_reaches_the_user(user, monkeypatch, code, message):
    fail_with(monkeypatch, ProviderError(message, code=code, permanent=True))
    generation = fake(user)

    generation_run(generation_id=str(generation.pk))

    generation.refresh_from_db()
    assert (generation.error_code, generation.error_message) == (code, message)


def test_a_crash_tells_the_user_nothing_of_the_exception_and_logs_it(user, monkeypatch, caplog, settings):
    settings.GENERATION_MAX_ATTEMPTS = 1

    def crash(*args, **kwargs):
        raise RuntimeError("connection to server at 10.0.3.7 port 5432 failed: FATAL password for imagegen")

    monkeypatch.setattr(pipeline, "derive_image", crash)
    generation = fake(user)

    assert generation_run(generation_id=str(generation.pk)).status == "failed"

    generation.refresh_from_db()
    assert generation.error_code == "internal_error"
    assert generation.error_message == plain_message("internal_error")
    [line] = [r for r in logged(caplog, generation) if r["msg"] == "generation attempt crashed"]
    assert "10.0.3.7" in caplog.text and line["exc_info"]


def test_an_unreachable_reference_url_says_so_without_the_resolvers_words(user, monkeypatch, caplog):
    def unresolvable(url, **kwargs):
        raise FetchError("dns_failure", "could not resolve pics.example.com: [Errno -2] Name or service not known")

    monkeypatch.setattr("images.fetch.fetch_image", unresolvable)
    generation = fake(user, reference_image_urls=["https://pics.example.com/cat.png"])

    assert generation_run(generation_id=str(generation.pk)).status == "failed"

    generation.refresh_from_db()
    assert generation.error_code == "dns_failure"
    assert (
        generation.error_message
        == "A reference image could not be fetched: an image URL's host name could not be resolved."
    )
    [line] = [r for r in logged(caplog, generation) if r["msg"] == "generation failed"]
    assert "[Errno -2]" in line["error"]


# --- Output settings and partial frames (SPEC §6) ----------------------------------------


@pytest.mark.parametrize(("fmt", "pil"), [("jpeg", "JPEG"), ("webp", "WEBP")])
def test_the_stored_original_is_in_the_output_format_asked_for(user, media_root, fmt, pil):
    for provider in ("builtin", "fake"):  # the builtin encodes so; another provider's PNG is converted
        generation = GenerationFactory(user=user, provider=provider, model="", width=64, height=64,
                                       output_format=fmt, output_compression=40)  # fmt: skip
        assert generation_run(generation_id=str(generation.pk)).status == "succeeded"
        image = generation.images.get()
        assert (image.format, image.content_type, image.background) == (pil, f"image/{fmt}", "opaque")
        with PILImage.open(media_root / image.storage_key) as im:
            assert im.format == pil


def test_a_transparent_image_is_stored_with_its_alpha_and_says_so(user, media_root):
    generation = GenerationFactory(user=user, width=64, height=64, background="transparent", prompt="hills")
    assert generation_run(generation_id=str(generation.pk)).status == "succeeded"
    image = generation.images.get()
    assert image.background == "transparent"
    with PILImage.open(media_root / image.storage_key) as im:
        assert im.mode == "RGBA" and im.getchannel("A").getextrema() == (0, 255)


def test_partial_frames_are_published_while_the_job_runs(user, media_root):
    generation = GenerationFactory(user=user, width=64, height=64, options={"partial_images": 2})
    assert generation_run(generation_id=str(generation.pk)).status == "succeeded"
    generation.refresh_from_db()
    frames = generation.partial_frames
    assert [f["partial_image_index"] for f in frames] == [0, 1]
    for frame in frames:
        with PILImage.open(media_root / frame["key"]) as im:
            assert im.size == (64, 64)


def test_no_partial_frames_unless_asked(user, media_root):
    generation = GenerationFactory(user=user, width=64, height=64)
    generation_run(generation_id=str(generation.pk))
    generation.refresh_from_db()
    assert generation.partial_frames == []


def test_partial_frames_of_jobs_long_over_are_swept(user, media_root):
    from images.services.partials import partial_frames_sweep

    generation = GenerationFactory(user=user, width=64, height=64, options={"partial_images": 1})
    generation_run(generation_id=str(generation.pk))
    generation.refresh_from_db()
    [frame] = generation.partial_frames
    assert partial_frames_sweep() == 0  # just ended: a stream may still be sending
    assert partial_frames_sweep(now=timezone.now() + timedelta(hours=1)) == 1
    generation.refresh_from_db()
    assert generation.partial_frames == [] and not (media_root / frame["key"]).exists()
    assert partial_frames_sweep(now=timezone.now() + timedelta(hours=1)) == 0


def test_a_job_costs_one_statement_to_claim_and_two_to_finish_whatever_its_image_count(user, media_root, monkeypatch):
    # The tracker's progress writes and cancel checks are rate-limited extras (and the heartbeat has its own
    # connection): what is counted is the claim and the final commit.
    monkeypatch.setattr(pipeline.JobTracker, "progress", lambda self, percent, share=None: None)
    monkeypatch.setattr(pipeline.JobTracker, "should_cancel", lambda self: False)
    generation = fake(user, n=3)
    with CaptureQueriesContext(connection) as queries:
        assert generation_run(generation_id=str(generation.pk)).status == "succeeded"
    statements = [q["sql"].split(" ", 3)[:3] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    # Claim: one UPDATE ... RETURNING. Finish (BEGIN and COMMIT besides): the conditional UPDATE, one INSERT.
    assert statements == [
        ["UPDATE", '"images_generation"', "SET"],
        ["UPDATE", '"images_generation"', "SET"],
        ["INSERT", "INTO", '"images_image"'],
    ]
    assert "RETURNING" in queries.captured_queries[0]["sql"]
    assert Image.objects.filter(generation=generation).count() == 3
