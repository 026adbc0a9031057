"""POST /v1/images/edits in-process: inputs, mask, errors in OpenAI's shape (the SDK test: test_openai_compat)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from images.models import Generation, Image
from images.services.generations import generation_get
from images.services.pipeline import generation_run

pytestmark = pytest.mark.django_db
URL = "/v1/images/edits"
W, H = 96, 64


@pytest.fixture(autouse=True)
def run_inline(monkeypatch):
    def wait(*, user, generation_id, seconds):
        generation_run(generation_id=str(generation_id))
        return generation_get(user=user, generation_id=generation_id)

    monkeypatch.setattr("images.api.openai_edits.generation_wait", wait)


def source_pixels(size=(W, H), seed=0) -> np.ndarray:
    return (np.random.default_rng(seed).random((size[1], size[0], 3)) * 255).astype(np.uint8)


def upload(arr: np.ndarray, name: str = "photo.png", fmt: str = "PNG", mode: str | None = None) -> SimpleUploadedFile:
    buf = io.BytesIO()
    PILImage.fromarray(arr, mode).save(buf, fmt)
    return SimpleUploadedFile(name, buf.getvalue(), content_type=f"image/{fmt.lower()}")


def half_mask(size=(W, H)) -> np.ndarray:
    mask = np.full((size[1], size[0], 4), 255, np.uint8)
    mask[:, : size[0] // 2, 3] = 0  # the left half is to be changed
    return mask


def edit(api, **fields):
    return api.post(URL, {"prompt": "a red kite", "model": "builtin-v1", **fields}, format="multipart")


def decoded(item: dict) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(base64.b64decode(item["b64_json"]))).convert("RGB"))


def test_an_edit_with_a_mask_keeps_the_input_where_the_mask_is_opaque(api, user):
    source = source_pixels()
    response = edit(api, image=upload(source), mask=upload(half_mask(), "mask.png", mode="RGBA"))
    assert response.status_code == 200, response.json()
    body = response.json()
    out = decoded(body["data"][0])
    assert out.shape == (H, W, 3)  # size auto: the input's own
    assert np.array_equal(out[:, W // 2 :], source[:, W // 2 :])
    assert (out[:, : W // 2] != source[:, : W // 2]).any(axis=2).mean() > 0.9
    assert body["size"] == f"{W}x{H}" and body["usage"]["input_tokens_details"]["image_tokens"] > 0
    generation = Generation.objects.get()
    [reference] = Image.objects.filter(source="uploaded")
    assert generation.reference_images == [str(reference.pk)] and reference.user == user
    assert generation.options["mask_key"].startswith(f"masks/{user.pk}/")


def test_an_edit_without_a_mask_restyles_the_whole_image(api):
    source = source_pixels()
    response = edit(api, image=upload(source), output_format="jpeg", output_compression=50)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["output_format"] == "jpeg"
    out = PILImage.open(io.BytesIO(base64.b64decode(body["data"][0]["b64_json"])))
    assert out.format == "JPEG" and out.size == (W, H)
    assert not np.array_equal(np.asarray(out.convert("RGB"))[:, W // 2 :], source[:, W // 2 :])


def test_several_images_come_as_image_list_and_the_mask_is_the_firsts(api):
    first, second = source_pixels(seed=1), source_pixels(seed=2)
    response = edit(api, **{"image[]": [upload(first, "a.png"), upload(second, "b.png")]},
                    mask=upload(half_mask(), "mask.png", mode="RGBA"))  # fmt: skip
    assert response.status_code == 200, response.json()
    out = decoded(response.json()["data"][0])
    assert np.array_equal(out[:, W // 2 :], first[:, W // 2 :])
    assert len(Generation.objects.get().reference_images) == 2


def test_a_stream_of_an_edit_sends_image_edit_events(api):
    response = edit(api, image=upload(source_pixels()), stream="true", partial_images="1")
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    generation_run(generation_id=str(Generation.objects.get().pk))
    raw = b"".join(response.streaming_content).decode()
    assert raw.index("event: image_edit.partial_image") < raw.index("event: image_edit.completed")


def openai_error(response, status: int, param: str, code: str) -> None:
    assert response.status_code == status, response.json()
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["param"], error["code"]) == (param, code), error


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({}, "image", "missing_required_parameter"),
        ({"image": "not a file"}, "image", "missing_required_parameter"),
        ({"mask_size": (W + 2, H)}, "mask", "invalid_image_dimensions"),
        ({"mask_rgb": True}, "mask", "invalid_image_format"),
        ({"mask_jpeg": True}, "mask", "invalid_image_format"),
        ({"output_format": "jpeg", "background": "transparent"}, "background", "invalid_value"),
        ({"output_compression": "50"}, "output_compression", "invalid_value"),
        ({"partial_images": "4", "stream": "true"}, "partial_images", "integer_above_max_value"),
        ({"input_fidelity": "medium"}, "input_fidelity", "invalid_value"),
        ({"size": "999x999"}, "size", "invalid_value"),
    ],
)
def test_bad_edits_get_openais_codes_and_params_and_create_nothing(api, media_root, fields, param, code):
    body = {k: v for k, v in fields.items() if not k.startswith("mask_")}
    if fields and "image" not in fields:
        body["image"] = upload(source_pixels())
    if size := fields.get("mask_size"):
        body["mask"] = upload(half_mask(size), "mask.png", mode="RGBA")
    if fields.get("mask_rgb"):
        body["mask"] = upload(source_pixels(), "mask.png")
    if fields.get("mask_jpeg"):
        body["mask"] = upload(source_pixels(), "mask.jpg", fmt="JPEG")
    openai_error(edit(api, **body), 400, param, code)
    assert not Generation.objects.exists() and not Image.objects.exists()
    assert not [p for p in media_root.rglob("*") if p.is_file()]


def test_seventeen_images_are_too_many(api):
    files = [upload(source_pixels(size=(16, 16)), f"{i}.png") for i in range(17)]
    openai_error(edit(api, **{"image[]": files}), 400, "image", "array_above_max_length")
    assert not Image.objects.exists()


def test_a_file_that_is_not_an_image_is_refused_naming_image(api):
    openai_error(edit(api, image=SimpleUploadedFile("x.png", b"not an image")), 400, "image", "not_an_image")


def test_an_upload_quota_refusal_after_storing_leaves_nothing_behind(api, media_root, monkeypatch):
    from imagegen.errors import LimitReached

    def over_quota(**_kwargs):
        raise LimitReached("quota_exceeded", "daily limit reached", wait=60)

    monkeypatch.setattr("images.services.generations.check_quota", over_quota)
    monkeypatch.setattr("images.services.generations.daily_limit_for_tier", lambda tier: 1)
    response = edit(api, image=upload(source_pixels()), mask=upload(half_mask(), "mask.png", mode="RGBA"))
    assert response.status_code == 429 and response.json()["error"]["type"] == "rate_limit_error"
    assert not Generation.objects.exists() and not Image.objects.exists()
    assert not [p for p in media_root.rglob("*") if p.is_file()]


def test_an_edits_mask_is_deleted_a_day_after_it_ended(api, media_root):
    from datetime import timedelta

    from django.utils import timezone

    from images.services.partials import partial_frames_sweep

    edit(api, image=upload(source_pixels()), mask=upload(half_mask(), "mask.png", mode="RGBA"))
    generation = Generation.objects.get()
    mask_key = generation.options["mask_key"]
    assert (media_root / mask_key).is_file()
    assert partial_frames_sweep(now=timezone.now() + timedelta(hours=1)) == 0
    assert partial_frames_sweep(now=timezone.now() + timedelta(days=2)) == 1
    generation.refresh_from_db()
    assert "mask_key" not in generation.options and not (media_root / mask_key).exists()
