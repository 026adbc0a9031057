"""/v1/images/generations and /v1/models: OpenAI's API shape, and the official SDK unchanged against a live server."""

from __future__ import annotations

import base64
import io
import urllib.request

import openai
import pytest
from PIL import Image as PILImage
from rest_framework.test import APIClient

from accounts.services import api_key_create
from images.models import Generation
from images.services.generations import generation_get
from images.services.pipeline import generation_run
from tests.support.processes import celery_worker, child_env, web_server


@pytest.fixture
def run_inline(monkeypatch):
    """Run the job in this process instead of waiting for a worker."""

    def wait(*, user, generation_id, seconds):
        generation_run(generation_id=str(generation_id))
        return generation_get(user=user, generation_id=generation_id)

    monkeypatch.setattr("images.openai_api.generation_wait", wait)


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
def test_a_permanent_provider_failure_is_a_400_with_its_message(api, run_inline):
    response = api.post("/v1/images/generations", {"prompt": "fail-permanent", "model": "fake-1"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "content_policy"


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
