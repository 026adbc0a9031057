"""The openai moderation provider against a fake moderations endpoint on loopback, through the real client."""

from __future__ import annotations

import pytest

from images.moderation.base import ModerationError
from images.moderation.openai import OpenAIModerator
from tests.support.fake_openai import FakeServer, Recorded, Reply


class FakeModerations(FakeServer):
    """``POST /v1/moderations`` answers the queued reply (one not flagged if none is queued)."""

    def __init__(self) -> None:
        super().__init__()
        self.reply: Reply | None = None

    def answer(self, request: Recorded) -> Reply:
        if request.method == "POST" and request.path == "/v1/moderations":
            return self.reply or moderation_reply(flagged={})
        return super().answer(request)


def moderation_reply(*, flagged: dict[str, float], model: str = "omni-moderation-latest") -> Reply:
    names = ["sexual", "sexual/minors", "violence", "violence/graphic", "hate", "self-harm", "harassment"]
    result = {
        "flagged": bool(flagged),
        "categories": {name: name in flagged for name in names},
        "category_scores": {name: flagged.get(name, 0.001) for name in names},
    }
    return Reply(json={"id": "modr-1", "model": model, "results": [result]})


@pytest.fixture
def fake(settings):
    with FakeModerations() as server:
        settings.OPENAI_API_KEY = "sk-test"
        settings.OPENAI_BASE_URL = server.url("/v1")
        settings.MODERATION_TIMEOUT = 5
        yield server


def test_a_flagged_prompt_is_blocked_with_its_categories_and_scores(fake):
    fake.reply = moderation_reply(flagged={"violence": 0.91, "violence/graphic": 0.8})

    verdict = OpenAIModerator().check_text("something awful")

    assert verdict.action == "block"
    assert set(verdict.categories) == {"violence", "violence/graphic"}
    assert verdict.scores["violence"] == pytest.approx(0.91)
    sent = fake.hits("/v1/moderations")[0].json()
    assert sent == {"model": "omni-moderation-latest", "input": "something awful"}


def test_a_prompt_not_flagged_is_allowed(fake):
    assert OpenAIModerator().check_text("a lighthouse").action == "allow"


def test_a_flagged_image_is_held_for_review_sent_as_a_data_url(fake):
    fake.reply = moderation_reply(flagged={"sexual": 0.97})

    verdict = OpenAIModerator().check_image(b"\x89PNG fake", content_type="image/png")

    assert (verdict.action, verdict.categories) == ("review", ("sexual",))
    sent = fake.hits("/v1/moderations")[0].json()
    assert sent["input"][0]["type"] == "image_url"
    assert sent["input"][0]["image_url"]["url"].startswith("data:image/png;base64,")


def test_an_error_from_openai_is_a_moderation_error(fake):
    fake.reply = Reply(status=400, json={"error": {"message": "bad input", "type": "invalid_request_error"}})

    with pytest.raises(ModerationError, match="bad input"):
        OpenAIModerator().check_text("x")


def test_an_image_in_another_format_is_sent_as_a_jpeg(fake):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buf, "WEBP")

    OpenAIModerator().check_image(buf.getvalue(), content_type="image/avif")

    url = fake.hits("/v1/moderations")[0].json()["input"][0]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
