"""POST /api/v1/auth/signup, /auth/token, /auth/token/refresh, /auth/token/verify, /auth/logout."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
from django.db import connection, connections
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import services
from accounts.models import RefreshTokenFamily, User
from accounts.services import FAMILY_CLAIM, tokens_for_user
from imagegen.errors import Unauthenticated
from tests.accounts.helpers import bearer, error_of
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SIGNUP = "/api/v1/auth/signup"
TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/token/refresh"
VERIFY = "/api/v1/auth/token/verify"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/me"
STRONG = "plum-orbit-glacier-7731"


def me_status(client_, access: str) -> int:
    return client_.get(ME, **bearer(access)).status_code


# --- Sign-up ---------------------------------------------------------------------------


def test_it_signs_up_and_returns_the_user_and_a_working_token_pair(client_):
    response = client_.post(SIGNUP, {"email": "New@Example.com", "password": STRONG, "name": "Ada"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"user", "access", "refresh"}
    assert body["user"]["email"] == "new@example.com"
    assert body["user"]["name"] == "Ada"
    assert body["user"]["tier"] == "free"
    assert body["user"]["quota"]["daily_limit"] == 50
    assert User.objects.get(email="new@example.com").check_password(STRONG)
    assert me_status(client_, body["access"]) == 200
    assert client_.post(REFRESH, {"refresh": body["refresh"]}, format="json").status_code == 200


def test_signup_name_is_optional(client_):
    response = client_.post(SIGNUP, {"email": "quiet@example.com", "password": STRONG}, format="json")
    assert response.status_code == 201
    assert response.json()["user"]["name"] == ""


def test_it_refuses_an_email_taken_in_another_case(client_):
    UserFactory(email="taken@example.com")

    response = client_.post(SIGNUP, {"email": "TAKEN@example.COM", "password": STRONG}, format="json")

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "email_taken"
    assert error["field"] == "email"
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1", "password_too_short"),
        ("password123", "password_too_common"),
        ("48213976451203", "password_entirely_numeric"),
    ],
)
def test_it_refuses_a_weak_password(client_, password, reason):
    response = client_.post(SIGNUP, {"email": "weak@example.com", "password": password}, format="json")

    assert response.status_code == 400
    error = error_of(response)
    assert error["field"] == "password"
    assert error["code"] == reason  # the first validator that fails names the code
    assert error["message"].startswith("password: ")
    assert not User.objects.filter(email="weak@example.com").exists()


def test_it_refuses_a_password_like_the_email(client_):
    response = client_.post(SIGNUP, {"email": "marmaladesky@example.com", "password": "marmaladesky"}, format="json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "password_too_similar"


def test_it_refuses_a_malformed_email(client_):
    response = client_.post(SIGNUP, {"email": "not-an-email", "password": STRONG}, format="json")

    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid", "email")
    assert error["details"] == {"email": ["Enter a valid email address."]}


def test_it_names_every_missing_field(client_):
    response = client_.post(SIGNUP, {}, format="json")

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "required"
    assert error["field"] == "email"
    assert error["message"] == "email: This field is required."
    assert set(error["details"]) == {"email", "password"}


def test_it_refuses_a_name_that_is_too_long(client_):
    response = client_.post(SIGNUP, {"email": "long@example.com", "password": STRONG, "name": "x" * 151}, format="json")
    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["field"]) == ("max_length", "name")


def test_a_stale_token_sent_out_of_habit_does_not_block_signing_up(client_):
    response = client_.post(
        SIGNUP, {"email": "fresh@example.com", "password": STRONG}, format="json", **bearer("garbage.token.here")
    )
    assert response.status_code == 201


# --- Sign-in ---------------------------------------------------------------------------


def test_it_signs_in_with_email_in_any_case(client_):
    user = UserFactory(email="dana@example.com")

    response = client_.post(TOKEN, {"email": "DANA@example.com", "password": DEFAULT_PASSWORD}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh"}
    assert AccessToken(body["access"])["user_id"] == str(user.pk)
    user.refresh_from_db()
    assert user.last_login is not None


def test_wrong_password_and_unknown_email_get_the_same_401(client_):
    UserFactory(email="erin@example.com")

    wrong = client_.post(TOKEN, {"email": "erin@example.com", "password": "not-her-password"}, format="json")
    unknown = client_.post(TOKEN, {"email": "nobody@example.com", "password": "not-her-password"}, format="json")

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert error_of(wrong)["code"] == "authentication_failed"
    assert wrong["WWW-Authenticate"] == 'Bearer realm="api"'


def test_an_inactive_user_cannot_sign_in_and_is_told_nothing_more(client_):
    UserFactory(email="gone@example.com", is_active=False)

    response = client_.post(TOKEN, {"email": "gone@example.com", "password": DEFAULT_PASSWORD}, format="json")
    unknown = client_.post(TOKEN, {"email": "nobody@example.com", "password": DEFAULT_PASSWORD}, format="json")

    assert response.status_code == 401
    assert response.json() == unknown.json()


def test_sign_in_names_missing_fields(client_):
    response = client_.post(TOKEN, {"email": "x@example.com"}, format="json")
    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["field"]) == ("required", "password")


# --- Tokens on requests ----------------------------------------------------------------


def test_token_lifetimes_come_from_settings(settings, user):
    pair = tokens_for_user(user=user)
    access, refresh = AccessToken(pair["access"]), RefreshToken(pair["refresh"])
    assert access["exp"] - access["iat"] == settings.JWT_ACCESS_MINUTES * 60
    assert refresh["exp"] - refresh["iat"] == settings.JWT_REFRESH_DAYS * 86400


def test_an_inactive_users_tokens_stop_working(client_, user, tokens):
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert me_status(client_, tokens["access"]) == 401
    refreshed = client_.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 401
    assert error_of(refreshed)["code"] == "authentication_failed"
    assert client_.post(VERIFY, {"token": tokens["access"]}, format="json").status_code == 401


def test_an_expired_access_token_is_401(client_, user):
    token = AccessToken.for_user(user)
    token.set_exp(from_time=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), lifetime=dt.timedelta(minutes=1))

    response = client_.get(ME, **bearer(str(token)))

    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == "authentication_failed"
    assert "expired" in error["message"].lower()


def test_a_tampered_token_is_401(client_, tokens):
    header, _payload, signature = tokens["access"].split(".")
    claims = jwt.decode(tokens["access"], options={"verify_signature": False})
    claims["user_id"] = str(UserFactory().pk)  # someone else's account
    forged_payload = jwt.encode(claims, "any-key-the-payload-part-ignores-it", algorithm="HS256").split(".")[1]

    assert me_status(client_, f"{header}.{forged_payload}.{signature}") == 401


def test_a_token_signed_with_another_key_is_401(client_, tokens):
    claims = jwt.decode(tokens["access"], options={"verify_signature": False})
    assert me_status(client_, jwt.encode(claims, "not-our-secret-key-at-all-0123456789", algorithm="HS256")) == 401


def test_an_alg_none_token_is_401(client_, tokens):
    claims = jwt.decode(tokens["access"], options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")

    assert me_status(client_, unsigned) == 401
    assert client_.post(VERIFY, {"token": unsigned}, format="json").status_code == 401


def test_a_refresh_token_is_not_an_access_token(client_, tokens):
    assert me_status(client_, tokens["refresh"]) == 401


def test_a_malformed_authorization_header_is_401(client_):
    response = client_.get(ME, HTTP_AUTHORIZATION="Bearer")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


# --- Refresh (rotation) ----------------------------------------------------------------


def test_refresh_rotates_and_the_old_refresh_token_dies(client_, tokens):
    response = client_.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh"}
    assert body["refresh"] != tokens["refresh"]
    assert me_status(client_, body["access"]) == 200

    reused = client_.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    assert reused.status_code == 401
    assert "blacklisted" in error_of(reused)["message"]


def refreshed(client_, refresh: str) -> dict[str, str]:
    response = client_.post(REFRESH, {"refresh": refresh}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def family_of(token: str) -> str:
    return jwt.decode(token, options={"verify_signature": False})[FAMILY_CLAIM]


def test_rotation_keeps_the_sign_ins_family_and_a_new_sign_in_starts_another(client_, user, tokens):
    second = refreshed(client_, tokens["refresh"])
    third = refreshed(client_, second["refresh"])

    assert family_of(tokens["refresh"]) == family_of(second["refresh"]) == family_of(third["refresh"])
    assert family_of(tokens_for_user(user=user)["refresh"]) != family_of(tokens["refresh"])


def test_reusing_a_rotated_refresh_token_revokes_its_whole_family(client_, user, tokens):
    second = refreshed(client_, tokens["refresh"])
    live = refreshed(client_, second["refresh"])
    other_sign_in = tokens_for_user(user=user)

    reused = client_.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")

    assert reused.status_code == 401
    refused = client_.post(REFRESH, {"refresh": live["refresh"]}, format="json")
    assert refused.status_code == 401
    assert "sign-in was revoked" in error_of(refused)["message"]
    assert client_.post(REFRESH, {"refresh": second["refresh"]}, format="json").status_code == 401
    assert client_.post(VERIFY, {"token": live["refresh"]}, format="json").status_code == 401
    assert client_.post(LOGOUT, {"refresh": live["refresh"]}, format="json").status_code == 401
    refreshed(client_, other_sign_in["refresh"])  # another sign-in of the same user is left alone


def test_reusing_any_rotated_ancestor_revokes_the_family(client_, tokens):
    second = refreshed(client_, tokens["refresh"])
    live = refreshed(client_, second["refresh"])

    assert client_.post(REFRESH, {"refresh": second["refresh"]}, format="json").status_code == 401

    assert client_.post(REFRESH, {"refresh": live["refresh"]}, format="json").status_code == 401


def test_of_two_requests_racing_with_one_refresh_token_one_wins_and_the_family_dies(client_, tokens, monkeypatch):
    # The loser read the token before the winner blacklisted it: it fails in _use_once, not on reading.
    read_early = RefreshToken(tokens["refresh"])
    winner = services.token_refresh(refresh=tokens["refresh"])
    monkeypatch.setattr(services, "_refresh_token", lambda raw: read_early)

    with pytest.raises(Unauthenticated, match="blacklisted"):
        services.token_refresh(refresh=tokens["refresh"])

    monkeypatch.undo()
    assert OutstandingToken.objects.filter(blacklistedtoken__isnull=True).count() == 1  # the winner's only
    assert client_.post(REFRESH, {"refresh": winner["refresh"]}, format="json").status_code == 401


def test_a_refresh_token_from_before_families_still_rotates_into_one(client_, user):
    legacy = RefreshToken.for_user(user)
    assert FAMILY_CLAIM not in legacy

    rotated = refreshed(client_, str(legacy))

    assert family_of(rotated["refresh"])
    assert client_.post(REFRESH, {"refresh": str(legacy)}, format="json").status_code == 401
    refreshed(client_, rotated["refresh"])


def test_logout_ends_the_sign_ins_family(client_, tokens):
    second = refreshed(client_, tokens["refresh"])

    assert client_.post(LOGOUT, {"refresh": second["refresh"]}, format="json").status_code == 204

    assert RefreshTokenFamily.objects.get(pk=family_of(second["refresh"])).revoked_at is not None


def test_refresh_refuses_an_access_token_and_garbage(client_, tokens):
    assert client_.post(REFRESH, {"refresh": tokens["access"]}, format="json").status_code == 401
    assert client_.post(REFRESH, {"refresh": "nonsense"}, format="json").status_code == 401


def test_refresh_requires_the_field(client_):
    response = client_.post(REFRESH, {}, format="json")
    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["field"]) == ("required", "refresh")


# --- Verify ----------------------------------------------------------------------------


def test_verify_accepts_live_tokens(client_, tokens):
    access = client_.post(VERIFY, {"token": tokens["access"]}, format="json")
    refresh = client_.post(VERIFY, {"token": tokens["refresh"]}, format="json")

    assert access.status_code == refresh.status_code == 200
    assert access.json()["token_type"] == "access"
    assert refresh.json()["token_type"] == "refresh"
    assert access.json()["expires_at"].endswith("Z")


def test_verify_refuses_garbage_and_dead_refresh_tokens_with_401(client_, tokens):
    assert client_.post(VERIFY, {"token": "a.b.c"}, format="json").status_code == 401
    client_.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json")
    assert client_.post(VERIFY, {"token": tokens["refresh"]}, format="json").status_code == 401


# --- Logout ----------------------------------------------------------------------------


def test_logout_kills_the_refresh_token(client_, tokens):
    response = client_.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json")

    assert response.status_code == 204
    assert response.content == b""
    assert client_.post(REFRESH, {"refresh": tokens["refresh"]}, format="json").status_code == 401
    assert client_.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json").status_code == 401


def test_logout_refuses_garbage(client_):
    response = client_.post(LOGOUT, {"refresh": "garbage"}, format="json")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


@pytest.mark.django_db(transaction=True)
def test_two_requests_truly_racing_with_one_refresh_token_get_at_most_one_pair_and_the_family_dies():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers: no real race to observe")
    user = UserFactory()
    first = tokens_for_user(user=user)
    barrier = threading.Barrier(2)

    def race() -> dict[str, str] | None:
        barrier.wait()
        try:
            return services.token_refresh(refresh=first["refresh"])
        except Unauthenticated:
            return None
        finally:
            connections.close_all()

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: race(), range(2)))

    won = [pair for pair in results if pair is not None]
    assert len(won) == 1
    with pytest.raises(Unauthenticated, match="sign-in was revoked"):
        services.token_refresh(refresh=won[0]["refresh"])
