"""Labels and moderation of stored images in the worker (services/analysis.py, tasks.analyze_image)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image as PILImage

from images.analysis.base import AnalysisError
from images.models import Image, ImageLabel, ModerationEvent
from images.moderation.base import ModerationError
from images.services import analysis
from images.services.analysis import AnalysisIncomplete, image_analyze, images_analysis_owed
from images.services.pipeline import generation_run
from images.storage import is_public_key, key_exists, store_bytes
from images.tasks import analyze_image
from tests.images.factories import GenerationFactory, ImageFactory
from tests.images.test_image_processing_task import run, upload
from tests.images.test_uploads import png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def builtin_everything(settings):
    settings.IMAGE_ANALYZER = "builtin"
    settings.MODERATION_PROVIDER = "builtin"
    settings.MODERATION_POLICY_FILE = ""


@pytest.fixture
def analyzed_inline(monkeypatch):
    """``analyze_image`` run at once in this process when queued, its image ids recorded."""
    queued: list[str] = []

    class Inline:
        def delay(self, image_id: str) -> None:
            queued.append(image_id)
            image_analyze(image_id=image_id)

    monkeypatch.setattr(analysis, "job", lambda name: Inline())
    return queued


def navy_png() -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (300, 200), "navy").save(buf, "PNG")
    return buf.getvalue()


def stored_image(**fields) -> Image:
    image = ImageFactory(**fields)
    store_bytes(image.storage_key, navy_png())
    for variant in image.variants.values():
        store_bytes(variant["key"], navy_png())
    return image


def test_it_stores_labels_and_indexes_them_lower_cased(user):
    image = stored_image(user=user, prompt="a calm sea")

    assert image_analyze(image_id=str(image.pk)) == "analyzed"

    image.refresh_from_db()
    names = [label["name"] for label in image.labels]
    assert {"Landscape", "Blue", "Dark", "Illustration"} <= set(names)
    assert all(0 <= label["confidence"] <= 1 for label in image.labels)
    assert set(ImageLabel.objects.filter(image=image).values_list("name", flat=True)) == {n.lower() for n in names}
    assert image.analyzed_at and image.moderated_at
    assert image.moderation_status == "ok"
    assert image_analyze(image_id=str(image.pk)) == "done"  # each step runs once


def test_a_flagged_public_image_is_held_for_review_and_leaves_the_public_prefix(user):
    image = stored_image(user=user, prompt="gore in the arena", visibility="public")
    assert is_public_key(image.storage_key)

    image_analyze(image_id=str(image.pk))

    image.refresh_from_db()
    assert image.moderation_status == "pending_review"
    assert image.moderation_categories == ["violence/graphic"]
    assert image.moderation_scores == {"violence/graphic": 1.0}
    assert not is_public_key(image.storage_key) and key_exists(image.storage_key)
    event = ModerationEvent.objects.get(image=image)
    assert (event.action, event.previous_status, event.new_status, event.actor) == (
        "flagged",
        "ok",
        "pending_review",
        None,
    )
    assert not Image.objects.visible_to_others().filter(pk=image.pk).exists()


def test_an_analyzer_failure_leaves_the_image_ready_without_labels_and_asks_for_a_retry(user, monkeypatch):
    image = stored_image(user=user)

    def broken(self, data, *, content_type):
        raise AnalysisError("DetectLabels: timed out")

    monkeypatch.setattr("images.analysis.builtin.BuiltinAnalyzer.analyze", broken)

    with pytest.raises(AnalysisIncomplete, match="labels"):
        image_analyze(image_id=str(image.pk))

    image.refresh_from_db()
    assert image.processing == "ready" and image.labels == [] and image.analyzed_at is None
    assert image.moderated_at is not None  # moderation still ran


def test_a_moderation_failure_is_retried_and_changes_nothing(user, monkeypatch):
    image = stored_image(user=user, visibility="public", prompt="a harbour")

    def down(self, text):
        raise ModerationError("provider down")

    monkeypatch.setattr("images.moderation.builtin.BuiltinModerator.check_text", down)

    with pytest.raises(AnalysisIncomplete, match="moderation"):
        image_analyze(image_id=str(image.pk))

    image.refresh_from_db()
    assert image.moderation_status == "ok" and image.moderated_at is None and image.analyzed_at is not None


def test_the_task_gives_up_quietly_after_its_retries(user, monkeypatch):
    image = stored_image(user=user)
    calls = []

    def broken(self, data, *, content_type):
        calls.append(1)
        raise AnalysisError("down")

    monkeypatch.setattr("images.analysis.builtin.BuiltinAnalyzer.analyze", broken)

    assert analyze_image.apply(args=[str(image.pk)]).get() == "incomplete"
    assert len(calls) == 4  # the first try and three retries
    image.refresh_from_db()
    assert image.processing == "ready"


def test_unreadable_bytes_are_marked_analyzed_with_no_labels(user, monkeypatch):
    image = ImageFactory(user=user)
    store_bytes(image.storage_key, b"not an image")

    assert image_analyze(image_id=str(image.pk)) == "analyzed"

    image.refresh_from_db()
    assert image.labels == [] and image.analyzed_at is not None


def test_owed_images_are_old_ready_ones_without_labels_or_verdict(user, settings):
    old = ImageFactory(user=user)
    Image.objects.filter(pk=old.pk).update(updated_at=old.updated_at - timedelta(minutes=10))
    ImageFactory(user=user)  # too young: its first task has it
    done = ImageFactory(user=user, analyzed_at=old.created_at, moderated_at=old.created_at)
    Image.objects.filter(pk=done.pk).update(updated_at=old.updated_at - timedelta(minutes=10))

    assert list(images_analysis_owed()) == [old]
    settings.MODERATION_PROVIDER = "none"
    Image.objects.filter(pk=old.pk).update(analyzed_at=old.created_at)
    assert list(images_analysis_owed()) == []


def test_a_generated_image_is_analyzed_after_the_job_commits(user, media_root, analyzed_inline,
                                                            django_capture_on_commit_callbacks):  # fmt: skip
    generation = GenerationFactory(user=user, provider="fake", model="fake-1", prompt="a nude figure study")

    with django_capture_on_commit_callbacks(execute=True):
        assert generation_run(generation_id=str(generation.pk)).status == "succeeded"

    image = generation.images.get()
    assert analyzed_inline == [str(image.pk)]
    assert image.labels and image.moderation_status == "pending_review"
    assert image.moderation_categories == ["sexual"]


def test_an_upload_is_analyzed_once_its_derivatives_are_made(api, user, analyzed_inline,
                                                             django_capture_on_commit_callbacks):  # fmt: skip
    image = upload(api, "pic.png", png_bytes(), "image/png")

    assert run(image, django_capture_on_commit_callbacks) == "ready"

    image.refresh_from_db()
    assert analyzed_inline == [str(image.pk)]
    assert image.analyzed_at is not None and image.labels
