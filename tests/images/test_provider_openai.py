"""The openai provider against a fake OpenAI-compatible server on loopback, through the real client."""

from __future__ import annotations

import base64

import pytest

from images.fetch import AddressPolicy
from images.providers import get_provider
from images.providers.base import GenerationCanceled, Provider, ProviderError, ReferenceImage, RenderRequest
from images.providers.openai import OpenAIProvider
from tests.support.fake_openai import FakeOpenAI, FakeServer, Reply, b64_reply, error_reply, png_bytes, url_reply
from tests.support.processes import free_port
from tests.support.providers import Calls


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def image_host():
    """Another loopback server: a host the provider's own origin does not cover."""
    with FakeServer() as server:
        yield server


@pytest.fixture(autouse=True)
def openai_settings(settings, fake):
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = fake.base_url
    settings.OPENAI_IMAGE_MODEL = "gpt-image-2"
    settings.OPENAI_TIMEOUT = 10
    return settings


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def render(**overrides) -> RenderRequest:
    params = {"prompt": "a lighthouse at dusk", "width": 1024, "height": 1024, "seed": 7}
    params.update(overrides)
    return RenderRequest(**params)


def generate(request: RenderRequest, calls: Calls | None = None, provider: OpenAIProvider | None = None):
    calls = calls or Calls()
    provider = provider or OpenAIProvider()
    return provider.generate(request, on_progress=calls.on_progress, should_cancel=calls.should_cancel)


def provider_error(request: RenderRequest, provider: OpenAIProvider | None = None) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        generate(request, provider=provider)
    return info.value


def test_it_returns_base64_images_with_their_real_size(fake):
    fake.queue(b64_reply(png_bytes(64, 48), revised_prompt="a tall lighthouse"))
    calls = Calls()

    images = generate(
        render(style="watercolor", negative_prompt="people", width=1536, height=1024, quality="high"), calls
    )

    assert len(images) == 1
    image = images[0]
    assert (image.width, image.height, image.content_type) == (64, 48, "image/png")
    assert image.data == png_bytes(64, 48)
    assert image.revised_prompt == "a tall lighthouse"
    assert calls.progress == [10, 90, 100]
    [call] = fake.api_calls()
    assert call.path == "/v1/images/generations"
    assert call.headers["authorization"] == "Bearer sk-test"
    body = call.json()
    assert body["model"] == "gpt-image-2"
    assert body["prompt"].startswith("a lighthouse at dusk, watercolor painting")
    assert body["prompt"].endswith("Avoid: people")
    assert body["n"] == 1
    assert body["size"] == "1536x1024"
    assert body["quality"] == "high"
    assert "response_format" not in body  # GPT image models always answer base64


def test_it_asks_for_n_images_in_one_call_and_keeps_their_formats(fake):
    fake.queue(b64_reply(png_bytes(32, 32), png_bytes(40, 20, fmt="JPEG")))

    images = generate(render(n=2))

    assert [(i.content_type, i.width, i.height) for i in images] == [("image/png", 32, 32), ("image/jpeg", 40, 20)]
    [call] = fake.api_calls()
    assert call.json()["n"] == 2


def test_it_re_encodes_formats_other_than_png_jpeg_and_webp_as_png(fake):
    fake.queue(b64_reply(png_bytes(16, 16, fmt="GIF")))

    [image] = generate(render())

    assert image.content_type == "image/png"
    assert image.data.startswith(b"\x89PNG")


def test_it_calls_dall_e_3_once_per_image_and_maps_the_size(settings, fake):
    settings.OPENAI_IMAGE_MODEL = "dall-e-3"
    fake.queue(b64_reply(png_bytes()), b64_reply(png_bytes()))

    images = generate(render(n=2, width=1536, height=1024, quality="high"))

    assert len(images) == 2
    bodies = [call.json() for call in fake.api_calls()]
    assert [b["n"] for b in bodies] == [1, 1]
    assert {b["size"] for b in bodies} == {"1792x1024"}
    assert {b["quality"] for b in bodies} == {"hd"}
    assert {b["response_format"] for b in bodies} == {"b64_json"}


def test_it_maps_sizes_for_models_with_fixed_sizes(fake):
    fake.queue(b64_reply(png_bytes()))

    generate(render(model="gpt-image-1.5", width=1024, height=1792))

    assert fake.api_calls()[0].json()["size"] == "1024x1536"


def test_it_downloads_url_results_from_its_own_origin(fake):
    url = fake.serve_file("/results/a.png", Reply(body=png_bytes(20, 10), headers={"Content-Type": "image/png"}))
    fake.queue(url_reply(url))

    [image] = generate(render())

    assert (image.width, image.height) == (20, 10)
    assert len(fake.hits("/results/a.png")) == 1


