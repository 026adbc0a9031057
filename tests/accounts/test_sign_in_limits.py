"""Sign-in is limited per address and per account, on the API, the site and the admin alike."""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    def apply(**scopes: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                "anon": "100000/hour", "user": "100000/hour", "auth": "100000/hour", "account": "100000/hour",
                **scopes,
            },
        }  # fmt: skip

    return apply


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True)


def admin_post(client: Client, email: str, password: str):
    return client.post("/admin/login/?next=/admin/", {"username": email, "password": password})


def test_the_admin_sign_in_is_throttled_per_address_and_then_checks_no_password(rates, staff):
    rates(auth="20/15min")
    client = Client()

    answers = [admin_post(client, staff.email, "wrong").status_code for _ in range(30)]
    right = admin_post(client, staff.email, DEFAULT_PASSWORD)

    assert answers[:20] == [200] * 20  # the form again, with its error
    assert answers[20:] == [429] * 10
    assert right.status_code == 429 and b"Too many attempts" in right.content


def test_the_admin_sign_in_is_throttled_per_account_across_addresses(rates, staff):
    rates(account="5/15min")

    answers = [admin_post(Client(REMOTE_ADDR=f"198.51.100.{i}"), staff.email, "wrong").status_code for i in range(1, 8)]
    other_account = admin_post(Client(REMOTE_ADDR="198.51.100.99"), "someone@example.com", "wrong")

    assert answers == [200] * 5 + [429] * 2
    assert other_account.status_code == 200


def test_a_staff_member_still_signs_in_to_the_admin(staff):
    response = admin_post(Client(), staff.email, DEFAULT_PASSWORD)

    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_failed_and_throttled_admin_sign_ins_are_logged(rates, staff, caplog):
    rates(auth="1/15min")
    client = Client()

    with caplog.at_level(logging.WARNING, logger="accounts.web.views"):
        admin_post(client, staff.email, "wrong")
        admin_post(client, staff.email, "wrong")

    messages = [(record.getMessage(), record.email) for record in caplog.records if record.name == "accounts.web.views"]
    assert messages == [("admin sign-in failed", staff.email), ("admin sign-in throttled", staff.email)]


def test_the_api_sign_in_is_throttled_per_account_across_addresses(rates):
    rates(account="3/15min")
    user = UserFactory()

    def sign_in(address: str, email: str = user.email, password: str = "wrong") -> int:  # noqa: S107 - a wrong guess
        body = {"email": email, "password": password}
        return APIClient(REMOTE_ADDR=address).post("/api/v1/auth/token", body, format="json").status_code

    answers = [sign_in(f"203.0.113.{i}") for i in range(1, 5)]

    assert answers == [401, 401, 401, 429]
    assert sign_in("203.0.113.50", password=DEFAULT_PASSWORD) == 429  # the account waits, whoever asks
    assert sign_in("203.0.113.51", email=user.email.upper()) == 429  # the same account, however spelled
    assert sign_in("203.0.113.52", email="other@example.com") == 401


def test_the_site_sign_in_is_throttled_per_account_across_addresses(rates):
    rates(account="2/15min")
    user = UserFactory()

    answers = [
        Client(REMOTE_ADDR=f"192.0.2.{i}").post("/accounts/login", {"email": user.email, "password": "wrong"})
        for i in range(1, 4)
    ]

    assert [answer.status_code for answer in answers][2] == 429
    assert all(b"Too many attempts" not in answer.content for answer in answers[:2])
    assert b"Too many attempts for this account" in answers[2].content
