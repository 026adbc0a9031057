"""POST/GET /api/v1/generations and cancel: the rules of SPEC §2 "Generations"."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from images.models import Generation
from tests.images.factories import GenerationFactory, ImageFactory

URL = "/api/v1/generations"


def create(api, body: dict, **headers):
    return api.post(URL, body, format="json", **headers)


def test_it_queues_a_generation_and_points_at_it(api, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = create(api, {"prompt": "  a red fox at dawn  ", "style": "watercolor", "seed": 7})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["prompt"] == "a red fox at dawn"
    assert (body["width"], body["height"], body["n"], body["seed"]) == (1024, 1024, 1, 7)
    assert body["provider"] == "builtin" and body["model"]
    assert body["queue_position"] == 1
    assert body["images"] == [] and body["error"] is None
    assert response["Location"].endswith(f"{URL}/{body['id']}")
    assert len(callbacks) == 1  # the job is queued only once the row is committed
    assert Generation.objects.get(pk=body["id"]).user == user


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": 12345}, "prompt"),
        ({"prompt": "x", "n": "2"}, "n"),
        ({"prompt": "x", "seed": "7"}, "seed"),
        ({"prompt": "x", "n": True}, "n"),
        ({"prompt": "x", "size": 512}, "size"),
        ({"prompt": "x", "reference_image_urls": ["https://example.com/a.png", 5]}, "reference_image_urls.1"),
    ],
    ids=["number-prompt", "text-n", "text-seed", "boolean-n", "number-size", "number-url-item"],
)
def test_a_json_value_of_the_wrong_type_is_refused_not_coerced(api, body, field):
    response = create(api, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_type", field)
    assert not Generation.objects.exists()


def test_a_form_post_is_text_and_parses_numbers_as_before(api):
    response = api.post(URL, {"prompt": "x", "n": "2", "seed": "7"})  # multipart: every value is text
    assert response.status_code == 202, response.json()
    assert (response.json()["n"], response.json()["seed"]) == (2, 7)


def test_it_picks_a_seed_when_none_is_given(api):
    body = create(api, {"prompt": "x"}).json()
    assert isinstance(body["seed"], int)


@pytest.mark.parametrize(
    ("ratio", "resolution", "size"),
    [
        ("1:1", "1K", (1024, 1024)),
        ("16:9", "1K", (1024, 576)),
        ("9:16", "2K", (1152, 2048)),
        ("4:3", None, (1024, 768)),
    ],
)
def test_it_derives_the_size_from_aspect_ratio_and_resolution(api, ratio, resolution, size):
    body = {"prompt": "x", "aspect_ratio": ratio} | ({"resolution": resolution} if resolution else {})
    response = create(api, body)
    assert response.status_code == 202, response.json()
    assert (response.json()["width"], response.json()["height"]) == size


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "x" * 4001}, "prompt"),
        ({"prompt": "x", "negative_prompt": "y" * 4001}, "negative_prompt"),
        ({"prompt": "x", "size": "1000x1000"}, "size"),
        ({"prompt": "x", "size": "512x512", "aspect_ratio": "1:1"}, "size"),
        ({"prompt": "x", "aspect_ratio": "2:1"}, "aspect_ratio"),
        ({"prompt": "x", "aspect_ratio": "1:1", "resolution": "8K"}, "resolution"),
        ({"prompt": "x", "resolution": "2K"}, "aspect_ratio"),
        ({"prompt": "x", "n": 0}, "n"),
        ({"prompt": "x", "n": 5}, "n"),
        ({"prompt": "x", "n": "many"}, "n"),
        ({"prompt": "x", "seed": -1}, "seed"),
        ({"prompt": "x", "model": "no-such-model"}, "model"),
        ({"prompt": "x", "strength": 1.5}, "strength"),
        ({"prompt": "x", "strength": 0.5}, "strength"),
        ({"prompt": "x", "reference_images": ["not-a-uuid"]}, "reference_images"),
        ({"prompt": "x", "reference_images": [str(uuid.uuid4()) for _ in range(5)]}, "reference_images"),
        ({"prompt": "x", "reference_image_urls": ["ftp://example.com/a.png"]}, "reference_image_urls"),
        ({"prompt": "x", "webhook_url": "ftp://example.com/hook"}, "webhook_url"),
        ({"prompt": "x", "webhook_url": "https://example.com/h", "webhook_events": ["exploded"]}, "webhook_events"),
        ({"prompt": "x", "webhook_events": ["completed"]}, "webhook_events"),
        ({"prompt": "x", "metadata": "not an object"}, "metadata"),
        ({"prompt": "x", "metadata": {"blob": "z" * 5000}}, "metadata"),
        ({"prompt": "x", "quality": "ultra"}, "quality"),
    ],
)
def test_it_refuses_bad_input_naming_the_field(api, body, field):
    response = create(api, body)
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["field"].split(".")[0] == field, error
    assert error["code"] and error["message"]
    assert not Generation.objects.exists()


def test_width_and_height_are_refused_pointing_at_size(api):
    response = create(api, {"prompt": "x", "width": 512, "height": 512})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("unknown_field", "height")
    assert set(error["details"]) == {"width", "height"}
    assert "512x512" in error["message"]
    assert not Generation.objects.exists()


def test_an_unknown_field_is_refused_listing_the_real_ones(api):
    error = create(api, {"prompt": "x", "negative": "blur"}).json()["error"]
    assert (error["code"], error["field"]) == ("unknown_field", "negative")
    assert "negative_prompt" in error["message"]


def test_an_unknown_style_lists_the_valid_ones(api):
    error = create(api, {"prompt": "x", "style": "baroque"}).json()["error"]
    assert error["field"] == "style"
    assert "watercolor" in error["message"] and "pixel-art" in error["message"]


def test_an_unknown_or_unconfigured_provider_lists_the_configured_ones(api, settings):
    settings.OPENAI_API_KEY = ""
    error = create(api, {"prompt": "x", "provider": "openai"}).json()["error"]
    assert error["field"] == "provider"
    assert "builtin" in error["message"]


def test_a_body_that_is_not_an_object_is_a_400(api):
    response = api.post(URL, "[1, 2]", content_type="application/json")
    assert response.status_code == 400


def test_malformed_json_is_a_400(api):
    response = api.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_another_users_reference_image_is_not_found(api, other_user):
    theirs = ImageFactory(user=other_user)
    response = create(api, {"prompt": "x", "reference_images": [str(theirs.pk)]})
    assert response.status_code == 404  # as their image's own URL is: its existence is not told
    assert response.json()["error"]["field"] == "reference_images"
    assert response.json()["error"]["code"] == "not_found"


def test_own_reference_images_are_accepted_with_strength(api, user):
    mine = ImageFactory(user=user)
    response = create(api, {"prompt": "x", "reference_images": [str(mine.pk)], "strength": 0.3})
    assert response.status_code == 202
    assert response.json()["reference_images"] == [str(mine.pk)]
    assert response.json()["strength"] == 0.3


def test_over_the_daily_quota_is_a_429_saying_when_it_resets(api, user, settings):
    settings.TIER_QUOTAS = {"free": 2}
    assert create(api, {"prompt": "x", "n": 2}).status_code == 202
    response = create(api, {"prompt": "x"})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "quota_exceeded"
    assert int(response["Retry-After"]) > 0
    assert Generation.objects.count() == 1


def test_an_unlimited_tier_is_not_summed_or_locked_when_it_creates(api, user, settings):
    settings.TIER_QUOTAS = {"free": 0}
    with CaptureQueriesContext(connection) as queries:
        assert create(api, {"prompt": "x"}).status_code == 202
    # The day's sum grows with every request, inside the write transaction: an unlimited tier skips it.
    assert not [query for query in queries.captured_queries if "SUM(" in query["sql"]]


def test_the_same_idempotency_key_and_body_returns_the_first_generation(api):
    first = create(api, {"prompt": "x", "seed": 1}, HTTP_IDEMPOTENCY_KEY="abc")
    again = create(api, {"prompt": "x", "seed": 1}, HTTP_IDEMPOTENCY_KEY="abc")
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Generation.objects.count() == 1


def test_the_same_idempotency_key_with_another_body_is_a_409(api):
    create(api, {"prompt": "x"}, HTTP_IDEMPOTENCY_KEY="abc")
    response = create(api, {"prompt": "y"}, HTTP_IDEMPOTENCY_KEY="abc")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_an_idempotency_key_is_per_user(api, other_user):
    from rest_framework.test import APIClient

    first = create(api, {"prompt": "x"}, HTTP_IDEMPOTENCY_KEY="shared")
    theirs = APIClient()
    theirs.force_authenticate(other_user)
    second = create(theirs, {"prompt": "x"}, HTTP_IDEMPOTENCY_KEY="shared")
    assert second.status_code == 202
    assert second.json()["id"] != first.json()["id"]


def test_an_idempotency_key_older_than_a_day_starts_a_new_generation(api, user):
    from datetime import timedelta

    from django.utils import timezone

    old = create(api, {"prompt": "x"}, HTTP_IDEMPOTENCY_KEY="k").json()["id"]
    Generation.objects.filter(pk=old).update(created_at=timezone.now() - timedelta(hours=25))
    new = create(api, {"prompt": "x"}, HTTP_IDEMPOTENCY_KEY="k").json()["id"]
    assert new != old


def test_it_lists_only_the_callers_generations_newest_first(api, user, other_user):
    mine = [GenerationFactory(user=user) for _ in range(3)]
    GenerationFactory(user=other_user)
    body = api.get(URL).json()
    assert [g["id"] for g in body["results"]] == [str(g.pk) for g in reversed(mine)]
    assert body["next"] is None


def test_it_filters_by_status_and_dates(api, user):
    from datetime import timedelta

    from django.utils import timezone

    done = GenerationFactory(user=user, status=Generation.Status.SUCCEEDED)
    GenerationFactory(user=user, status=Generation.Status.QUEUED)
    ids = [g["id"] for g in api.get(URL, {"status": "succeeded"}).json()["results"]]
    assert ids == [str(done.pk)]
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert api.get(URL, {"created_after": later}).json()["results"] == []
    assert len(api.get(URL, {"created_before": later}).json()["results"]) == 2


@pytest.mark.parametrize(
    ("value", "code"),
    [("8307-05-23T12:41:39+18:01", 200), ("9999-12-31T23:59:59-05:00", 400), ("", 200)],
    ids=["offset-past-postgresqls-range", "past-the-last-utc-datetime", "empty-is-no-filter"],
)
def test_a_date_filter_takes_any_iso_offset_and_refuses_what_cannot_be_utc(api, user, value, code):
    GenerationFactory(user=user)
    response = api.get(URL, {"created_after": value})
    assert response.status_code == code, response.json()
    if code == 400:
        assert response.json()["error"]["field"] == "created_after"


def test_an_unknown_status_filter_is_a_400(api):
    response = api.get(URL, {"status": "exploded"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "status"


def test_another_users_generation_is_404(api, other_user):
    theirs = GenerationFactory(user=other_user)
    assert api.get(f"{URL}/{theirs.pk}").status_code == 404
    assert api.post(f"{URL}/{theirs.pk}/cancel").status_code == 404
    assert Generation.objects.get(pk=theirs.pk).status == Generation.Status.QUEUED


def test_a_malformed_id_is_404(api):
    response = api.get(f"{URL}/not-a-uuid")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_it_shows_one_generation_with_its_images(api, user):
    generation = GenerationFactory(user=user, status=Generation.Status.SUCCEEDED)
    ImageFactory(user=user, generation=generation, index=0)
    body = api.get(f"{URL}/{generation.pk}").json()
    assert body["id"] == str(generation.pk)
    assert len(body["images"]) == 1
    image = body["images"][0]
    assert image["url"].startswith("http://testserver/media/private/")
    assert "signature=" in image["url"]
    assert image["thumbnail_url"]


def test_cancel_of_a_queued_generation_ends_it_at_once(api, user):
    generation = GenerationFactory(user=user)
    response = api.post(f"{URL}/{generation.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert response.json()["finished_at"]


def test_cancel_of_a_running_generation_ends_it_at_once(api, user):
    generation = GenerationFactory(user=user, status=Generation.Status.RUNNING, attempts=1)
    assert api.post(f"{URL}/{generation.pk}/cancel").json()["status"] == "canceled"


@pytest.mark.parametrize("status", ["succeeded", "failed", "canceled"])
def test_cancel_of_an_ended_generation_is_a_409(api, user, status):
    generation = GenerationFactory(user=user, status=status)
    response = api.post(f"{URL}/{generation.pk}/cancel")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_finished"


def test_it_needs_authentication(client):
    response = client.post(URL, {"prompt": "x"}, content_type="application/json")
    assert response.status_code == 401


def test_prefer_wait_returns_the_finished_generation(api, user, monkeypatch):
    from images.services import generations

    def finish(*, user, generation_id, seconds):
        Generation.objects.filter(pk=generation_id).update(status=Generation.Status.SUCCEEDED)
        return generations.generation_get(user=user, generation_id=generation_id)

    monkeypatch.setattr("images.api.generations.generation_wait", finish)
    response = create(api, {"prompt": "x"}, HTTP_PREFER="wait=5")
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"
    assert response["Preference-Applied"] == "wait=5"


def test_prefer_wait_gives_up_after_the_time_and_answers_202(api):
    response = create(api, {"prompt": "x"}, HTTP_PREFER="wait=1")
    assert response.status_code == 202
    assert response.json()["status"] == "queued"


# --- Output settings (SPEC §6) --------------------------------------------------------------


def test_it_stores_the_output_format_compression_and_background(api, media_root):
    from images.services.pipeline import generation_run

    body = create(api, {"prompt": "hills", "size": "256x256", "output_format": "webp", "output_compression": 60,
                        "background": "transparent"}).json()  # fmt: skip
    assert (body["output_format"], body["output_compression"], body["background"]) == ("webp", 60, "transparent")
    generation_run(generation_id=body["id"])
    image = api.get(f"{URL}/{body['id']}").json()["images"][0]
    assert (image["format"], image["content_type"], image["background"]) == ("WEBP", "image/webp", "transparent")


def test_the_output_defaults_are_png_and_auto(api):
    body = create(api, {"prompt": "hills"}).json()
    assert (body["output_format"], body["output_compression"], body["background"]) == ("png", None, "auto")


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"output_format": "gif"}, "output_format", "invalid_choice"),
        ({"background": "clear"}, "background", "invalid_choice"),
        ({"output_format": "jpeg", "output_compression": 101}, "output_compression", "max_value"),
        ({"output_compression": 50}, "output_compression", "invalid_value"),  # png has no compression
        ({"output_format": "jpeg", "background": "transparent"}, "background", "invalid_value"),
    ],
)
def test_output_settings_that_do_not_fit_are_refused(api, body, field, code):
    response = create(api, {"prompt": "x", **body})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["field"], error["code"]) == (field, code)
    assert not Generation.objects.exists()