def test_it_downloads_url_results_from_hosts_its_policy_allows(settings, fake, image_host):
    settings.DEBUG = True  # the image host is plain http
    url = image_host.serve_file(
        "/a.webp", Reply(body=png_bytes(12, 8, fmt="WEBP"), headers={"Content-Type": "image/webp"})
    )
    fake.queue(url_reply(url))

    [image] = generate(render(), provider=OpenAIProvider(fetch_policy=AddressPolicy.allowing("127.0.0.1/32")))

    assert (image.content_type, image.width, image.height) == ("image/webp", 12, 8)


def test_it_refuses_result_urls_on_loopback_by_default(settings, fake, image_host):
    settings.DEBUG = True
    url = image_host.serve_file("/a.png", Reply(body=png_bytes(), headers={"Content-Type": "image/png"}))
    fake.queue(url_reply(url))

    error = provider_error(render())

    assert (error.code, error.permanent) == ("forbidden_address", True)
    assert image_host.requests == []


def test_it_reports_a_result_url_that_404s(fake):
    fake.queue(url_reply(fake.url("/results/gone.png")))

    error = provider_error(render())

    assert (error.code, error.permanent) == ("http_error", True)
    assert "HTTP 404" in error.message


def test_it_refuses_a_result_image_over_the_size_limit_before_reading_it(fake):
    # Announces 2 GB and sends nothing: only the header can have been read.
    url = fake.serve_file(
        "/results/huge.png", Reply(body=b"", headers={"Content-Type": "image/png", "Content-Length": str(2 * 1024**3)})
    )
    fake.queue(url_reply(url))

    error = provider_error(render())

    assert (error.code, error.permanent) == ("too_large", True)
    assert "2147483648 bytes" in error.message


def test_it_sends_one_reference_as_image_to_the_edits_endpoint(fake):
    reference = png_bytes(8, 8, "red")
    fake.queue(b64_reply(png_bytes()))

    generate(render(references=(ReferenceImage(data=reference, content_type="image/png"),)))

    [call] = fake.api_calls()
    assert call.path == "/v1/images/edits"
    assert call.headers["content-type"].startswith("multipart/form-data")
    assert b'name="image"; filename="reference-0.png"' in call.body
    assert reference in call.body
    assert b'name="prompt"' in call.body


def test_it_sends_several_references_as_an_image_list(fake):
    first, second = png_bytes(8, 8, "red"), png_bytes(8, 8, "blue", fmt="JPEG")
    fake.queue(b64_reply(png_bytes()))

    generate(
        render(
            references=(
                ReferenceImage(data=first, content_type="image/png"),
                ReferenceImage(data=second, content_type="image/jpeg"),
            )
        )
    )

    [call] = fake.api_calls()
    assert call.body.count(b'name="image[]"') == 2
    assert first in call.body and second in call.body
    assert b'filename="reference-1.jpg"' in call.body


def test_an_edit_forwards_its_mask_and_output_settings_to_the_edits_endpoint(fake):
    reference, mask = png_bytes(8, 8, "red"), png_bytes(8, 8, "white")
    fake.queue(b64_reply(png_bytes()))

    references = (ReferenceImage(data=reference, content_type="image/png"),)
    generate(render(references=references, mask=mask, input_fidelity="high", output_format="webp",
                    output_compression=40, background="opaque"))  # fmt: skip

    [call] = fake.api_calls()
    assert call.path == "/v1/images/edits"
    assert b'name="mask"; filename="mask.png"' in call.body and mask in call.body
    for name, value in [("input_fidelity", b"high"), ("output_format", b"webp"), ("output_compression", b"40"),
                        ("background", b"opaque")]:  # fmt: skip
        assert f'name="{name}"'.encode() + b"\r\n\r\n" + value in call.body


def test_output_settings_and_moderation_go_to_the_generations_endpoint(fake):
    fake.queue(b64_reply(png_bytes()))

    generate(render(output_format="jpeg", output_compression=70, background="opaque", moderation="low"))

    body = fake.api_calls()[0].json()
    assert (body["output_format"], body["output_compression"], body["background"], body["moderation"]) == (
        "jpeg", 70, "opaque", "low"
    )  # fmt: skip


def test_defaults_are_not_sent_so_compatible_servers_see_nothing_new(fake):
    fake.queue(b64_reply(png_bytes()))

    generate(render())

    assert not {"output_format", "output_compression", "background", "moderation"} & set(fake.api_calls()[0].json())


def test_the_usage_openai_reports_is_kept_with_the_first_image(fake):
    usage = {"input_tokens": 12, "input_tokens_details": {"text_tokens": 12, "image_tokens": 0},
             "output_tokens": 1056, "total_tokens": 1068}  # fmt: skip
    fake.queue(Reply(json={"created": 1, "data": [{"b64_json": b64(png_bytes())}] * 2, "usage": usage}))

    first, second = generate(render(n=2))

    assert first.info["usage"]["total_tokens"] == 1068
    assert "usage" not in second.info


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (error_reply(500, "The server had an error", type_="server_error"), "provider_unavailable"),
        (error_reply(503, "Overloaded", type_="server_error"), "provider_unavailable"),
        (error_reply(429, "Rate limit reached for images", code="rate_limit_exceeded"), "provider_rate_limited"),
    ],
)
def test_it_treats_server_errors_and_rate_limits_as_transient(fake, reply, code):
    fake.queue(reply)

    error = provider_error(render())

    assert (error.code, error.permanent) == (code, False)
    assert error.message == reply.json["error"]["message"]
    assert len(fake.api_calls()) == 1  # no retries inside the client


