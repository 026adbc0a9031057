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


def test_a_polling_client_s_token_is_verified_once_while_its_account_is_read_every_time(
    client_, user, tokens, monkeypatch
):
    from rest_framework_simplejwt import backends

    decodes = []
    real_decode = backends.TokenBackend.decode
    monkeypatch.setattr(
        backends.TokenBackend, "decode", lambda self, *a, **k: decodes.append(1) or real_decode(self, *a, **k)
    )

    assert client_.get(ME, **bearer(tokens["access"])).status_code == 200
    assert client_.get(ME, **bearer(tokens["access"])).status_code == 200
    assert len(decodes) == 1

    user.set_password("a-brand-new-passphrase-4412")  # the account's checks still apply at once
    user.save(update_fields=["password"])
    response = client_.get(ME, **bearer(tokens["access"]))
    assert response.status_code == 401 and "password" in error_of(response)["message"].lower()


def test_a_kept_token_is_refused_once_it_expires(client_, user, monkeypatch):
    from datetime import timedelta

    from accounts.api import authentication

    token = AccessToken.for_user(user)
    raw = str(token)
    assert client_.get(ME, **bearer(raw)).status_code == 200
    later = authentication.aware_utcnow() + authentication.jwt_settings.ACCESS_TOKEN_LIFETIME + timedelta(minutes=1)
    monkeypatch.setattr(authentication, "aware_utcnow", lambda: later)
    assert authentication.VERIFIED_TOKENS.get(raw.encode()) is None
    monkeypatch.setattr("rest_framework_simplejwt.tokens.aware_utcnow", lambda: later)
    response = client_.get(ME, **bearer(raw))
    assert response.status_code == 401 and "expired" in error_of(response)["message"].lower()


def test_the_kept_tokens_are_bounded_oldest_first(user):
    from accounts.api.authentication import VerifiedTokens

    kept = VerifiedTokens(size=2)
    tokens = [AccessToken.for_user(user) for _ in range(3)]
    for token in tokens:
        kept.add(str(token).encode(), token)
    assert kept.get(str(tokens[0]).encode()) is None
    assert kept.get(str(tokens[2]).encode())["jti"] == tokens[2]["jti"]
