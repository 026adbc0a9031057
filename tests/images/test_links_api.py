"""GET /api/v1/public/images/{id}: public and unlisted images for anyone, private ones 404."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.images.factories import ImageFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("visibility", ["public", "unlisted"])
def test_it_serves_public_and_unlisted_images_signed_out(other_user, visibility):
    image = ImageFactory(user=other_user, visibility=visibility, title="Shown")
    response = APIClient().get(f"/api/v1/public/images/{image.pk}")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"] == str(image.pk) and body["title"] == "Shown" and body["thumbnail_url"]
    assert ("X-Robots-Tag" in response) == (visibility == "unlisted")


@pytest.mark.parametrize(
    "fields", [{"visibility": "private"}, {"visibility": "public", "is_hidden": True},
               {"visibility": "unlisted", "processing": "pending"}],
)  # fmt: skip
def test_private_hidden_and_unready_images_are_404(other_user, fields):
    image = ImageFactory(user=other_user, **fields)
    response = APIClient().get(f"/api/v1/public/images/{image.pk}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_a_stale_token_does_not_block_it(other_user):
    image = ImageFactory(user=other_user, visibility="unlisted")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert client.get(f"/api/v1/public/images/{image.pk}").status_code == 200


def test_unlisted_images_are_not_in_the_public_list(other_user):
    ImageFactory(user=other_user, visibility="unlisted")
    shown = ImageFactory(user=other_user, visibility="public")
    ids = [row["id"] for row in APIClient().get("/api/v1/public/images").json()["results"]]
    assert ids == [str(shown.pk)]
