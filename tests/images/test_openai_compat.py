"""/v1/images/generations and /v1/models: OpenAI's API shape, and the official SDK unchanged against a live server."""

from __future__ import annotations

import base64
import io
import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from PIL import Image as PILImage
from rest_framework.test import APIClient

from accounts.services import api_key_create
from images.models import Generation
from images.services.generations import WaitSlots, generation_get
from images.services.pipeline import generation_run
from tests.support.processes import celery_worker, child_env, web_server
from tests.support.waiting import wait_for


@pytest.fixture
def run_inline(monkeypatch):
    """Run the job in this process instead of waiting for a worker."""

    def wait(*, user, generation_id, seconds):
        generation_run(generation_id=str(generation_id))
        return generation_get(user=user, generation_id=generation_id)

    monkeypatch.setattr("images.api.openai.generation_wait", wait)


@pytest.mark.django_db
def test_models_lists_the_configured_providers_models(api):
    body = api.get("/v1/models").json()
    assert body["object"] == "list"
    ids = {m["id"] for m in body["data"]}
    assert {"builtin-v1", "fake-1"} <= ids
    assert api.get("/v1/models/builtin-v1").json()["id"] == "builtin-v1"
    assert api.get("/v1/models/nope").status_code == 404


@pytest.mark.django_db
def test_it_answers_with_b64_json_images(api, run_inline, media_root):
    response = api.post("/v1/images/generations", {"prompt": "a red kite", "size": "256x256", "n": 2,
                        "response_format": "b64_json", "model": "fake-1"}, format="json")  # fmt: skip
    assert response.status_code == 200, response.json()
    body = response.json()
    assert isinstance(body["created"], int) and len(body["data"]) == 2
    png = PILImage.open(io.BytesIO(base64.b64decode(body["data"][0]["b64_json"])))
    assert png.size == (256, 256)
    assert body["data"][0]["revised_prompt"] == "a red kite"


@pytest.mark.django_db
def test_it_answers_with_urls_by_default(api, run_inline, media_root):
    body = api.post("/v1/images/generations", {"prompt": "a kite", "size": "256x256", "model": "fake-1"},
                    format="json").json()  # fmt: skip
    assert body["data"][0]["url"].startswith("http://testserver/media/private/")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "prompt"),
        ({"prompt": "x", "size": "999x999"}, "size"),
        ({"prompt": "x", "n": 9}, "n"),
        ({"prompt": "x", "response_format": "jpeg"}, "response_format"),
        ({"prompt": "x", "style": "baroque"}, "style"),
        ({"prompt": "x", "model": "dall-e-9"}, "model"),
    ],
)
def test_bad_requests_get_openais_error_shape(api, body, param):
    response = api.post("/v1/images/generations", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert not Generation.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "param"), [({"prompt": 12345}, "prompt"), ({"prompt": "x", "n": "2"}, "n")])
