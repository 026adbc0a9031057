"""Moderation through the API: blocked prompts on both APIs, the image's moderation and labels, appeals."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from images.models import Generation, Image, ImageLabel, ModerationEvent
from images.services.moderation import images_review
from images.services.quotas import quota_for_user
from tests.factories import UserFactory
from tests.images.factories import ImageFactory

pytestmark = pytest.mark.django_db

BLOCKED = "explicit porn of a lighthouse"  # the default policy blocks "porn"


@pytest.fixture(autouse=True)
def builtin_moderation(settings):
    settings.MODERATION_PROVIDER = "builtin"
    settings.MODERATION_POLICY_FILE = ""


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True)


def test_a_blocked_prompt_is_a_400_naming_the_prompt_and_categories_and_queues_nothing(api, user, settings):
    settings.TIER_QUOTAS = {"free": 1}
    before = quota_for_user(user=user).used_today

    response = api.post("/api/v1/generations", {"prompt": BLOCKED}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"], error["categories"]) == ("moderation_blocked", "prompt", ["sexual"])
    assert not Generation.objects.exists()
    assert quota_for_user(user=user).used_today == before
    # The one image of today's quota is still there for an allowed prompt.
    assert api.post("/api/v1/generations", {"prompt": "a lighthouse"}, format="json").status_code == 202


def test_a_blocked_prompt_is_refused_before_the_quota_is_read(api, user, settings):
    settings.TIER_QUOTAS = {"free": 1}
    assert api.post("/api/v1/generations", {"prompt": "a lighthouse"}, format="json").status_code == 202

    response = api.post("/api/v1/generations", {"prompt": BLOCKED}, format="json")

    assert response.status_code == 400 and response.json()["error"]["code"] == "moderation_blocked"
    assert Generation.objects.count() == 1


def test_a_dry_run_refuses_a_blocked_prompt_as_the_real_request_does(api, user, sent_jobs):
    response = api.post("/api/v1/generations", {"prompt": BLOCKED, "dry_run": True}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"], error["categories"]) == ("moderation_blocked", "prompt", ["sexual"])
    assert not Generation.objects.exists() and sent_jobs == []
    allowed = api.post("/api/v1/generations", {"prompt": "a lighthouse", "dry_run": True}, format="json")
    assert allowed.status_code == 200 and allowed.json()["dry_run"] is True


def test_the_openai_endpoint_answers_a_blocked_prompt_in_openais_shape(api, user):
    response = api.post("/v1/images/generations", {"prompt": BLOCKED}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "moderation_blocked"
    assert error["type"] == "invalid_request_error" and error["param"] == "prompt"
    assert "sexual" in error["message"]
    assert not Generation.objects.exists()
    assert quota_for_user(user=user).used_today == 0


def test_with_moderation_off_nothing_is_blocked(api, settings):
    settings.MODERATION_PROVIDER = "none"

    assert api.post("/api/v1/generations", {"prompt": BLOCKED}, format="json").status_code == 202


def test_a_review_term_lets_the_prompt_through(api):
    assert api.post("/api/v1/generations", {"prompt": "a nude figure study"}, format="json").status_code == 202


def test_an_image_shows_its_labels_and_moderation(api, user):
    image = ImageFactory(user=user, labels=[{"name": "Blue", "confidence": 0.8}], moderation_status="pending_review",
                         moderation_categories=["violence/graphic"])  # fmt: skip

    body = api.get(f"/api/v1/images/{image.pk}").json()

    assert body["labels"] == [{"name": "Blue", "confidence": 0.8}]
    assert body["moderation"] == {"status": "pending_review", "categories": ["violence/graphic"], "reason": None,
                                  "appealed": False}  # fmt: skip
    listed = api.get("/api/v1/images").json()["results"][0]
    assert listed["labels"] == body["labels"] and listed["moderation"] == body["moderation"]


def test_images_filter_by_label_case_insensitively(api, user):
    blue, red = ImageFactory(user=user), ImageFactory(user=user)
    ImageLabel.objects.create(image=blue, name="blue", confidence=0.9)
    ImageLabel.objects.create(image=red, name="red", confidence=0.9)

    ids = [item["id"] for item in api.get("/api/v1/images?label=Blue").json()["results"]]

    assert ids == [str(blue.pk)]
    assert api.get("/api/v1/images?label=" + "x" * 101).status_code == 400
    repeated = api.get("/api/v1/images?label=blue&label=teal")
    assert repeated.status_code == 400 and repeated.json()["error"]["code"] == "repeated_parameter"


def test_search_matches_labels(api, user):
    image = ImageFactory(user=user, prompt="something")
    ImageLabel.objects.create(image=image, name="teal", confidence=0.9)

    assert [item["id"] for item in api.get("/api/v1/images?q=teal").json()["results"]] == [str(image.pk)]


def test_the_public_list_never_shows_an_image_held_by_moderation(api, other_user):
    shown = ImageFactory(user=other_user, visibility="public")
    ImageFactory(user=other_user, visibility="public", moderation_status="pending_review")
    ImageFactory(user=other_user, visibility="public", moderation_status="rejected")

    ids = [item["id"] for item in api.get("/api/v1/public/images").json()["results"]]

    assert ids == [str(shown.pk)]


def test_the_visible_to_others_seam_leaves_out_held_hidden_and_unready_images(other_user):
    ok = ImageFactory(user=other_user, visibility="unlisted")
    ImageFactory(user=other_user, moderation_status="pending_review")
    ImageFactory(user=other_user, is_hidden=True)
    ImageFactory(user=other_user, processing="pending")

    assert list(Image.objects.visible_to_others()) == [ok]


# --- Appeals ---------------------------------------------------------------------------------


def appeal(api, image_id, message="It is a medical illustration."):
    return api.post(f"/api/v1/images/{image_id}/appeal", {"message": message}, format="json")


def rejected_image(user, staff) -> Image:
    image = ImageFactory(user=user, moderation_status="pending_review", moderation_categories=["sexual"])
    images_review(actor=staff, ids=[image.pk], decision="reject", reason="Nudity is not allowed here.")
    image.refresh_from_db()
    return image


def test_the_owner_sees_the_rejection_reason_and_appeals_back_into_the_queue(api, user, staff):
    image = rejected_image(user, staff)
    assert api.get(f"/api/v1/images/{image.pk}").json()["moderation"]["reason"] == "Nudity is not allowed here."

    response = appeal(api, image.pk)

    assert response.status_code == 200
    assert response.json()["moderation"] == {"status": "pending_review", "categories": ["sexual"],
                                             "reason": "Nudity is not allowed here.", "appealed": True}  # fmt: skip
    image.refresh_from_db()
    assert image.appeal_message == "It is a medical illustration." and image.appealed_at is not None
    last = ModerationEvent.objects.filter(image=image).first()
    assert (last.action, last.previous_status, last.new_status, last.actor) == (
        "appealed",
        "rejected",
        "pending_review",
        None,
    )


def test_a_second_appeal_is_a_409(api, user, staff):
    image = rejected_image(user, staff)
    assert appeal(api, image.pk).status_code == 200
    images_review(actor=staff, ids=[image.pk], decision="reject", reason="Still no.")

    response = appeal(api, image.pk)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_appealed"


def test_an_approved_image_cannot_be_appealed(api, user):
    image = ImageFactory(user=user)

    response = appeal(api, image.pk)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_appealable"


def test_another_users_image_is_not_found(api, other_user, staff):
    image = rejected_image(other_user, staff)

    response = appeal(api, image.pk)

    assert response.status_code == 404
    image.refresh_from_db()
    assert image.moderation_status == "rejected" and image.appealed_at is None


def test_an_unknown_image_is_not_found(api):
    assert appeal(api, uuid.uuid4()).status_code == 404


@pytest.mark.parametrize(
    ("body", "code"),
    [({}, "required"), ({"message": ""}, "blank"), ({"message": "x" * 2001}, "max_length"),
     ({"message": "ok", "extra": 1}, "unknown_field")],
)  # fmt: skip
def test_a_bad_appeal_body_is_a_400_naming_the_field(api, user, staff, body, code):
    image = rejected_image(user, staff)

    response = api.post(f"/api/v1/images/{image.pk}/appeal", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_a_rejection_needs_a_reason_and_every_decision_is_audited(user, staff):
    image = ImageFactory(user=user, moderation_status="pending_review")
    with pytest.raises(Exception, match="needs a reason"):
        images_review(actor=staff, ids=[image.pk], decision="reject", reason=" ")

    images_review(actor=staff, ids=[image.pk], decision="approve")

    event = ModerationEvent.objects.get(image=image)
    assert (event.actor, event.action, event.previous_status, event.new_status) == (
        staff,
        "approved",
        "pending_review",
        "ok",
    )
    assert event.created_at <= timezone.now()
