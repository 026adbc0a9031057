"""Moderation in a real browser: a flagged image is held, staff reject it, its owner appeals, staff approve.

Headless Chromium against gunicorn and a Celery worker (the fixtures of
test_browser.py): the worker makes the image and analyses it, as in production.
"""

from __future__ import annotations

import re

import pytest

from images.models import Image, ModerationEvent
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.support.waiting import wait_for
from tests.ui.test_browser import CHROMIUM, chromium, live, log_in, new_page, problems, shot  # noqa: F401

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium (CI installs it with apt)"),
]


def held_image(owner) -> Image:
    """An image the worker made from a prompt the default policy sends to review, made public by its owner."""
    from images.api.serializers import GenerationCreateSerializer
    from images.services.generations import generation_create
    from images.services.library import image_update

    serializer = GenerationCreateSerializer(data={"prompt": "a nude figure study in charcoal", "provider": "fake",
                                                  "size": "256x256"})  # fmt: skip
    assert serializer.is_valid(), serializer.errors
    generation, _ = generation_create(user=owner, params=serializer.validated_data["params"])
    wait_for(lambda: Image.objects.filter(generation=generation, moderated_at__isnull=False).exists(), timeout=60)
    image = Image.objects.get(generation=generation)
    assert image.moderation_status == Image.Moderation.PENDING_REVIEW
    image_update(user=owner, image_id=image.pk, visibility=Image.Visibility.PUBLIC, title="Charcoal study")
    return image


def admin_log_in(page, email: str, next_path: str) -> None:
    page.goto(f"/admin/login/?next={next_path}")
    page.fill("#id_username", email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_path.split("?")[0])))


def test_a_flagged_image_is_reviewed_rejected_appealed_and_approved(new_page, live, problems):  # noqa: F811 - fixtures
    owner = UserFactory(tier="pro")
    staff = UserFactory(is_staff=True, is_superuser=True)
    image = held_image(owner)

    # Held: nobody else sees it, neither in the public gallery nor at its address.
    visitor = new_page()
    visitor.goto("/public")
    assert visitor.locator(".card", has_text="Charcoal study").count() == 0
    assert visitor.goto(f"/images/{image.pk}").status == 404

    # Staff find it in the queue, with its thumbnail, what it was flagged for and the owner's tier.
    page = new_page()
    admin_log_in(page, staff.email, "/admin/images/moderationcase/")
    row = page.locator("#result_list tbody tr", has_text="Charcoal study")
    row.locator(".field-preview img").wait_for(state="visible")
    assert row.locator(".field-flagged_for", has_text="sexual (1.00)").is_visible()
    assert row.locator(".field-owner_tier", has_text="pro").is_visible()
    shot(page, "20-admin-moderation-queue")

    # Reject it with a reason, from its page.
    row.locator("a", has_text="Charcoal study").click()
    page.wait_for_url(re.compile(rf"/admin/images/moderationcase/{image.pk}/change/"))
    page.select_option("#id_decision", "reject")
    page.fill("#id_reason", "Nudity is not allowed in the public gallery.")
    shot(page, "21-admin-moderation-case")
    page.click("input[name=_save]")
    page.locator(".messagelist").wait_for(state="visible")
    wait_for(lambda: Image.objects.get(pk=image.pk).moderation_status == Image.Moderation.REJECTED)

    # The owner reads the reason on the image's page and appeals.
    mine = new_page()
    log_in(mine, owner.email)
    mine.goto(f"/images/{image.pk}")
    panel = mine.locator("[data-moderation=rejected]")
    assert panel.locator(".moderation-reason", has_text="Nudity is not allowed").is_visible()
    mine.fill("#appeal-message", "It is a classical life drawing for an art class.")
    shot(mine, "22-image-rejected-appeal")
    panel.locator("button[type=submit]").click()
    mine.locator(".message", has_text="Appeal sent").wait_for(state="visible")
    assert mine.locator("[data-moderation=pending_review]", has_text="Your appeal is with staff").is_visible()
    assert mine.locator("#appeal-message").count() == 0  # once only
    shot(mine, "23-image-appealed")

    # Back in the queue, marked as an appeal; staff approve it with the bulk action.
    page.goto("/admin/images/moderationcase/?appeal=yes")
    row = page.locator("#result_list tbody tr", has_text="Charcoal study")
    assert row.locator(".field-appeal img[alt=True]").is_visible()
    row.locator("input[name=_selected_action]").check()
    page.select_option("select[name=action]", "approve")
    shot(page, "24-admin-appeals")
    page.click("button[name=index]")
    page.locator(".messagelist", has_text="Approved 1 image(s).").wait_for(state="visible")

    # Every step is in the audit trail, with who, what and why.
    page.goto(f"/admin/images/moderationcase/{image.pk}/change/")
    trail = page.locator(".inline-group")
    for action in ("flagged", "rejected", "appealed", "approved"):
        assert trail.locator("td.field-action", has_text=action).count() == 1, action
    shot(page, "25-admin-audit-trail")
    events = list(ModerationEvent.objects.filter(image=image).order_by("id").values_list("action", "actor_id"))
    assert events == [("flagged", None), ("rejected", staff.pk), ("appealed", None), ("approved", staff.pk)]

    # Approved: the public sees it now.
    visitor.goto("/public")
    assert visitor.locator(".card", has_text="Charcoal study").count() == 1
    assert not problems.items, problems.items
