"""JWTAuthentication.get_user: simplejwt's checks on a user read by one compiled query."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from accounts.selectors import user_by_id
from tests.accounts.helpers import bearer, error_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"


def test_a_token_of_a_deleted_user_is_401_user_not_found(client_, user, tokens):
    User.objects.filter(pk=user.pk).delete()

    response = client_.get(ME, **bearer(tokens["access"]))

    assert response.status_code == 401
    assert error_of(response)["message"] == "User not found"


def test_a_token_from_before_a_password_change_is_401(client_, user, tokens):
    user.set_password("a-brand-new-passphrase-4412")
    user.save(update_fields=["password"])

    response = client_.get(ME, **bearer(tokens["access"]))

    assert response.status_code == 401
    assert "password" in error_of(response)["message"].lower()


def test_a_token_without_a_user_claim_is_401(client_, user):
    token = AccessToken.for_user(user)
    del token["user_id"]

    assert client_.get(ME, **bearer(str(token))).status_code == 401


def test_a_jwt_request_reads_its_user_in_one_query(client_, user, tokens):
    client_.get(ME, **bearer(tokens["access"]))  # compiles the lookup on this connection
    with CaptureQueriesContext(connection) as captured:
        response = client_.get(ME, **bearer(tokens["access"]))

    assert response.status_code == 200
    assert response.json()["email"] == user.email
    user_queries = [q["sql"] for q in captured.captured_queries if 'FROM "accounts_user"' in q["sql"]]
    assert len(user_queries) == 1


def test_user_by_id_returns_the_whole_user_or_none():
    user = UserFactory(name="Ada", tier="pro")

    found = user_by_id(str(user.pk))

    assert found == user
    assert (found.email, found.name, found.tier, found.password) == (user.email, "Ada", "pro", user.password)
    assert found._state.adding is False and found._state.db == "default"
    assert user_by_id("not-a-uuid") is None
    assert user_by_id("00000000-0000-0000-0000-000000000009") is None