def test_it_treats_an_exhausted_quota_as_permanent(fake):
    fake.queue(error_reply(429, "You exceeded your current quota", code="insufficient_quota"))

    error = provider_error(render())

    assert (error.code, error.permanent) == ("provider_quota", True)


def test_it_treats_a_timeout_as_transient(settings, fake):
    settings.OPENAI_TIMEOUT = 0.5
    fake.queue(Reply(hang=True))

    error = provider_error(render())

    assert (error.code, error.permanent) == ("provider_timeout", False)


def test_it_treats_an_unreachable_server_as_transient(settings):
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"

    error = provider_error(render())

    assert (error.code, error.permanent) == ("provider_unavailable", False)


def test_it_passes_on_a_content_policy_rejection_as_permanent(fake):
    message = "Your request was rejected as a result of our safety system."
    fake.queue(error_reply(400, message, code="content_policy_violation"))

    error = provider_error(render())

    assert (error.code, error.permanent, error.message) == ("moderation_blocked", True, message)


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "provider_rejected"), (401, "provider_auth"), (403, "provider_auth"), (404, "provider_rejected")],
)
def test_it_passes_on_other_rejections_as_permanent(fake, status, code):
    fake.queue(error_reply(status, f"rejected with {status}"))

    error = provider_error(render())

    assert (error.code, error.permanent, error.message) == (code, True, f"rejected with {status}")


@pytest.mark.parametrize(
    "reply",
    [
        Reply(body=b"<html>not json</html>", headers={"Content-Type": "text/html"}),
        Reply(body=b"{not json", headers={"Content-Type": "application/json"}),
        Reply(json={"created": 1, "data": [{"b64_json": "!!! not base64 !!!"}]}),
        Reply(json={"created": 1, "data": [{"b64_json": "bm90IGFuIGltYWdl"}]}),  # "not an image"
        Reply(json={"created": 1, "data": []}),
        Reply(json={"created": 1, "data": [{"revised_prompt": "nothing else"}]}),
    ],
    ids=["html", "broken-json", "invalid-base64", "not-an-image", "no-images", "no-image-data"],
)
def test_it_treats_unusable_answers_as_permanent(fake, reply):
    fake.queue(reply)

    error = provider_error(render())

    assert (error.code, error.permanent) == ("invalid_response", True)


def test_it_checks_for_cancel_before_calling(fake):
    with pytest.raises(GenerationCanceled):
        generate(render(), Calls(cancel_after=0))

    assert fake.api_calls() == []


def test_it_checks_for_cancel_before_downloading(fake):
    fake.serve_file("/results/a.png", Reply(body=png_bytes(), headers={"Content-Type": "image/png"}))
    fake.queue(url_reply(fake.url("/results/a.png")))

    with pytest.raises(GenerationCanceled):
        generate(render(), Calls(cancel_after=1))

    assert len(fake.api_calls()) == 1
    assert fake.hits("/results/a.png") == []


def test_it_is_configured_by_its_api_key(settings):
    assert OpenAIProvider().is_configured()
    settings.OPENAI_API_KEY = ""
    assert not OpenAIProvider().is_configured()


def test_it_lists_the_configured_model_first(settings):
    settings.OPENAI_IMAGE_MODEL = "my-local-model"
    assert OpenAIProvider().models() == ["my-local-model", "gpt-image-1", "dall-e-3", "dall-e-2"]

    settings.OPENAI_BASE_URL = ""
    settings.OPENAI_IMAGE_MODEL = "gpt-image-2"
    models = OpenAIProvider().models()
    assert models[0] == "gpt-image-2"
    assert len(models) == len(set(models))
    assert "dall-e-3" not in models  # retired at OpenAI


def test_it_is_the_registered_openai_provider():
    assert isinstance(get_provider("openai"), OpenAIProvider)
    assert isinstance(OpenAIProvider(), Provider)


def test_listing_the_providers_does_not_import_the_openai_client():
    # The client library takes seconds to import: a web process's first generation request paid for it.
    import subprocess
    import sys

    from tests.support.processes import BASE_DIR, child_env

    probe = (
        "import sys, django; django.setup(); from images.providers import configured_providers; "
        "configured_providers(); print('openai' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=BASE_DIR, env=child_env(), capture_output=True,
                          text=True, timeout=120)  # fmt: skip

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"
