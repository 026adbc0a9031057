"""Share links: POST/GET /share-links, DELETE /share-links/{id}, and GET /shared/{token} for anyone."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.utils import timezone
from rest_framework.test import APIClient

from images.models import Album, ShareLink
from tests.images.factories import ImageFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/share-links"


def share(api, **payload: object) -> dict:
    response = api.post(URL, payload, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def shared(token: str, password: str | None = None):
    headers = {"HTTP_X_SHARE_PASSWORD": password} if password is not None else {}
    return APIClient().get(f"/api/v1/shared/{token}", **headers)


def test_sharing_an_image_gives_a_link_anyone_can_read(api, user):
    image = ImageFactory(user=user, title="Dunes", prompt="sand dunes at dusk")
    body = share(api, image=str(image.pk))
    assert set(body) == {"id", "token", "url", "kind", "image", "album", "expires_at", "has_password",
                         "allow_download", "view_count", "created_at"}  # fmt: skip
    assert body["kind"] == "image" and body["url"].endswith(f"/s/{body['token']}")
    assert len(body["token"]) >= 22 and body["allow_download"] is True and body["has_password"] is False
    expires = dt.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert abs((expires - timezone.now()) - dt.timedelta(days=30)) < dt.timedelta(minutes=1)

    response = shared(body["token"])
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["kind"] == "image" and data["image"]["title"] == "Dunes" and data["image"]["url"]
    assert "user" not in str(data) and user.email not in str(data) and "exif" not in data["image"]
    assert ShareLink.objects.get(pk=body["id"]).view_count == 1


def test_tokens_are_long_random_and_distinct(api, user):
    image = ImageFactory(user=user)
    tokens = {share(api, image=str(image.pk))["token"] for _ in range(5)}
    assert len(tokens) == 5 and all(len(token) >= 32 for token in tokens)  # 192 bits, URL-safe base64


def test_an_album_link_shows_its_viewable_images_only(api, user):
    album = Album.objects.create(user=user, title="Trip", description="Summer")
    shown = ImageFactory(user=user, title="Shown")
    hidden = ImageFactory(user=user, title="Hidden", is_hidden=True)
    pending = ImageFactory(user=user, title="Pending", processing="pending")
    album.images.add(shown, hidden, pending)
    data = shared(share(api, album=str(album.pk))["token"]).json()
    assert data["kind"] == "album" and data["album"]["title"] == "Trip"
    assert [row["title"] for row in data["album"]["images"]] == ["Shown"] and data["album"]["image_count"] == 1


def test_an_image_link_to_a_hidden_image_shows_nothing(api, user):
    image = ImageFactory(user=user)
    token = share(api, image=str(image.pk))["token"]
    image.is_hidden = True
    image.save()
    assert shared(token).status_code == 404


def test_expires_in_null_never_expires_and_an_expired_link_is_410(api, user):
    image = ImageFactory(user=user)
    forever = share(api, image=str(image.pk), expires_in=None)
    assert forever["expires_at"] is None
    brief = share(api, image=str(image.pk), expires_in=60)
    ShareLink.objects.filter(pk=brief["id"]).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = shared(brief["token"])
    assert response.status_code == 410 and response.json()["error"]["code"] == "share_expired"
    assert shared(forever["token"]).status_code == 200


def test_a_revoked_or_unknown_token_is_404(api, user):
    link = share(api, image=str(ImageFactory(user=user).pk))
    assert api.delete(f"{URL}/{link['id']}").status_code == 204
    assert shared(link["token"]).status_code == 404
    assert shared("x" * 32).status_code == 404 and shared("y" * 500).status_code == 404
    assert api.delete(f"{URL}/{link['id']}").status_code == 404
    assert api.get(URL).json()["results"] == []


def test_a_password_is_stored_hashed_and_asked_for(api, user):
    link = share(api, image=str(ImageFactory(user=user).pk), password="open sesame")
    assert link["has_password"] is True
    stored = ShareLink.objects.get(pk=link["id"]).password_hash
    assert "open sesame" not in stored and identify_hasher(stored)
    for password in (None, "wrong"):
        response = shared(link["token"], password)
        assert response.status_code == 401 and response.json()["error"]["code"] == "share_password_required"
        assert response["WWW-Authenticate"]
    assert shared(link["token"], "open sesame").status_code == 200


def test_wrong_passwords_are_throttled_like_sign_in(api, user, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "account": "3/15min"},
    }
    link = share(api, image=str(ImageFactory(user=user).pk), password="right")
    assert [shared(link["token"], "wrong").status_code for _ in range(3)] == [401, 401, 401]
    refused = shared(link["token"], "right")  # even the right one, until the window ends
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0


def test_without_allow_download_originals_are_hidden(api, user):
    image = ImageFactory(user=user)
    image.variants = {**image.variants, "webp": {"key": image.storage_key.replace(".png", ".webp"), "format": "WEBP"}}
    image.save()
    data = shared(share(api, image=str(image.pk), allow_download=False)["token"]).json()
    assert data["allow_download"] is False and data["image"]["url"] is None
    assert set(data["image"]["variants"]) == {"thumb_256", "webp"} and data["image"]["thumbnail_url"]


def test_someone_elses_image_or_album_is_404_naming_the_field(api, other_user):
    theirs = ImageFactory(user=other_user)
    album = Album.objects.create(user=other_user, title="Theirs")
    for field, pk in (("image", theirs.pk), ("album", album.pk), ("image", uuid.uuid4())):
        response = api.post(URL, {field: str(pk)}, format="json")
        assert response.status_code == 404 and response.json()["error"]["field"] == field
    assert not ShareLink.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [({}, "image"), ({"expires_in": 5, "image": "x"}, "image"), ({"expires_in": 10**12}, "expires_in"),
     ({"password": "p" * 129}, "password"), ({"visibility": "public"}, "visibility")],
)  # fmt: skip
def test_bad_input_is_a_400(api, user, payload, field):
    payload = {"image": str(ImageFactory(user=user).pk), **payload} if "image" not in payload and payload else payload
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400 and response.json()["error"]["field"] == field


def test_both_image_and_album_is_a_400(api, user):
    album = Album.objects.create(user=user, title="A")
    response = api.post(URL, {"image": str(ImageFactory(user=user).pk), "album": str(album.pk)}, format="json")
    assert response.status_code == 400


def test_another_users_link_cannot_be_listed_or_revoked(api, other_user):
    link = ShareLink.objects.create(user=other_user, image=ImageFactory(user=other_user), token="t" * 32)
    assert api.get(URL).json()["results"] == []
    assert api.delete(f"{URL}/{link.pk}").status_code == 404
    assert shared(link.token).status_code == 200
