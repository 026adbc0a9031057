"""Albums API: create, list, read, edit, delete; add and remove images; ?album= on the image list."""

from __future__ import annotations

import uuid

import pytest

from images.models import Album, Image
from tests.images.factories import ImageFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/albums"


def make_album(api, title: str = "Trips", **extra: object) -> dict:
    response = api.post(URL, {"title": title, **extra}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_it_creates_an_album_with_the_spec_shape(api):
    body = make_album(api, "Summer", description="At the coast")
    assert set(body) == {"id", "title", "description", "cover", "image_count", "created_at", "updated_at"}
    assert body["title"] == "Summer" and body["description"] == "At the coast"
    assert body["cover"] is None and body["image_count"] == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [({}, "title"), ({"title": ""}, "title"), ({"title": "x" * 201}, "title"),
     ({"title": "ok", "description": "d" * 2001}, "description"), ({"title": "ok", "owner": 1}, "owner")],
)  # fmt: skip
def test_bad_album_input_is_a_400_naming_the_field(api, payload, field):
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400 and response.json()["error"]["field"] == field


def test_adding_images_reports_added_and_not_found(api, user, other_user):
    album = make_album(api)
    mine = [ImageFactory(user=user) for _ in range(2)]
    theirs = ImageFactory(user=other_user)
    unknown = uuid.uuid4()
    ids = [str(mine[0].pk), str(mine[1].pk), str(theirs.pk), str(unknown)]
    response = api.post(f"{URL}/{album['id']}/images", {"ids": ids}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {"added": ids[:2], "not_found": [str(theirs.pk), str(unknown)]}
    again = api.post(f"{URL}/{album['id']}/images", {"ids": ids[:1]}, format="json").json()
    assert again == {"added": ids[:1], "not_found": []}
    body = api.get(f"{URL}/{album['id']}").json()
    assert body["image_count"] == 2 and body["cover"]["id"] == ids[1]  # the latest added


def test_an_image_may_be_in_many_albums_and_outlives_them(api, user):
    image = ImageFactory(user=user)
    first, second = make_album(api, "A"), make_album(api, "B")
    for album in (first, second):
        api.post(f"{URL}/{album['id']}/images", {"ids": [str(image.pk)]}, format="json")
    assert image.albums.count() == 2
    assert api.delete(f"{URL}/{first['id']}").status_code == 204
    assert Image.objects.filter(pk=image.pk).exists()
    assert api.get(f"{URL}/{second['id']}").json()["image_count"] == 1


def test_removing_images_reports_removed_and_not_found(api, user):
    album = make_album(api)
    inside, outside = ImageFactory(user=user), ImageFactory(user=user)
    api.post(f"{URL}/{album['id']}/images", {"ids": [str(inside.pk)]}, format="json")
    response = api.post(f"{URL}/{album['id']}/images/remove", {"ids": [str(inside.pk), str(outside.pk)]}, format="json")
    assert response.json() == {"removed": [str(inside.pk)], "not_found": [str(outside.pk)]}
    assert Image.objects.filter(pk=inside.pk).exists()


def test_the_cover_can_be_chosen_and_falls_back_when_removed(api, user):
    album = make_album(api)
    first, second = ImageFactory(user=user), ImageFactory(user=user)
    api.post(f"{URL}/{album['id']}/images", {"ids": [str(first.pk), str(second.pk)]}, format="json")
    chosen = api.patch(f"{URL}/{album['id']}", {"cover": str(first.pk)}, format="json")
    assert chosen.status_code == 200 and chosen.json()["cover"]["id"] == str(first.pk)
    api.post(f"{URL}/{album['id']}/images/remove", {"ids": [str(first.pk)]}, format="json")
    assert api.get(f"{URL}/{album['id']}").json()["cover"]["id"] == str(second.pk)


def test_a_cover_must_be_your_image_in_the_album(api, user, other_user):
    album = make_album(api)
    theirs, outside = ImageFactory(user=other_user), ImageFactory(user=user)
    response = api.patch(f"{URL}/{album['id']}", {"cover": str(theirs.pk)}, format="json")
    assert response.status_code == 404 and response.json()["error"]["field"] == "cover"
    response = api.patch(f"{URL}/{album['id']}", {"cover": str(outside.pk)}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "not_in_album"


def test_patch_edits_title_and_description(api):
    album = make_album(api)
    body = api.patch(f"{URL}/{album['id']}", {"title": "Renamed", "description": ""}, format="json").json()
    assert body["title"] == "Renamed" and body["description"] == ""


def test_another_users_album_is_404_everywhere(api, other_user, user):
    theirs = Album.objects.create(user=other_user, title="Theirs")
    mine = ImageFactory(user=user)
    ids = {"ids": [str(mine.pk)]}
    assert api.get(f"{URL}/{theirs.pk}").status_code == 404
    assert api.patch(f"{URL}/{theirs.pk}", {"title": "x"}, format="json").status_code == 404
    assert api.post(f"{URL}/{theirs.pk}/images", ids, format="json").status_code == 404
    assert api.post(f"{URL}/{theirs.pk}/images/remove", ids, format="json").status_code == 404
    assert api.delete(f"{URL}/{theirs.pk}").status_code == 404
    assert Album.objects.filter(pk=theirs.pk).exists() and not theirs.images.exists()
    assert api.get(URL).json()["results"] == []


@pytest.mark.parametrize("count", [0, 501])
def test_an_empty_or_oversized_id_list_is_a_400(api, count):
    album = make_album(api)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    response = api.post(f"{URL}/{album['id']}/images", {"ids": ids}, format="json")
    assert response.status_code == 400 and response.json()["error"]["field"] == "ids"


def test_the_album_filter_lists_an_albums_images(api, user, other_user):
    album = make_album(api)
    inside, _outside = ImageFactory(user=user), ImageFactory(user=user)
    api.post(f"{URL}/{album['id']}/images", {"ids": [str(inside.pk)]}, format="json")
    rows = api.get(f"/api/v1/images?album={album['id']}").json()["results"]
    assert [row["id"] for row in rows] == [str(inside.pk)]
    theirs = Album.objects.create(user=other_user, title="Theirs")
    theirs.images.add(ImageFactory(user=other_user))
    assert api.get(f"/api/v1/images?album={theirs.pk}").json()["results"] == []
    assert api.get("/api/v1/images?album=nope").status_code == 400


def test_the_album_list_is_paginated_with_covers_in_few_queries(api, user, django_assert_max_num_queries):
    for index in range(5):
        album = Album.objects.create(user=user, title=f"A{index}")
        album.images.add(ImageFactory(user=user))
    with django_assert_max_num_queries(4):
        body = api.get(f"{URL}?limit=3").json()
    assert len(body["results"]) == 3 and body["next"] and all(row["cover"] for row in body["results"])
