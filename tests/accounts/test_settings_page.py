"""The password form of /settings: the "also revoke my API keys" box and what the page says happened."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from tests.factories import DEFAULT_PASSWORD, ApiKeyFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-fine-phrase-9"
ME = "/api/v1/me"


@pytest.fixture
def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change_password(browser: Client, **extra: str):
    data = {
        "action": "password",
        "current_password": DEFAULT_PASSWORD,
        "new_password": NEW_PASSWORD,
        "new_password_again": NEW_PASSWORD,
        **extra,
    }
    return browser.post("/settings", data)


def flash(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_revoke_box_is_ticked_by_default(browser):
    html = browser.get("/settings").content.decode()

    box = re.search(r'<input type="checkbox" name="revoke_api_keys"[^>]*>', html)
    assert box is not None
    assert "checked" in box.group(0)
    assert "Also revoke my API keys" in html


def test_a_ticked_box_revokes_the_keys_and_says_how_many(browser, client, user):
    keys = ApiKeyFactory.create_batch(2, user=user)

    response = change_password(browser, revoke_api_keys="on")

    assert response.status_code == 302
    assert flash(response) == [
        "Password changed; every other session and sign-in token was signed out. 2 API keys were revoked."
    ]
    for key in keys:
        assert client.get(ME, HTTP_X_API_KEY=key.raw_key).status_code == 401
    assert browser.get("/settings").status_code == 200


def test_an_unticked_box_keeps_the_keys_and_says_so(browser, client, user):
    key = ApiKeyFactory(user=user)

    response = change_password(browser)  # an unticked checkbox is not sent at all

    assert response.status_code == 302
    assert flash(response) == [
        "Password changed; every other session and sign-in token was signed out. API keys kept: 1 API key still works."
    ]
    assert client.get(ME, HTTP_X_API_KEY=key.raw_key).status_code == 200
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
