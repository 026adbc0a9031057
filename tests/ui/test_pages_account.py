"""Your account's pages: /settings (profile, password, API keys) and /stats."""

from __future__ import annotations

import re

import pytest

from accounts.models import ApiKey
from accounts.services import api_key_authenticate
from tests.factories import DEFAULT_PASSWORD
from tests.images.factories import GenerationFactory, ImageFactory
from tests.ui.conftest import csrf_post, generated, text

pytestmark = pytest.mark.django_db


def test_the_profile_name_can_be_changed(browser, user):
    response = csrf_post(browser, "/settings", {"action": "profile", "name": "  Grace Hopper "})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.name == "Grace Hopper"


def test_changing_the_password_keeps_this_browser_signed_in(browser, user):
    response = csrf_post(
        browser,
        "/settings",
        {
            "action": "password",
            "current_password": DEFAULT_PASSWORD,
            "new_password": "another-fine-phrase-9",
            "new_password_again": "another-fine-phrase-9",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another-fine-phrase-9")
    assert browser.get("/settings").status_code == 200


def test_password_change_errors_are_shown_by_their_fields(browser, user):
    wrong = csrf_post(
        browser,
        "/settings",
        {
            "action": "password",
            "current_password": "nope",
            "new_password": "another-fine-phrase-9",
            "new_password_again": "another-fine-phrase-9",
        },
    )
    assert re.search(r'id="id_current_password_error"[^>]*>\s*<li>The current password is incorrect', text(wrong))
    weak = csrf_post(
        browser,
        "/settings",
        {
            "action": "password",
            "current_password": DEFAULT_PASSWORD,
            "new_password": "123",
            "new_password_again": "123",
        },
    )
    assert re.search(r'id="id_new_password_error"', text(weak))
    differ = csrf_post(
        browser,
        "/settings",
        {
            "action": "password",
            "current_password": DEFAULT_PASSWORD,
            "new_password": "another-fine-phrase-9",
            "new_password_again": "another-fine-phrase-8",
        },
    )
    assert re.search(r'id="id_new_password_again_error"[^>]*>\s*<li>The two new passwords differ', text(differ))
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_an_api_key_is_shown_once_and_works_until_revoked(browser, user):
    response = csrf_post(browser, "/settings", {"action": "create_key", "name": "ci runner"})
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    raw_key = re.search(r'<code id="new-api-key">(igk_[^<]+)</code>', text(response)).group(1)
    assert api_key_authenticate(raw_key=raw_key).user == user
    listing = text(browser.get("/settings"))
    assert "ci runner" in listing and raw_key not in listing
    key = ApiKey.objects.get(user=user)
    assert csrf_post(browser, f"/settings/api-keys/{key.pk}/revoke").status_code == 302
    assert api_key_authenticate(raw_key=raw_key) is None
    assert "ci runner" not in text(browser.get("/settings"))


def test_an_api_key_needs_a_name(browser):
    response = csrf_post(browser, "/settings", {"action": "create_key", "name": "  "})
    assert response.status_code == 400 and re.search(r'id="id_name_error"', text(response))


def test_another_users_api_key_cannot_be_revoked(browser, other_user):
    from accounts.services import api_key_create

    key, raw_key = api_key_create(user=other_user, name="theirs")
    response = csrf_post(browser, f"/settings/api-keys/{key.pk}/revoke", follow=True)
    assert "does not exist" in text(response)
    assert api_key_authenticate(raw_key=raw_key) is not None


def test_the_stats_page_counts_your_things(browser, user, other_user):
    generated(user, n=2)
    ImageFactory(user=user, source="uploaded", visibility="public")
    ImageFactory(user=other_user)
    GenerationFactory(user=user, status="failed")
    html = text(browser.get("/stats"))
    counts = dict(
        (label, int(value))
        for value, label in re.findall(r'<div class="value">(\d+)</div><p class="label">([^<]+)</p>', html)
    )
    assert counts["images in total"] == 3 and counts["generated"] == 2 and counts["uploaded"] == 1
    assert counts["public"] == 1 and counts["failed"] == 1 and counts["succeeded"] == 1
