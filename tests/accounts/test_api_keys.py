"""/api/v1/me/api-keys, API-key authentication, cursor pagination (on the key list) and `createapikey`."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ApiKey, User
from tests.accounts.helpers import bearer, error_of
from tests.factories import ApiKeyFactory, UserFactory

pytestmark = pytest.mark.django_db

KEYS = "/api/v1/me/api-keys"
ME = "/api/v1/me"


# --- Create, list, revoke --------------------------------------------------------------


def test_it_creates_a_key_shown_once_and_stored_hashed(api, user):
    response = api.post(KEYS, {"name": "ci"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "prefix", "key", "created_at"}
    assert body["key"].startswith("igk_")
    assert len(body["key"]) >= 4 + 43  # 32 random bytes
    assert body["prefix"] == body["key"][:12]
    key = ApiKey.objects.get(pk=body["id"])
    assert key.user == user
    assert key.key_hash == services.hash_api_key(body["key"])
    assert body["key"] not in {key.name, key.prefix, key.key_hash}

    listed = api.get(KEYS).json()["results"]
    assert [item["id"] for item in listed] == [body["id"]]
    assert set(listed[0]) == {"id", "name", "prefix", "created_at", "last_used_at"}


def test_create_requires_a_name(api):
    for payload, code in [({}, "required"), ({"name": ""}, "blank"), ({"name": "x" * 101}, "max_length")]:
        response = api.post(KEYS, payload, format="json")
        assert response.status_code == 400
        assert (error_of(response)["code"], error_of(response)["field"]) == (code, "name")


def test_create_refuses_a_whitespace_name(api):
    response = api.post(KEYS, {"name": "   "}, format="json")
    assert response.status_code == 400
    assert error_of(response)["field"] == "name"


def test_it_limits_active_keys_per_user(api, user, monkeypatch):
    monkeypatch.setattr(services, "MAX_ACTIVE_API_KEYS", 2)
    ApiKeyFactory.create_batch(2, user=user)
    ApiKeyFactory(user=user, revoked_at=timezone.now())  # revoked keys do not count

    response = api.post(KEYS, {"name": "third"}, format="json")

    assert response.status_code == 409
    assert error_of(response)["code"] == "too_many_api_keys"


def test_the_list_shows_only_the_users_live_keys(api, user):
    mine = ApiKeyFactory(user=user)
    ApiKeyFactory(user=user, revoked_at=timezone.now())
    ApiKeyFactory()

    results = api.get(KEYS).json()["results"]

    assert [item["id"] for item in results] == [str(mine.pk)]
    assert "key" not in results[0]


def test_delete_revokes_at_once(client_, api, user):
    key = ApiKeyFactory(user=user)
    assert client_.get(ME, **bearer(key.raw_key)).status_code == 200

    response = api.delete(f"{KEYS}/{key.pk}")

    assert response.status_code == 204
    key.refresh_from_db()
    assert key.revoked_at is not None
    refused = client_.get(ME, **bearer(key.raw_key))
    assert refused.status_code == 401
    assert error_of(refused)["code"] == "authentication_failed"
    assert api.delete(f"{KEYS}/{key.pk}").status_code == 404


def test_another_users_key_is_404_and_keeps_working(client_, api):
    theirs = ApiKeyFactory()

    response = api.delete(f"{KEYS}/{theirs.pk}")

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert client_.get(ME, **bearer(theirs.raw_key)).status_code == 200


def test_unknown_and_malformed_key_ids_are_404(api):
    assert api.delete(f"{KEYS}/{uuid.uuid4()}").status_code == 404
    malformed = api.delete(f"{KEYS}/not-a-uuid")
    assert malformed.status_code == 404
    assert error_of(malformed)["code"] == "not_found"


def test_keys_endpoints_require_authentication(client_):
    assert client_.get(KEYS).status_code == 401
    assert client_.post(KEYS, {"name": "x"}, format="json").status_code == 401


# --- Authentication with a key ---------------------------------------------------------


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_a_key_authenticates_as_its_user(client_, header):
    key = ApiKeyFactory()
    headers = bearer(key.raw_key) if header == "bearer" else {"HTTP_X_API_KEY": key.raw_key}

    response = client_.get(ME, **headers)

    assert response.status_code == 200
    assert response.json()["id"] == str(key.user.pk)


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_a_key_cannot_create_keys(client_, header):
    key = ApiKeyFactory()
    headers = bearer(key.raw_key) if header == "bearer" else {"HTTP_X_API_KEY": key.raw_key}

    response = client_.post(KEYS, {"name": "made by a key"}, format="json", **headers)

    assert response.status_code == 403
    assert error_of(response)["code"] == "key_not_allowed"
    assert list(ApiKey.objects.values_list("pk", flat=True)) == [key.pk]


def test_a_key_cannot_revoke_keys_not_even_itself(client_):
    key = ApiKeyFactory()
    other = ApiKeyFactory(user=key.user)

    for target in (other, key):
        response = client_.delete(f"{KEYS}/{target.pk}", HTTP_X_API_KEY=key.raw_key)
        assert response.status_code == 403
        assert error_of(response)["code"] == "key_not_allowed"
    assert ApiKey.objects.filter(user=key.user, revoked_at__isnull=True).count() == 2


def test_a_key_may_still_list_keys(client_):
    key = ApiKeyFactory()
    response = client_.get(KEYS, HTTP_X_API_KEY=key.raw_key)
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [str(key.pk)]


def test_a_browser_session_manages_keys(user):
    browser = APIClient()
    browser.force_login(user)

    created = browser.post(KEYS, {"name": "from the browser"}, format="json")
    assert created.status_code == 201
    assert browser.delete(f"{KEYS}/{created.json()['id']}").status_code == 204


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_X_API_KEY": "igk_not-a-real-key-at-all-0000000000000000000000"},
        {"HTTP_X_API_KEY": "something-else"},
        {"HTTP_AUTHORIZATION": "Bearer igk_not-a-real-key-at-all-0000000000000000000000"},
    ],
)
def test_an_unknown_key_is_401(client_, headers):
    response = client_.get(ME, **headers)

    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_key_of_an_inactive_user_is_401(client_):
    key = ApiKeyFactory()
    User.objects.filter(pk=key.user.pk).update(is_active=False)
    assert client_.get(ME, HTTP_X_API_KEY=key.raw_key).status_code == 401


def test_last_used_at_is_written_at_most_once_a_minute(client_):
    key = ApiKeyFactory()

    client_.get(ME, HTTP_X_API_KEY=key.raw_key)
    key.refresh_from_db()
    first_use = key.last_used_at
    assert first_use is not None

    with CaptureQueriesContext(connection) as queries:
        assert client_.get(ME, HTTP_X_API_KEY=key.raw_key).status_code == 200
    assert not [q for q in queries if q["sql"].startswith("UPDATE") and "accounts_apikey" in q["sql"]]
    key.refresh_from_db()
    assert key.last_used_at == first_use

    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() - dt.timedelta(minutes=2))
    client_.get(ME, HTTP_X_API_KEY=key.raw_key)
    key.refresh_from_db()
    assert key.last_used_at > first_use


def test_of_two_requests_holding_a_stale_key_only_one_writes():
    key = ApiKeyFactory(last_used_at=None)
    first, second = ApiKey.objects.get(pk=key.pk), ApiKey.objects.get(pk=key.pk)  # both loaded before a write

    assert services.api_key_touch(key=first) is True
    written = ApiKey.objects.get(pk=key.pk).last_used_at
    assert services.api_key_touch(key=second, now=written + dt.timedelta(seconds=5)) is False

    assert ApiKey.objects.get(pk=key.pk).last_used_at == written


# --- Pagination (on the key list) ------------------------------------------------------


def _make_keys(user, count: int) -> list[ApiKey]:
    base = timezone.now() - dt.timedelta(hours=1)
    return [ApiKeyFactory(user=user, created_at=base + dt.timedelta(minutes=i)) for i in range(count)]


def test_the_list_pages_with_a_cursor_newest_first(api, user):
    keys = _make_keys(user, 5)
    expected = [str(k.pk) for k in reversed(keys)]

    first = api.get(KEYS, {"limit": 2}).json()
    assert set(first) == {"results", "next", "previous"}
    assert [k["id"] for k in first["results"]] == expected[:2]
    assert first["previous"] is None
    second = api.get(first["next"]).json()
    assert [k["id"] for k in second["results"]] == expected[2:4]
    third = api.get(second["next"]).json()
    assert [k["id"] for k in third["results"]] == expected[4:]
    assert third["next"] is None
    back = api.get(third["previous"]).json()
    assert [k["id"] for k in back["results"]] == expected[2:4]


def test_the_default_page_holds_20(api, user):
    _make_keys(user, 21)
    body = api.get(KEYS).json()
    assert len(body["results"]) == 20
    assert body["next"] is not None


@pytest.mark.parametrize(
    ("limit", "code"), [("0", "min_value"), ("101", "max_value"), ("abc", "invalid"), ("-1", "min_value")]
)
def test_a_limit_out_of_range_is_400_naming_limit(api, limit, code):
    response = api.get(KEYS, {"limit": limit})

    assert response.status_code == 400
    error = error_of(response)
    assert (error["field"], error["code"]) == ("limit", code)


def test_limit_100_is_allowed(api):
    assert api.get(KEYS, {"limit": 100}).status_code == 200


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!not-base64",
        base64.b64encode(b"o=abc").decode(),
        base64.b64encode(b"p=not-a-date").decode(),
        base64.b64encode("p=é".encode()).decode(),
    ],
)
def test_a_bad_cursor_is_400_invalid_cursor(api, user, cursor):
    _make_keys(user, 2)

    response = api.get(KEYS, {"cursor": cursor})

    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_cursor", "cursor")


# --- createapikey ----------------------------------------------------------------------


def test_createapikey_prints_a_working_key(client_):
    user = UserFactory(email="ops@example.com")
    out, err = StringIO(), StringIO()

    call_command("createapikey", "OPS@example.com", "--name", "deploy", stdout=out, stderr=err)

    raw_key = out.getvalue().strip()
    assert raw_key.startswith("igk_")
    assert "shown only now" in err.getvalue()
    key = ApiKey.objects.get(user=user)
    assert key.name == "deploy"
    assert client_.get(ME, HTTP_X_API_KEY=raw_key).json()["email"] == "ops@example.com"


def test_createapikey_refuses_an_unknown_email():
    with pytest.raises(CommandError, match="No user"):
        call_command("createapikey", "ghost@example.com", stdout=StringIO(), stderr=StringIO())


def test_createapikey_refuses_an_inactive_user():
    UserFactory(email="off@example.com", is_active=False)
    with pytest.raises(CommandError, match="inactive"):
        call_command("createapikey", "off@example.com", stdout=StringIO(), stderr=StringIO())
