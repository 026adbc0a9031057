"""GET/PATCH /api/v1/me, POST /me/password, GET /me/stats."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import tokens_for_user
from images.models import Generation, Image
from tests.accounts.helpers import bearer, error_of
from tests.factories import DEFAULT_PASSWORD, ApiKeyFactory, UserFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"
PASSWORD = "/api/v1/me/password"
STATS = "/api/v1/me/stats"
ROTATE = "/api/v1/me/webhook-secret/rotate"
NEW_PASSWORD = "quartz-meadow-lantern-5150"


def make_generation(user, *, status=Generation.Status.SUCCEEDED, n=1, created_at=None, seconds=None) -> Generation:
    generation = Generation.objects.create(
        user=user, prompt="a fox", width=512, height=512, seed=1, provider="builtin", n=n, status=status
    )
    changes = {}
    if created_at is not None:
        changes["created_at"] = created_at
    if seconds is not None:
        started = timezone.now() - dt.timedelta(minutes=5)
        changes.update(started_at=started, finished_at=started + dt.timedelta(seconds=seconds))
    if changes:
        Generation.objects.filter(pk=generation.pk).update(**changes)
    return generation


def make_image(user, *, source=Image.Source.GENERATED, visibility=Image.Visibility.PRIVATE, size=1000,
               variants=None, processing=Image.Processing.READY, created_at=None) -> Image:  # fmt: skip
    image = Image.objects.create(
        user=user, source=source, visibility=visibility, bytes=size, variants=variants or {},
        processing=processing, storage_key="images/x/original.png",
    )  # fmt: skip
    if created_at is not None:
        Image.objects.filter(pk=image.pk).update(created_at=created_at)
    return image


# --- /me -------------------------------------------------------------------------------


def test_me_requires_authentication(client_):
    response = client_.get(ME)

    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_me_shows_the_profile_with_image_count_and_quota(api, user):
    make_image(user)
    make_image(user, source=Image.Source.UPLOADED)
    make_image(user, processing=Image.Processing.AWAITING_UPLOAD)  # not in the gallery yet
    make_image(UserFactory())
    make_generation(user, n=3)

    response = api.get(ME)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "email", "name", "tier", "date_joined", "image_count", "webhook_secret", "quota"}
    assert body["id"] == str(user.pk)
    assert body["email"] == user.email
    assert body["image_count"] == 2
    assert body["webhook_secret"].startswith("whsec_")
    assert body["date_joined"].endswith("Z")
    quota = body["quota"]
    assert (quota["daily_limit"], quota["used_today"], quota["remaining"]) == (50, 3, 47)
    assert quota["resets_at"].endswith("T00:00:00Z")


def test_an_unlimited_tier_has_a_null_daily_limit(api, user):
    user.tier = "enterprise"
    user.save(update_fields=["tier"])
    make_generation(user, n=4)

    quota = api.get(ME).json()["quota"]

    assert (quota["daily_limit"], quota["used_today"], quota["remaining"]) == (None, 4, None)


def test_patch_changes_the_name_and_nothing_else(api, user):
    response = api.patch(ME, {"name": "  Grace Hopper ", "tier": "enterprise", "email": "x@example.com"}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "Grace Hopper"
    user.refresh_from_db()
    assert (user.name, user.tier) == ("Grace Hopper", "free")
    assert user.email != "x@example.com"


def test_patch_refuses_a_field_a_profile_does_not_have(api, user):
    response = api.patch(ME, {"nmae": "Grace"}, format="json")
    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["field"]) == ("unknown_field", "nmae")


def test_patch_refuses_a_name_that_is_too_long(api):
    response = api.patch(ME, {"name": "x" * 151}, format="json")
    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["field"]) == ("max_length", "name")


def test_patch_refuses_a_body_that_is_not_an_object(api):
    response = api.patch(ME, ["name"], format="json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"


# --- /me/password ----------------------------------------------------------------------


def test_password_change_ends_every_refresh_and_access_token(client_, user):
    first, second = tokens_for_user(user=user), tokens_for_user(user=user)

    response = client_.post(
        PASSWORD, {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}, format="json",
        **bearer(first["access"]),
    )  # fmt: skip

    assert response.status_code == 200
    assert response.json()["message"].startswith("Password changed; every session and sign-in token was signed out")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    for pair in (first, second):
        assert (
            client_.post("/api/v1/auth/token/refresh", {"refresh": pair["refresh"]}, format="json").status_code == 401
        )
        assert client_.get(ME, **bearer(pair["access"])).status_code == 401
    old = client_.post("/api/v1/auth/token", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json")
    new = client_.post("/api/v1/auth/token", {"email": user.email, "password": NEW_PASSWORD}, format="json")
    assert (old.status_code, new.status_code) == (401, 200)


def test_a_browser_session_survives_its_own_password_change(user):
    browser = APIClient()
    browser.force_login(user)

    response = browser.post(
        PASSWORD, {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["message"].startswith("Password changed; every other session and sign-in token")
    assert browser.get(ME).status_code == 200


def test_password_change_revokes_every_api_key_by_default(api, client_, user):
    mine = ApiKeyFactory.create_batch(3, user=user)
    theirs = ApiKeyFactory()

    response = api.post(PASSWORD, {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["api_keys_revoked"], body["api_keys_kept"]) == (3, 0)
    assert body["message"].endswith(" 3 API keys were revoked.")
    for key in mine:
        assert client_.get(ME, HTTP_X_API_KEY=key.raw_key).status_code == 401
    assert client_.get(ME, HTTP_X_API_KEY=theirs.raw_key).status_code == 200


def test_password_change_refuses_text_for_the_revoke_api_keys_flag(api, user):
    body = {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD, "revoke_api_keys": "false"}
    response = api.post(PASSWORD, body, format="json")
    assert response.status_code == 400
    assert (response.json()["error"]["code"], response.json()["error"]["field"]) == ("invalid_type", "revoke_api_keys")
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_change_keeps_the_api_keys_when_asked(api, client_, user):
    key = ApiKeyFactory(user=user)

    response = api.post(
        PASSWORD,
        {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD, "revoke_api_keys": False},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["api_keys_revoked"], body["api_keys_kept"]) == (0, 1)
    assert body["message"].endswith(" API keys kept: 1 API key still works.")
    assert client_.get(ME, HTTP_X_API_KEY=key.raw_key).status_code == 200


def test_password_change_says_when_there_was_no_key_to_revoke(api):
    response = api.post(PASSWORD, {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}, format="json")
    assert response.json()["api_keys_revoked"] == 0
    assert response.json()["message"].endswith(" You had no API keys.")


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_an_api_key_cannot_change_the_password(client_, user, header):
    key = ApiKeyFactory(user=user)
    headers = bearer(key.raw_key) if header == "bearer" else {"HTTP_X_API_KEY": key.raw_key}

    response = client_.post(
        PASSWORD, {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}, format="json", **headers
    )

    assert response.status_code == 403
    assert error_of(response)["code"] == "key_not_allowed"
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)
    assert client_.get(ME, **headers).status_code == 200


def test_password_change_refuses_a_revoke_api_keys_that_is_not_a_boolean(api, user):
    response = api.post(
        PASSWORD,
        {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD, "revoke_api_keys": "perhaps"},
        format="json",
    )
    assert response.status_code == 400
    assert error_of(response)["field"] == "revoke_api_keys"
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_change_refuses_a_wrong_current_password(api, user):
    response = api.post(PASSWORD, {"current_password": "nope", "new_password": NEW_PASSWORD}, format="json")

    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["field"]) == ("invalid", "current_password")
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_change_refuses_a_weak_new_password(api, user):
    response = api.post(PASSWORD, {"current_password": DEFAULT_PASSWORD, "new_password": "123"}, format="json")

    assert response.status_code == 400
    error = error_of(response)
    assert error["field"] == "new_password"
    assert error["code"] == "password_too_short"
    assert len(error["details"]["new_password"]) >= 2  # too short and entirely numeric
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_change_names_missing_fields(api):
    response = api.post(PASSWORD, {}, format="json")
    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"current_password", "new_password"}


def test_password_change_requires_authentication(client_):
    response = client_.post(PASSWORD, {"current_password": "a", "new_password": "b"}, format="json")
    assert response.status_code == 401


# --- /me/webhook-secret/rotate ---------------------------------------------------------


def test_rotating_the_webhook_secret_issues_a_new_one_that_me_shows(api, user):
    old = user.webhook_secret
    before = timezone.now()

    response = api.post(ROTATE)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"webhook_secret", "previous_secret_expires_at"}
    assert body["webhook_secret"].startswith("whsec_") and body["webhook_secret"] != old
    expires = dt.datetime.fromisoformat(body["previous_secret_expires_at"])
    assert before + dt.timedelta(hours=24) <= expires <= timezone.now() + dt.timedelta(hours=24)
    assert api.get(ME).json()["webhook_secret"] == body["webhook_secret"]
    user.refresh_from_db()
    assert (user.webhook_secret, user.previous_webhook_secret) == (body["webhook_secret"], old)


def test_a_second_rotation_keeps_the_first_ones_secret_as_the_previous(api, user):
    first = api.post(ROTATE).json()["webhook_secret"]
    second = api.post(ROTATE).json()["webhook_secret"]

    user.refresh_from_db()
    assert (user.webhook_secret, user.previous_webhook_secret) == (second, first)


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_an_api_key_cannot_rotate_the_webhook_secret(client_, user, header):
    key = ApiKeyFactory(user=user)
    headers = bearer(key.raw_key) if header == "bearer" else {"HTTP_X_API_KEY": key.raw_key}

    response = client_.post(ROTATE, **headers)

    assert response.status_code == 403
    assert error_of(response)["code"] == "key_not_allowed"
    assert User.objects.get(pk=user.pk).webhook_secret == user.webhook_secret


def test_a_browser_session_can_rotate_the_webhook_secret(user):
    browser = APIClient()
    browser.force_login(user)
    assert browser.post(ROTATE).status_code == 200


def test_rotating_the_webhook_secret_requires_authentication(client_):
    response = client_.post(ROTATE)
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


# --- /me/stats -------------------------------------------------------------------------


def test_stats_count_the_users_own_rows(api, user):
    now = timezone.now()
    last_month = now.replace(day=1) - dt.timedelta(days=2)
    make_image(user, size=1000, variants={"thumb_256": {"bytes": 100}, "webp": {"bytes": 400}})
    make_image(user, size=2000, visibility=Image.Visibility.PUBLIC)
    make_image(
        user, source=Image.Source.UPLOADED, size=500, variants={"thumb_256": {"bytes": 50}}, created_at=last_month
    )
    make_image(user, processing=Image.Processing.AWAITING_UPLOAD, size=9999)
    make_image(UserFactory(), size=123456, visibility=Image.Visibility.PUBLIC)
    make_generation(user, n=2, seconds=10)
    make_generation(user, n=1, seconds=20)
    make_generation(user, status=Generation.Status.FAILED, seconds=99)
    make_generation(user, status=Generation.Status.QUEUED, n=4)
    make_generation(user, status=Generation.Status.SUCCEEDED, created_at=last_month, seconds=30)
    make_generation(UserFactory(), n=4, seconds=500)

    response = api.get(STATS)

    assert response.status_code == 200
    body = response.json()
    assert body["images"] == {"total": 3, "generated": 2, "uploaded": 1, "public": 1}
    assert body["generations"] == {"total": 5, "queued": 1, "running": 0, "succeeded": 3, "failed": 1, "canceled": 0}
    assert body["storage_bytes"] == 1000 + 100 + 400 + 2000 + 500 + 50
    month = body["this_month"]
    assert (month["generations"], month["images_requested"], month["images"]) == (4, 8, 2)
    assert month["since"] == now.strftime("%Y-%m-01T00:00:00Z")
    assert body["mean_generation_seconds"] == pytest.approx(20.0)
    assert body["quota"]["used_today"] == 8


def test_stats_of_a_new_user_are_zeros(api):
    body = api.get(STATS).json()

    assert body["images"] == {"total": 0, "generated": 0, "uploaded": 0, "public": 0}
    assert body["generations"]["total"] == 0
    assert body["storage_bytes"] == 0
    assert body["mean_generation_seconds"] is None
    assert body["quota"]["remaining"] == 50


def test_stats_require_authentication(client_):
    assert client_.get(STATS).status_code == 401
