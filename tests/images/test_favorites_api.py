"""Favorites: PATCH {favorite}, the image's ``favorite`` field and GET /images?favorite=."""

from __future__ import annotations

import pytest

from tests.images.factories import ImageFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/images"


def test_patch_marks_and_unmarks_a_favorite(api, user):
    image = ImageFactory(user=user)
    assert api.get(f"{URL}/{image.pk}").json()["favorite"] is False
    response = api.patch(f"{URL}/{image.pk}", {"favorite": True}, format="json")
    assert response.status_code == 200 and response.json()["favorite"] is True
    image.refresh_from_db()
    assert image.favorite
    assert api.patch(f"{URL}/{image.pk}", {"favorite": False}, format="json").json()["favorite"] is False


def test_the_favorite_filter_lists_only_favorites(api, user):
    liked = ImageFactory(user=user, favorite=True)
    other = ImageFactory(user=user)
    assert [row["id"] for row in api.get(f"{URL}?favorite=true").json()["results"]] == [str(liked.pk)]
    assert [row["id"] for row in api.get(f"{URL}?favorite=false").json()["results"]] == [str(other.pk)]


def test_a_bad_favorite_value_is_a_400(api, user):
    response = api.get(f"{URL}?favorite=maybe")
    assert response.status_code == 400 and response.json()["error"]["field"] == "favorite"
    response = api.patch(f"{URL}/{ImageFactory(user=user).pk}", {"favorite": "perhaps"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["field"] == "favorite"


def test_another_users_image_cannot_be_favorited(api, other_user):
    image = ImageFactory(user=other_user)
    assert api.patch(f"{URL}/{image.pk}", {"favorite": True}, format="json").status_code == 404
    image.refresh_from_db()
    assert not image.favorite


def test_a_favorite_change_changes_the_etag(api, user):
    image = ImageFactory(user=user)
    before = api.get(f"{URL}/{image.pk}")["ETag"]
    api.patch(f"{URL}/{image.pk}", {"favorite": True}, format="json")
    assert api.get(f"{URL}/{image.pk}", HTTP_IF_NONE_MATCH=before).status_code == 200
