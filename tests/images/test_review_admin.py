"""The moderation queue in the admin (images/review_admin.py), through Django's test client."""

from __future__ import annotations

import pytest
from django.test import Client

from images.models import Image, ModerationEvent
from tests.images.factories import ImageFactory

pytestmark = pytest.mark.django_db

QUEUE = "/admin/images/moderationcase/"


@pytest.fixture
def staff(admin_client: Client) -> Client:
    return admin_client


def held(**fields) -> Image:
    return ImageFactory(moderation_status="pending_review", moderation_categories=["sexual"],
                        moderation_scores={"sexual": 0.93}, **fields)  # fmt: skip


def test_the_queue_lists_held_images_with_scores_and_not_untouched_ones(staff):
    image = held(title="Held one")
    ImageFactory(title="Fine one")

    html = staff.get(QUEUE).content.decode()

    assert "Held one" in html and "Fine one" not in html
    assert "sexual (0.93)" in html
    for name in ("moderation_status__exact", "appeal", "category", "user__tier"):
        assert f"?{name}=" in html or f"&amp;{name}=" in html, name
    assert str(image.pk) in html


def test_the_category_filter_narrows_the_queue(staff):
    held(title="Nudity")
    ImageFactory(title="Gore", moderation_status="pending_review", moderation_categories=["violence"])

    html = staff.get(QUEUE + "?category=violence").content.decode()

    assert "Gore" in html and "Nudity" not in html


def test_bulk_reject_asks_for_a_reason_then_rejects_and_audits(staff, admin_user):
    images = [held(title="One"), held(title="Two")]
    selected = {"action": "reject", "_selected_action": [str(image.pk) for image in images]}

    form = staff.post(QUEUE, selected)
    assert form.status_code == 200 and "Reason (shown to the owners)" in form.content.decode()
    assert not ModerationEvent.objects.exists()

    done = staff.post(QUEUE, {**selected, "reason": "Not for this site."}, follow=True)

    assert "Rejected 2 image(s)." in done.content.decode()
    for image in images:
        image.refresh_from_db()
        assert (image.moderation_status, image.moderation_reason) == ("rejected", "Not for this site.")
        event = ModerationEvent.objects.get(image=image)
        assert (event.actor, event.action, event.previous_status) == (admin_user, "rejected", "pending_review")


def test_rejecting_from_the_case_page_needs_a_reason(staff):
    image = held()
    url = f"{QUEUE}{image.pk}/change/"

    response = staff.post(url, {"decision": "reject", "reason": "", **_no_inline_forms()})

    assert response.status_code == 200 and "needs a reason" in response.content.decode()
    image.refresh_from_db()
    assert image.moderation_status == "pending_review"
    staff.post(url, {"decision": "approve", "reason": "", **_no_inline_forms()})
    image.refresh_from_db()
    assert image.moderation_status == "ok"


def test_the_audit_trail_cannot_be_edited_or_deleted(staff):
    image = held()
    event = ModerationEvent.objects.create(image=image, action="flagged", previous_status="ok",
                                           new_status="pending_review")  # fmt: skip

    assert staff.get("/admin/images/moderationevent/").status_code == 200
    assert staff.post(f"/admin/images/moderationevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ModerationEvent.objects.filter(pk=event.pk).exists()


def _no_inline_forms() -> dict:
    prefix = "moderation_events"
    return {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0", f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000"}  # fmt: skip
