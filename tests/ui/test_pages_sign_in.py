"""The sign-up, log-in and log-out pages: accounts made, where you land, errors by their fields, throttling."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD
from tests.ui.conftest import csrf_post, text

pytestmark = pytest.mark.django_db


def test_signing_up_creates_the_account_and_signs_in():
    client = Client(enforce_csrf_checks=True)
    response = csrf_post(
        client, "/accounts/signup", {"email": "New@Example.com", "name": "Ada", "password": "a-long-passphrase-77"}
    )
    assert response.status_code == 302 and response["Location"] == "/create"
    user = User.objects.get(email="new@example.com")
    assert user.name == "Ada" and user.check_password("a-long-passphrase-77")
    assert client.get("/gallery").status_code == 200


def test_sign_up_errors_are_shown_next_to_their_fields(user):
    client = Client(enforce_csrf_checks=True)
    response = csrf_post(client, "/accounts/signup", {"email": user.email.upper(), "password": "12345678"})
    assert response.status_code == 400
    html = text(response)
    assert re.search(r'id="id_email_error"[^>]*>\s*<li>An account with this email already exists', html) or (
        re.search(r'id="id_password_error"', html)
    )
    assert 'aria-invalid="true"' in html
    # The email is the service's second check: with a good password it is the one reported.
    response = csrf_post(client, "/accounts/signup", {"email": user.email, "password": "a-long-passphrase-77"})
    assert response.status_code == 400
    assert re.search(r'id="id_email_error"[^>]*>\s*<li>An account with this email already exists', text(response))
    response = csrf_post(client, "/accounts/signup", {"email": "fresh@example.com", "password": "12345678"})
    assert re.search(r'id="id_password_error"[^>]*>\s*<li>This password is too common', text(response))
    assert not User.objects.filter(email="fresh@example.com").exists()


def test_logging_in_goes_to_the_page_asked_for(user):
    client = Client(enforce_csrf_checks=True)
    response = csrf_post(
        client, "/accounts/login", {"email": user.email.upper(), "password": DEFAULT_PASSWORD, "next": "/stats"}
    )
    assert response.status_code == 302 and response["Location"] == "/stats"
    assert client.get("/stats").status_code == 200


def test_logging_in_never_redirects_to_another_site(user):
    client = Client(enforce_csrf_checks=True)
    response = csrf_post(
        client, "/accounts/login", {"email": user.email, "password": DEFAULT_PASSWORD, "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == "/gallery"


def test_a_wrong_password_gets_one_message_whatever_was_wrong(user):
    client = Client(enforce_csrf_checks=True)
    wrong = csrf_post(client, "/accounts/login", {"email": user.email, "password": "not-it"})
    unknown = csrf_post(client, "/accounts/login", {"email": "nobody@example.com", "password": "not-it"})
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert "Email or password is incorrect." in text(response)
    assert "_auth_user_id" not in client.session


def test_too_many_login_attempts_are_refused_without_checking_the_password(user, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth": "2/min"},
    }
    client = Client(enforce_csrf_checks=True)
    for _ in range(2):
        csrf_post(client, "/accounts/login", {"email": user.email, "password": "wrong"})
    response = csrf_post(client, "/accounts/login", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 429
    assert "Too many attempts" in text(response)
    assert "_auth_user_id" not in client.session


def test_logging_out_takes_a_post_with_its_csrf_token(browser):
    confirm = browser.get("/accounts/logout")
    assert confirm.status_code == 200 and "_auth_user_id" in browser.session
    assert browser.post("/accounts/logout").status_code == 403  # no CSRF token
    assert "_auth_user_id" in browser.session
    response = csrf_post(browser, "/accounts/logout")
    assert response.status_code == 302 and response["Location"] == "/"
    assert "_auth_user_id" not in browser.session
