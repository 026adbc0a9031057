"""The create page: the form queues a generation as the API would, with its errors by their fields,
reference images picked or uploaded, and remix prefilling it from an image."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from images.models import Generation, Image
from images.services.uploads import image_process
from tests.images.factories import GenerationFactory, ImageFactory
from tests.ui.conftest import csrf_post, generated, image_of, jpeg_bytes, text

pytestmark = pytest.mark.django_db


def create_data(**overrides: object) -> dict:
    data = {
        "prompt": "a red fox in the snow",
        "style": "",
        "dimensions": "size",
        "size": "256x256",
        "aspect_ratio": "1:1",
        "resolution": "1K",
        "n": "1",
        "seed": "",
        "provider": "builtin",
        "strength": "",
    }
    data.update(overrides)
    return data


def test_the_create_page_offers_every_style_size_and_ratio(browser):
    from images.params import ASPECT_RATIOS, SIZES
    from images.styles import STYLES

    html = text(browser.get("/create"))
    for value in [*STYLES, *SIZES, *ASPECT_RATIOS]:
        assert f'value="{value}"' in html
    for name in ("prompt", "negative_prompt", "seed", "reference_file", "strength"):
        assert re.search(rf'<label for="id_{name}"', html), name
    assert 'enctype="multipart/form-data"' in html


def test_creating_queues_a_generation_and_shows_its_page(browser, user):
    response = csrf_post(browser, "/create", create_data(seed="42", style="watercolor", n="2"))
    generation = Generation.objects.get(user=user)
    assert response.status_code == 302 and response["Location"] == f"/generations/{generation.pk}"
    assert (generation.prompt, generation.style, generation.n, generation.seed) == (
        "a red fox in the snow",
        "watercolor",
        2,
        42,
    )
    assert (generation.width, generation.height, generation.status) == (256, 256, "queued")


def test_an_aspect_ratio_and_resolution_give_the_apis_dimensions(browser, user):
    csrf_post(browser, "/create", create_data(dimensions="aspect", aspect_ratio="16:9", resolution="1K"))
    generation = Generation.objects.get(user=user)
    assert (generation.width, generation.height) == (1024, 576)


def test_the_serializers_errors_appear_next_to_their_fields(browser, user):
    # The API's rule: strength needs references. The page shows the serializer's message by the field.
    response = csrf_post(browser, "/create", create_data(strength="0.5"))
    assert response.status_code == 400
    assert re.search(r'id="id_strength_error"[^>]*>\s*<li>strength applies only with reference_images', text(response))
    response = csrf_post(browser, "/create", create_data(prompt="   "))
    assert response.status_code == 400 and re.search(r'id="id_prompt_error"', text(response))
    assert not Generation.objects.exists()


def test_a_used_up_quota_is_explained(browser, user, settings):
    settings.TIER_QUOTAS = {user.tier: 1}
    GenerationFactory(user=user, n=1)
    response = csrf_post(browser, "/create", create_data())
    assert response.status_code == 429
    assert "Daily quota of 1 image(s) used up" in text(response)
    assert Generation.objects.filter(user=user).count() == 1


def test_a_double_submit_creates_one_generation(browser, user):
    data = create_data(idempotency_key="form-123")
    first = csrf_post(browser, "/create", data)
    second = csrf_post(browser, "/create", data)
    assert first["Location"] == second["Location"]
    assert Generation.objects.filter(user=user).count() == 1


def test_references_picked_from_your_images_are_sent(browser, user, other_user):
    mine = ImageFactory(user=user)
    html = text(browser.get("/create"))
    assert f'name="reference_images" value="{mine.pk}"' in html
    csrf_post(browser, "/create", create_data(reference_images=[str(mine.pk)], strength="0.4"))
    generation = Generation.objects.get(user=user)
    assert generation.reference_images == [str(mine.pk)] and generation.strength == 0.4


def test_someone_elses_image_cannot_be_a_reference(browser, user, other_user):
    theirs = ImageFactory(user=other_user)
    response = csrf_post(browser, "/create", create_data(reference_images=[str(theirs.pk)]))
    assert response.status_code == 400
    assert re.search(r'id="id_reference_images_error"', text(response))
    assert not Generation.objects.exists()


def test_an_uploaded_reference_becomes_your_image_and_is_used(browser, user, monkeypatch, media_root):
    def worker_done(image, *, seconds):  # the worker's step, run here
        image_process(image_id=str(image.pk))
        image.refresh_from_db()
        return image

    monkeypatch.setattr("images.web.views._wait_for_processing", worker_done)
    upload = SimpleUploadedFile("ref.jpg", jpeg_bytes(), content_type="image/jpeg")
    response = csrf_post(browser, "/create", create_data(reference_file=upload))
    assert response.status_code == 302
    reference = Image.objects.get(user=user, source="uploaded")
    assert reference.processing == "ready"
    assert Generation.objects.get(user=user).reference_images == [str(reference.pk)]


def test_a_reference_still_processing_is_kept_selected_for_the_next_try(browser, user, monkeypatch):
    monkeypatch.setattr("images.web.views.REFERENCE_WAIT_SECONDS", 0)
    upload = SimpleUploadedFile("ref.jpg", jpeg_bytes(), content_type="image/jpeg")
    response = csrf_post(browser, "/create", create_data(reference_file=upload))
    assert response.status_code == 409
    reference = Image.objects.get(user=user, source="uploaded")
    assert "still being processed" in text(response)
    assert not Generation.objects.exists()
    image_process(image_id=str(reference.pk))
    retry = csrf_post(browser, "/create", create_data(reference_images=[str(reference.pk)]))
    assert retry.status_code == 302


def test_a_file_that_is_not_an_image_is_refused_next_to_the_upload_field(browser, user):
    upload = SimpleUploadedFile("ref.jpg", b"not an image at all", content_type="image/jpeg")
    response = csrf_post(browser, "/create", create_data(reference_file=upload))
    assert response.status_code == 400
    assert re.search(r'id="id_reference_file_error"[^>]*>\s*<li>ref.jpg', text(response))
    assert not Image.objects.exists() and not Generation.objects.exists()


def test_remix_prefills_the_form_with_the_generations_parameters(browser, user):
    generation = generated(
        user, prompt="a castle", negative_prompt="fog", style="pixel-art", seed=7, width=1024, height=576
    )
    html = text(browser.get(f"/create?remix={image_of(generation).pk}"))
    assert re.search(r">\s*a castle</textarea>", html) and re.search(r">\s*fog</textarea>", html)
    assert re.search(r'<option value="pixel-art" selected>', html)
    assert re.search(r'name="seed" value="7"', html)
    assert re.search(r'value="aspect"[^>]*checked', html) and re.search(r'<option value="16:9" selected>', html)


def test_remixing_someone_elses_image_is_404(browser, other_user):
    assert browser.get(f"/create?remix={ImageFactory(user=other_user).pk}").status_code == 404
