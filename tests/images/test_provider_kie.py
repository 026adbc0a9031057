"""The kie provider against a fake KIE task API on loopback."""

from __future__ import annotations

import pytest

from images.providers import get_provider
from images.providers.base import GenerationCanceled, Provider, ProviderError, ReferenceImage, RenderRequest
from images.providers.kie import KieProvider, nearest_aspect_ratio
from tests.support.fake_kie import KONTEXT_CREATE, KONTEXT_RECORD, MARKET_CREATE, MARKET_RECORD, FakeKie
from tests.support.fake_openai import FakeServer, Reply, png_bytes
from tests.support.processes import free_port
from tests.support.providers import Calls


@pytest.fixture
def fake():
    with FakeKie() as server:
        yield server


@pytest.fixture(autouse=True)
def kie_settings(settings, fake):
    settings.KIE_API_KEY = "kie-test"
    settings.KIE_BASE_URL = fake.base_url
    settings.KIE_MODEL = "flux-kontext-pro"
    settings.KIE_POLL_INTERVAL = 0.01
    settings.KIE_TIMEOUT = 30
    return settings


def render(**overrides) -> RenderRequest:
    params = {"prompt": "a ceramic mug on a table", "width": 1024, "height": 1024, "seed": 3}
    params.update(overrides)
    return RenderRequest(**params)


def generate(request: RenderRequest, calls: Calls | None = None):
    calls = calls or Calls()
    return KieProvider().generate(request, on_progress=calls.on_progress, should_cancel=calls.should_cancel)


def provider_error(request: RenderRequest) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        generate(request)
    return info.value


def reference(url: str | None = "https://bucket.example.com/ref.png?X-Amz-Signature=abc") -> ReferenceImage:
    return ReferenceImage(data=png_bytes(8, 8), content_type="image/png", url=url)


def test_it_creates_a_task_polls_until_success_and_downloads_the_result(fake):
    fake.plan(["pending", "pending", "success"])
    calls = Calls()

    [image] = generate(render(style="photo", negative_prompt="text", width=1792, height=1024), calls)

    assert (image.width, image.height, image.content_type) == (96, 72, "image/png")
    assert image.data == fake.result_image
    [create] = fake.creates()
    assert create.path == KONTEXT_CREATE
    assert create.headers["authorization"] == "Bearer kie-test"
    body = create.json()
    assert body["model"] == "flux-kontext-pro"
    assert body["aspectRatio"] == "16:9"
    assert body["prompt"].startswith("a ceramic mug on a table, photographic")
    assert body["prompt"].endswith("Avoid: text")
    assert "inputImage" not in body
    polls = fake.polls()
    assert len(polls) == 3
    assert all(p.path == f"{KONTEXT_RECORD}?taskId=task_1" for p in polls)
    assert len(fake.hits("/files/task_1.png")) == 1
    assert calls.progress[0] == 10
    assert calls.progress[-1] == 100
    assert calls.progress == sorted(calls.progress)


def test_it_passes_a_reference_url_as_the_kontext_input_image(fake):
    generate(render(references=(reference(),)))

    assert fake.creates()[0].json()["inputImage"] == "https://bucket.example.com/ref.png?X-Amz-Signature=abc"


def test_it_uses_the_market_task_api_for_other_models(settings, fake):
    settings.KIE_MODEL = "flux-2/pro-image-to-image"
    fake.plan(["pending", "success"])
    urls = ["https://bucket.example.com/a.png", "https://bucket.example.com/b.png"]

    [image] = generate(render(width=1024, height=1536, references=tuple(reference(u) for u in urls)))

    assert image.data == fake.result_image
    [create] = fake.creates()
    assert create.path == MARKET_CREATE
    assert create.json() == {
        "model": "flux-2/pro-image-to-image",
        "input": {"prompt": "a ceramic mug on a table", "aspect_ratio": "2:3", "resolution": "2K", "input_urls": urls},
    }
    assert {p.path for p in fake.polls()} == {f"{MARKET_RECORD}?taskId=task_1"}


def test_it_makes_one_task_per_image(fake):
    images = generate(render(n=2))

    assert len(images) == 2
    assert len(fake.creates()) == 2
    assert len(fake.hits("/files/task_1.png")) == len(fake.hits("/files/task_2.png")) == 1


@pytest.mark.parametrize("model", ["flux-kontext-pro", "flux-2/pro-text-to-image"])
def test_a_task_kie_refused_for_its_content_is_moderation_blocked(settings, fake, model):
    settings.KIE_MODEL = model
    fake.plan(["pending", "fail"])  # the fake's message: "Image generation failed: prompt flagged"

    error = provider_error(render())

    assert (error.code, error.permanent) == ("moderation_blocked", True)
    assert fake.fail_message in error.message


@pytest.mark.parametrize("model", ["flux-kontext-pro", "flux-2/pro-text-to-image"])
def test_it_fails_permanently_with_kies_message_when_the_task_fails(settings, fake, model):
    settings.KIE_MODEL = model
    fake.fail_message = "Image generation failed: internal renderer error"
    fake.plan(["pending", "fail"])

    error = provider_error(render())

    assert (error.code, error.permanent) == ("provider_failed", True)
    assert fake.fail_message in error.message
    assert len(fake.polls()) == 2


def test_it_gives_up_permanently_on_a_task_that_never_finishes(settings, fake):
    # Long enough for a second poll (every 0.01 s) even when a loaded machine makes one take 0.2 s.
    settings.KIE_TIMEOUT = 1.0
    fake.plan(["pending"])

    error = provider_error(render())

    assert (error.code, error.permanent) == ("provider_timeout", True)
    assert len(fake.polls()) >= 2
    assert len(fake.creates()) == 1


