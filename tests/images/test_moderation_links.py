"""Images held by moderation never leave through a link: unlisted pages, public image ids, share links, their ZIPs.

Every link reads ``Image.objects.viewable_by_link()``, which builds on ``visible_to_others()``.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from django.test import Client
from rest_framework.test import APIClient

from images.models import Album, Image, ShareLink
from images.storage import store_bytes
from tests.images.factories import ImageFactory

pytestmark = pytest.mark.django_db
HELD = ["pending_review", "rejected"]


def stored(user, title: str, **fields: object) -> tuple[Image, bytes]:
    data = title.encode() * 100
    image = ImageFactory(user=user, title=title, bytes=len(data), **fields)
    store_bytes(image.storage_key, data)
    return image, data


@pytest.mark.parametrize("status", HELD)
def test_an_unlisted_image_held_by_moderation_is_404_through_its_link(other_user, status):
    image = ImageFactory(user=other_user, visibility="unlisted", moderation_status=status)

    assert Client().get(f"/images/{image.pk}").status_code == 404
    response = APIClient().get(f"/api/v1/public/images/{image.pk}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_a_public_image_held_for_review_is_404_from_public_images_id(other_user):
    image = ImageFactory(user=other_user, visibility="public", moderation_status="pending_review")

    assert APIClient().get(f"/api/v1/public/images/{image.pk}").status_code == 404


def test_an_image_share_link_shows_nothing_once_the_image_is_held(user):
    image, _ = stored(user, "Flagged")
    link = ShareLink.objects.create(user=user, image=image, token="m" * 32)
    api, page = APIClient(), Client()
    assert api.get(f"/api/v1/shared/{link.token}").status_code == 200

    Image.objects.filter(pk=image.pk).update(moderation_status="pending_review")

    assert api.get(f"/api/v1/shared/{link.token}").status_code == 404
    assert api.get(f"/api/v1/shared/{link.token}/download").status_code == 404
    assert page.get(f"/s/{link.token}").status_code == 404


@pytest.mark.parametrize("status", HELD)
def test_an_album_share_link_leaves_held_images_out_of_its_listing_page_and_zip(user, status):
    album = Album.objects.create(user=user, title="Trip")
    shown, data = stored(user, "Shown")
    held, _ = stored(user, "Held", moderation_status=status)
    album.images.add(shown, held)
    link = ShareLink.objects.create(user=user, album=album, token="a" * 32)
    api = APIClient()

    body = api.get(f"/api/v1/shared/{link.token}").json()
    assert [row["title"] for row in body["album"]["images"]] == ["Shown"] and body["album"]["image_count"] == 1
    html = Client().get(f"/s/{link.token}").content.decode()
    assert "Shown" in html and "Held" not in html
    response = api.get(f"/api/v1/shared/{link.token}/download")
    assert response.status_code == 200
    entries = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert entries.namelist() == ["Shown.png"] and entries.read("Shown.png") == data


def test_the_link_seam_builds_on_what_others_may_see(other_user):
    ok = ImageFactory(user=other_user, visibility="private")
    ImageFactory(user=other_user, moderation_status="pending_review")
    ImageFactory(user=other_user, moderation_status="rejected", visibility="unlisted")

    assert list(Image.objects.viewable_by_link()) == list(Image.objects.visible_to_others()) == [ok]
