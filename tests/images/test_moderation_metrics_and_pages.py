"""What moderation adds to /metrics, and the pages: held images never reach anyone but their owner."""

from __future__ import annotations

import pytest
from django.utils import timezone

from images.models import ModerationEvent
from images.services.moderation import ModerationBlocked, prompt_check
from tests.factories import UserFactory
from tests.images.factories import ImageFactory

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests"


@pytest.fixture(autouse=True)
def settings_for_tests(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.MODERATION_PROVIDER = "builtin"
    settings.MODERATION_POLICY_FILE = ""


def scrape(client) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return response.content.decode()


def test_metrics_count_analyses_decisions_by_category_and_the_queue(client):
    now = timezone.now()
    ImageFactory(analyzed_at=now, moderated_at=now)
    held = ImageFactory(analyzed_at=now, moderation_status="pending_review", moderation_categories=["sexual"])
    ImageFactory(moderation_status="pending_review", appealed_at=now)
    ModerationEvent.objects.create(image=held, action="flagged", previous_status="ok", new_status="pending_review",
                                   categories=["sexual", "violence"])  # fmt: skip
    with pytest.raises(ModerationBlocked):
        prompt_check(prompt="porn")

    text = scrape(client)

    assert 'imagegen_image_analyses{state="done"} 2.0' in text
    assert 'imagegen_image_analyses{state="owed"} 1.0' in text
    assert 'imagegen_moderation_decisions_total{action="flagged",category="sexual"} 1.0' in text
    assert 'imagegen_moderation_decisions_total{action="flagged",category="violence"} 1.0' in text
    assert 'imagegen_moderation_queue{kind="review"} 1.0' in text
    assert 'imagegen_moderation_queue{kind="appeal"} 1.0' in text
    assert 'imagegen_moderation_prompts_blocked_total{category="sexual"}' in text


def test_the_public_gallery_page_never_shows_a_held_image(client):
    owner = UserFactory()
    ImageFactory(user=owner, visibility="public", title="Fine picture")
    held = ImageFactory(user=owner, visibility="public", title="Held picture", moderation_status="pending_review")
    ImageFactory(user=owner, visibility="public", title="Rejected picture", moderation_status="rejected")

    html = client.get("/public").content.decode()

    assert "Fine picture" in html
    assert "Held picture" not in html and "Rejected picture" not in html
    assert client.get(f"/images/{held.pk}").status_code == 404


def test_the_owner_sees_a_held_image_with_its_status(client):
    owner = UserFactory()
    held = ImageFactory(user=owner, title="Held picture", moderation_status="pending_review",
                        moderation_categories=["violence/graphic"])  # fmt: skip
    client.force_login(owner)

    html = client.get(f"/images/{held.pk}").content.decode()

    assert "Waiting for review" in html and "violence/graphic" in html
    assert client.get("/gallery").content.decode().count("Held picture") >= 1


def test_the_create_page_refuses_a_blocked_prompt_and_queues_nothing(client):
    from images.models import Generation

    owner = UserFactory()
    client.force_login(owner)

    response = client.post("/create", {"prompt": "explicit porn", "size": "256x256", "dimensions": "size", "n": 1})

    assert response.status_code == 400
    assert "content policy" in response.content.decode()
    assert not Generation.objects.exists()


def test_the_appeal_form_of_someone_elses_image_is_not_found_and_a_second_appeal_is_refused(client):
    owner, stranger = UserFactory(), UserFactory()
    image = ImageFactory(user=owner, moderation_status="rejected", moderation_reason="No.")

    client.force_login(stranger)
    assert client.post(f"/images/{image.pk}/appeal", {"message": "mine"}).status_code == 404

    client.force_login(owner)
    client.post(f"/images/{image.pk}/appeal", {"message": "please"})
    image.refresh_from_db()
    assert image.moderation_status == "pending_review" and image.appeal_message == "please"
    again = client.post(f"/images/{image.pk}/appeal", {"message": "again"}, follow=True)
    assert "appealed already" in again.content.decode()