def test_it_stops_polling_when_the_job_is_canceled(fake):
    fake.plan(["pending"])

    with pytest.raises(GenerationCanceled):
        generate(render(), Calls(cancel_after=4))

    assert 1 <= len(fake.polls()) <= 3
    assert fake.hits("/files/task_1.png") == []


def test_it_checks_for_cancel_before_creating_a_task(fake):
    with pytest.raises(GenerationCanceled):
        generate(render(), Calls(cancel_after=0))

    assert fake.creates() == []


def test_it_keeps_polling_through_a_transient_status_error(fake):
    fake.plan(["pending", "success"])
    fake.record_replies.append(Reply(status=502, body=b"<html>bad gateway</html>"))

    [image] = generate(render())

    assert image.data == fake.result_image
    assert len(fake.polls()) == 3


def test_it_fails_at_once_when_the_task_is_unknown(fake):
    fake.record_replies.append(Reply(json={"code": 404, "msg": "task not found", "data": None}))

    error = provider_error(render())

    assert (error.code, error.permanent, error.message) == ("provider_rejected", True, "task not found")


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (Reply(status=500, json={"code": 500, "msg": "internal error"}), "provider_unavailable"),
        (Reply(status=503, body=b"<html>maintenance</html>"), "provider_unavailable"),
        (Reply(json={"code": 455, "msg": "service unavailable"}), "provider_unavailable"),
        (Reply(json={"code": 429, "msg": "too many requests"}), "provider_rate_limited"),
    ],
)
def test_it_treats_server_errors_on_create_as_transient(fake, reply, code):
    fake.create_replies.append(reply)

    error = provider_error(render())

    assert (error.code, error.permanent) == (code, False)
    assert fake.polls() == []


@pytest.mark.parametrize(
    ("reply", "code", "message"),
    [
        (Reply(json={"code": 401, "msg": "You do not have access"}), "provider_auth", "You do not have access"),
        (Reply(json={"code": 402, "msg": "Credits insufficient"}), "provider_quota", "Credits insufficient"),
        (
            Reply(status=422, json={"code": 422, "msg": "aspectRatio invalid"}),
            "provider_rejected",
            "aspectRatio invalid",
        ),
        (Reply(status=302, headers={"Location": "http://elsewhere.example/"}), "provider_rejected", "HTTP 302"),
    ],
)
def test_it_passes_on_rejections_of_the_task_as_permanent(fake, reply, code, message):
    fake.create_replies.append(reply)

    error = provider_error(render())

    assert (error.code, error.permanent) == (code, True)
    assert message in error.message


@pytest.mark.parametrize(
    "reply",
    [
        Reply(body=b"<html>hello</html>", headers={"Content-Type": "text/html"}),
        Reply(body=b'{"code": 200, "data": ', headers={"Content-Type": "application/json"}),
        Reply(json=["not", "an", "object"]),
        Reply(json={"code": 200, "msg": "success", "data": {"noTaskId": True}}),
    ],
    ids=["html", "truncated-json", "json-list", "no-task-id"],
)
def test_it_treats_garbage_answers_as_permanent(fake, reply):
    fake.create_replies.append(reply)

    error = provider_error(render())

    assert (error.code, error.permanent) == ("invalid_response", True)


def test_it_treats_an_unreachable_kie_as_transient(settings):
    settings.KIE_BASE_URL = f"http://127.0.0.1:{free_port()}"

    error = provider_error(render())

    assert (error.code, error.permanent) == ("provider_unavailable", False)


def test_it_requires_a_url_for_every_reference(fake):
    error = provider_error(render(references=(reference(), reference(url=None))))

    assert (error.code, error.permanent) == ("reference_url_required", True)
    assert fake.creates() == []


def test_it_refuses_more_references_than_kontext_takes(fake):
    error = provider_error(render(references=(reference(), reference())))

    assert (error.code, error.permanent) == ("too_many_references", True)
    assert fake.creates() == []


def test_it_refuses_result_urls_on_other_private_hosts(settings, fake):
    settings.DEBUG = True
    with FakeServer() as elsewhere:
        elsewhere.serve_file("/x.png", Reply(body=png_bytes(), headers={"Content-Type": "image/png"}))
        fake.result_url_for = lambda task_id: elsewhere.url("/x.png")

        error = provider_error(render())

        assert (error.code, error.permanent) == ("forbidden_address", True)
        assert elsewhere.requests == []


def test_it_reports_a_result_that_is_not_an_image(fake):
    fake.result_image = b"<html>expired</html>"

    error = provider_error(render())

    assert (error.code, error.permanent) == ("not_an_image", True)


@pytest.mark.parametrize(
    ("size", "ratio"),
    [
        ((1024, 1024), "1:1"),
        ((1536, 1024), "4:3"),
        ((1792, 1024), "16:9"),
        ((1024, 1792), "9:16"),
        ((2048, 880), "21:9"),
    ],
)
def test_it_maps_sizes_to_the_nearest_kontext_aspect_ratio(size, ratio):
    assert nearest_aspect_ratio(*size, ("21:9", "16:9", "4:3", "1:1", "3:4", "9:16")) == ratio


def test_it_is_configured_by_its_api_key_and_lists_its_model_first(settings):
    settings.KIE_MODEL = "flux-kontext-max"
    assert KieProvider().is_configured()
    assert KieProvider().models()[0] == "flux-kontext-max"
    assert len(set(KieProvider().models())) == len(KieProvider().models())
    settings.KIE_API_KEY = ""
    assert not KieProvider().is_configured()


def test_it_is_the_registered_kie_provider():
    assert isinstance(get_provider("kie"), KieProvider)
    assert isinstance(KieProvider(), Provider)