def test_a_json_value_of_the_wrong_type_is_refused_as_openai_does(api, body, param):
    response = api.post("/v1/images/generations", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, "invalid_type")
    assert not Generation.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({}, "prompt", "missing_required_parameter"),
        ({"output_format": "gif"}, "output_format", "invalid_value"),
        ({"output_format": "png", "output_compression": 50}, "output_compression", "invalid_value"),
        ({"output_format": "jpeg", "output_compression": 101}, "output_compression", "integer_above_max_value"),
        ({"output_format": "webp", "output_compression": -1}, "output_compression", "integer_below_min_value"),
        ({"output_format": "jpeg", "background": "transparent"}, "background", "invalid_value"),
        ({"background": "see-through"}, "background", "invalid_value"),
        ({"quality": "ultra"}, "quality", "invalid_value"),
        ({"moderation": "none"}, "moderation", "invalid_value"),
        ({"stream": True, "partial_images": 4}, "partial_images", "integer_above_max_value"),
        ({"n": 9}, "n", "integer_above_max_value"),
        ({"size": "999x999"}, "size", "invalid_value"),
    ],
)
def test_each_bad_field_gets_openais_code_and_param(api, body, param, code):
    body = {"prompt": "x", **body} if body else body
    response = api.post("/v1/images/generations", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code), error
    assert not Generation.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("fmt", "pil"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_it_answers_in_each_output_format_and_echoes_the_settings(api, run_inline, fmt, pil):
    body = {"prompt": "a kite", "size": "256x256", "model": "builtin-v1", "response_format": "b64_json",
            "output_format": fmt, "quality": "hd"}  # fmt: skip
    response = api.post("/v1/images/generations", body, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert PILImage.open(io.BytesIO(base64.b64decode(body["data"][0]["b64_json"]))).format == pil
    assert (body["output_format"], body["size"], body["quality"], body["background"]) == (fmt, "256x256", "high",
                                                                                            "opaque")  # fmt: skip


@pytest.mark.django_db
def test_a_transparent_background_is_real_alpha(api, run_inline):
    body = api.post("/v1/images/generations", {"prompt": "hills", "size": "256x256", "model": "builtin-v1",
                    "response_format": "b64_json", "background": "transparent"}, format="json").json()  # fmt: skip
    png = PILImage.open(io.BytesIO(base64.b64decode(body["data"][0]["b64_json"])))
    assert png.mode == "RGBA" and png.getchannel("A").getextrema() == (0, 255)
    assert body["background"] == "transparent"


@pytest.mark.django_db
def test_usage_is_an_honest_estimate_when_the_provider_reports_none(api, run_inline):
    body = api.post("/v1/images/generations", {"prompt": "a" * 40, "size": "1024x1024", "n": 2, "quality": "low",
                    "model": "fake-1"}, format="json").json()  # fmt: skip
    assert body["usage"] == {
        "input_tokens": 10,
        "input_tokens_details": {"text_tokens": 10, "image_tokens": 0},
        "output_tokens": 2 * 272,
        "total_tokens": 10 + 2 * 272,
        "estimated": True,
    }


@pytest.mark.django_db
def test_usage_the_provider_reported_is_passed_on(api, run_inline):
    from images.services import pipeline

    reported = {"input_tokens": 7, "output_tokens": 9, "total_tokens": 16}
    real = pipeline._reported_usage
    pipeline_usage = lambda outputs: reported if outputs else real(outputs)  # noqa: E731
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "_reported_usage", pipeline_usage)
        body = api.post("/v1/images/generations", {"prompt": "a kite", "model": "fake-1"}, format="json").json()
    assert body["usage"] == reported


@pytest.mark.django_db
def test_a_permanent_provider_failure_is_a_400_with_its_message(api, run_inline):
    response = api.post("/v1/images/generations", {"prompt": "fail-permanent", "model": "fake-1"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "moderation_blocked"


@pytest.mark.django_db
def test_it_needs_an_api_key_or_token():
    response = APIClient().post("/v1/images/generations", {"prompt": "x"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_official_openai_client_works_unchanged_against_a_live_server(user, tmp_path):
    from django.conf import settings

    _, key = api_key_create(user=user, name="sdk")
    env = child_env(IMAGEGEN_VAR_DIR=str(tmp_path), CELERY_BROKER_URL=settings.CELERY_BROKER_URL)
    with celery_worker(tmp_path / "worker.log", env=env), web_server(tmp_path / "web.log", env=env) as base:
        client = openai.OpenAI(api_key=key, base_url=f"{base}/v1", max_retries=0, timeout=90)
        result = client.images.generate(model="builtin-v1", prompt="a teal lighthouse", size="256x256",
                                        response_format="b64_json")  # fmt: skip
        png = PILImage.open(io.BytesIO(base64.b64decode(result.data[0].b64_json)))
        assert png.size == (256, 256) and png.format == "PNG"

        result = client.images.generate(prompt="a teal lighthouse", size="256x256", n=2)
        assert len(result.data) == 2
        with urllib.request.urlopen(result.data[0].url, timeout=10) as response:
            assert PILImage.open(io.BytesIO(response.read())).size == (256, 256)

        assert "builtin-v1" in {m.id for m in client.models.list()}
        with pytest.raises(openai.BadRequestError) as caught:
            client.images.generate(prompt="x", size="999x999")
        assert caught.value.body["param"] == "size"
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(api_key="igk_wrong", base_url=f"{base}/v1", max_retries=0).images.generate(prompt="x")


@pytest.fixture
def never_finishing(monkeypatch):
    """The job stays queued: every wait ends at its timeout (no worker)."""
    monkeypatch.setattr(
        "images.api.openai.generation_wait",
        lambda *, user, generation_id, seconds: generation_get(user=user, generation_id=generation_id),
    )


@pytest.mark.django_db
def test_without_a_free_wait_slot_it_is_a_429_and_nothing_is_created(api, monkeypatch):
    slots = WaitSlots(1)
    monkeypatch.setattr("images.api.openai.WAIT_SLOTS", slots)
    slots._semaphore.acquire()  # another request is waiting
    response = api.post("/v1/images/generations", {"prompt": "a kite", "model": "fake-1"}, format="json")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_waiting"
    assert response["Retry-After"] == "2"
    assert not Generation.objects.exists()


def test_a_refused_request_does_not_keep_a_holders_slot_from_coming_back():
    slots = WaitSlots(1)
    holding, refused = threading.Event(), threading.Event()

    def holder() -> None:
        with slots as got:
            assert got
            holding.set()
            refused.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    holding.wait(5)
    with slots as got:
        assert not got
    refused.set()
    thread.join()
    with slots as got:
        assert got


@pytest.mark.django_db
def test_an_sdk_retry_waits_for_the_job_its_first_attempt_created(api, never_finishing):
    body = {"prompt": "a slow kite", "model": "fake-1"}
    first = api.post("/v1/images/generations", body, format="json")
    assert first.status_code == 504
    (generation,) = Generation.objects.all()
    for count in ("1", "2"):
        retry = api.post("/v1/images/generations", body, format="json", HTTP_X_STAINLESS_RETRY_COUNT=count)
        assert retry.status_code == 504
        assert str(generation.pk) in retry.json()["error"]["message"]
    assert Generation.objects.count() == 1
    # A new request (count 0) for the same prompt is a new job; so is a retry of a different body.
    api.post("/v1/images/generations", body, format="json", HTTP_X_STAINLESS_RETRY_COUNT="0")
    api.post("/v1/images/generations", {**body, "n": 2}, format="json", HTTP_X_STAINLESS_RETRY_COUNT="1")
    assert Generation.objects.count() == 3


@pytest.mark.django_db
def test_once_answered_a_retried_body_is_a_new_request(api, run_inline, media_root):
    body = {"prompt": "a kite", "size": "256x256", "model": "fake-1", "response_format": "b64_json"}
    assert api.post("/v1/images/generations", body, format="json").status_code == 200
    again = api.post("/v1/images/generations", body, format="json", HTTP_X_STAINLESS_RETRY_COUNT="1")
    assert again.status_code == 200
    assert Generation.objects.count() == 2


def _post(base: str, key: str, prompt: str) -> tuple[int, str | None]:
    body = json.dumps({"prompt": prompt, "model": "builtin-v1", "size": "256x256"}).encode()
    req = urllib.request.Request(f"{base}/v1/images/generations", data=body, method="POST", headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Retry-After")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_refused_and_retried_requests_create_no_extra_jobs_on_a_live_server(user, tmp_path):
    _, key = api_key_create(user=user, name="sdk")
    # One process with 3 wait slots, no worker: every admitted request waits 2 s and answers 504.
    env = child_env(WEB_CONCURRENCY="1", MAX_WAITING_REQUESTS="3", OPENAI_COMPAT_TIMEOUT="2")
    with web_server(tmp_path / "web.log", env=env) as base:
        with ThreadPoolExecutor(10) as pool:
            answers = list(pool.map(lambda i: _post(base, key, f"kite {i}"), range(10)))
        assert sorted(code for code, _ in answers) == [429] * 7 + [504] * 3
        assert all(retry_after == "2" for code, retry_after in answers if code == 429)
        assert Generation.objects.count() == 3

        # The real SDK retries a 504 twice by itself: still one job.
        client = openai.OpenAI(api_key=key, base_url=f"{base}/v1", max_retries=2, timeout=30)
        with pytest.raises(openai.APIStatusError) as caught:
            client.images.generate(model="builtin-v1", prompt="a retried kite", size="256x256")
        assert caught.value.status_code == 504
        assert Generation.objects.filter(prompt="a retried kite").count() == 1
    assert Generation.objects.count() == 4


def _png(arr, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(arr, mode).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_sdk_generates_streams_and_edits_against_a_live_server(user, tmp_path):
    """SPEC §6 with the unmodified SDK: formats, transparency, usage, streaming, edits, errors."""
    import numpy as np
    from django.conf import settings

    _, key = api_key_create(user=user, name="sdk")
    # One process with one wait slot: a slot a stream did not give back would refuse every later call.
    env = child_env(IMAGEGEN_VAR_DIR=str(tmp_path), CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
                    WEB_CONCURRENCY="1", MAX_WAITING_REQUESTS="1")  # fmt: skip
    with celery_worker(tmp_path / "worker.log", env=env), web_server(tmp_path / "web.log", env=env) as base:
        # Retries: a hung-up stream's slot comes back when the server next writes to it (within seconds).
        client = openai.OpenAI(api_key=key, base_url=f"{base}/v1", max_retries=3, timeout=90)

        # generate: each format, a transparent background, usage
        for fmt, pil in (("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")):
            compression = {} if fmt == "png" else {"output_compression": 60}
            result = client.images.generate(model="builtin-v1", prompt="a teal lighthouse", size="256x256",
                                            response_format="b64_json", output_format=fmt, **compression)  # fmt: skip
            assert PILImage.open(io.BytesIO(base64.b64decode(result.data[0].b64_json))).format == pil
            assert (result.output_format, result.size) == (fmt, "256x256")
            assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens > 0
        options = {"background": "transparent", "quality": "low", "moderation": "low", "user": "u-1"}
        result = client.images.generate(model="builtin-v1", prompt="green hills", size="256x256",
                                        response_format="b64_json", **options)  # fmt: skip
        png = PILImage.open(io.BytesIO(base64.b64decode(result.data[0].b64_json)))
        assert png.mode == "RGBA" and png.getchannel("A").getextrema() == (0, 255)
        assert (result.background, result.quality) == ("transparent", "low")

        # streaming: two partial frames in order, then the finished image
        events = list(client.images.generate(model="builtin-v1", prompt="a city at dusk", size="256x256",
                                             stream=True, partial_images=2))  # fmt: skip
        assert [e.type for e in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
        assert [e.partial_image_index for e in events[:2]] == [0, 1]
        for event in events:
            assert PILImage.open(io.BytesIO(base64.b64decode(event.b64_json))).size == (256, 256)
        assert events[-1].usage.output_tokens > 0

        # a client that hangs up after the first frame: the job still ends and its image is kept;
        # the server gives its one wait slot back (the next calls are admitted)
        stream = client.images.generate(model="builtin-v1", prompt="a harbour at night", size="256x256",
                                        stream=True, partial_images=3)  # fmt: skip
        assert next(iter(stream)).type == "image_generation.partial_image"
        stream.close()
        left = wait_for(lambda: Generation.objects.filter(prompt="a harbour at night").first(), timeout=60,
                        until=lambda g: g is not None and g.status == "succeeded")  # fmt: skip
        assert left.images.count() == 1

        # edits: with a mask the opaque half stays the input's, pixel for pixel; without, the image changes
        source = (np.random.default_rng(0).random((64, 96, 3)) * 255).astype(np.uint8)
        mask = np.full((64, 96, 4), 255, np.uint8)
        mask[:, :48, 3] = 0
        photo, mask_file = ("photo.png", _png(source), "image/png"), ("mask.png", _png(mask, "RGBA"), "image/png")
        edited = client.images.edit(model="builtin-v1", image=[photo], mask=mask_file, prompt="a red kite")
        out = np.asarray(PILImage.open(io.BytesIO(base64.b64decode(edited.data[0].b64_json))).convert("RGB"))
        assert out.shape == (64, 96, 3) and np.array_equal(out[:, 48:], source[:, 48:])
        assert (out[:, :48] != source[:, :48]).any(axis=2).mean() > 0.9
        plain = client.images.edit(model="builtin-v1", image=("photo.png", _png(source), "image/png"),
                                   prompt="a red kite", output_format="webp")  # fmt: skip
        assert PILImage.open(io.BytesIO(base64.b64decode(plain.data[0].b64_json))).format == "WEBP"
        events = list(client.images.edit(model="builtin-v1", image=("photo.png", _png(source), "image/png"),
                                         prompt="a kite", stream=True, partial_images=1))  # fmt: skip
        assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]

        # errors: OpenAI's code and param, as the SDK's exception carries them
        def refused(call, **kwargs) -> dict:
            with pytest.raises(openai.BadRequestError) as caught:
                call(**kwargs)
            return caught.value.body

        body = refused(client.images.generate, prompt="x", output_format="png", output_compression=50)
        assert (body["param"], body["code"]) == ("output_compression", "invalid_value")
        body = refused(client.images.generate, prompt="x", output_format="jpeg", background="transparent")
        assert (body["param"], body["code"]) == ("background", "invalid_value")
        small_mask = ("mask.png", _png(np.zeros((8, 8, 4), np.uint8), "RGBA"), "image/png")
        body = refused(client.images.edit, image=("photo.png", _png(source), "image/png"), mask=small_mask, prompt="x")
        assert (body["param"], body["code"]) == ("mask", "invalid_image_dimensions")
        many = [(f"{i}.png", _png(source[:16, :16]), "image/png") for i in range(17)]
        body = refused(client.images.edit, image=many, prompt="x")
        assert (body["param"], body["code"]) == ("image", "array_above_max_length")
