"""One resolver of generation requests (images/services/resolver.py), shared by the API, /v1 and the pages."""

from __future__ import annotations

import pytest

from imagegen.errors import Invalid
from images import params
from images.services.resolver import generation_params, resolve_model, resolve_model_by_name, resolve_size


def test_defaults_are_decided_once_the_default_size_provider_and_its_first_model():
    resolved = generation_params(prompt="a lighthouse")

    assert (resolved.width, resolved.height) == params.parse_size(params.DEFAULT_SIZE)
    assert (resolved.provider, resolved.model) == resolve_model("", "")
    assert resolved.webhook_events == []


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"size": "13x13"}, "size", "invalid_choice"),
        ({"size": "512x512", "aspect_ratio": "1:1"}, "size", "conflict"),
        ({"resolution": "2K"}, "aspect_ratio", "required"),
        ({"aspect_ratio": "5:1"}, "aspect_ratio", "invalid_choice"),
        ({"provider": "nobody"}, "provider", "invalid_choice"),
        ({"model": "no-such-model"}, "model", "invalid_choice"),
        ({"style": "cubist-ish"}, "style", "invalid_choice"),
        ({"strength": 0.5}, "strength", "invalid"),
        ({"webhook_events": ["completed"]}, "webhook_events", "required"),
        ({"webhook_url": "ftp://example.com/hook"}, "webhook_url", "invalid"),
        ({"reference_image_urls": ["file:///etc/passwd"]}, "reference_image_urls", "scheme_not_allowed"),
        ({"metadata": {"x": "y" * params.MAX_METADATA_BYTES}}, "metadata", "max_length"),
        ({"metadata": {"a": {"b\x00": 1}}}, "metadata", "null_characters_not_allowed"),
        ({"metadata": {"a": [[1, "nul \x00 inside"]]}}, "metadata", "null_characters_not_allowed"),
    ],
)
def test_each_broken_rule_is_invalid_and_names_its_field(fields, field, code):
    with pytest.raises(Invalid) as refused:
        generation_params(prompt="a lighthouse", **fields)

    assert (refused.value.field, refused.value.code) == (field, code)
    assert not refused.value.message.startswith(f"{field}:")  # each edge adds the field its own way


def test_a_webhook_url_alone_asks_for_every_event_and_duplicates_collapse():
    resolved = generation_params(
        prompt="p",
        webhook_url="https://example.com/hook",
        reference_image_urls=["https://example.com/a.png", "https://example.com/a.png"],
    )

    assert resolved.webhook_events == list(params.WEBHOOK_EVENTS)
    assert resolved.reference_image_urls == ["https://example.com/a.png"]


def test_aspect_ratio_and_resolution_give_the_size():
    assert resolve_size(None, "16:9", "1K") == params.size_for_aspect_ratio("16:9", "1K")


def test_an_openai_client_names_a_model_and_gets_the_provider_serving_it():
    provider, model = resolve_model("", "")

    assert resolve_model_by_name(model) == (provider, model)
    assert resolve_model_by_name("") == (provider, model)
    with pytest.raises(Invalid, match="is not available") as refused:
        resolve_model_by_name("dall-e-9")
    assert (refused.value.code, refused.value.field) == ("model_not_found", "model")
