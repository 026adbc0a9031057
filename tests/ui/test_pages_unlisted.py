"""Unlisted images: their page and files open for anyone with the link, signed out too, and nothing lists them."""

from __future__ import annotations

import pytest

from tests.images.factories import ImageFactory
from tests.ui.conftest import generated, image_of, text

pytestmark = pytest.mark.django_db


def test_a_signed_out_visitor_opens_an_unlisted_image_and_its_file(client, user):
    from images.services.library import image_update

    image = image_of(generated(user, prompt="a lantern by the sea"))
    image_update(user=user, image_id=image.pk, visibility="unlisted", title="Lantern")
    response = client.get(f"/images/{image.pk}")
    assert response.status_code == 200
    html = text(response)
    assert "Lantern" in html and '<meta name="robots" content="noindex, nofollow">' in html
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert user.email not in html
    file_url = html.split('<img src="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert client.get(file_url).status_code == 200


def test_the_owner_page_of_an_unlisted_image_is_noindex_too(browser, user):
    image = ImageFactory(user=user, visibility="unlisted")
    assert browser.get(f"/images/{image.pk}")["X-Robots-Tag"] == "noindex, nofollow"


def test_a_public_image_page_stays_indexable(client, other_user):
    image = ImageFactory(user=other_user, visibility="public")
    response = client.get(f"/images/{image.pk}")
    assert response.status_code == 200 and "X-Robots-Tag" not in response


@pytest.mark.parametrize("fields", [{"visibility": "private"}, {"visibility": "unlisted", "is_hidden": True},
                                    {"visibility": "unlisted", "processing": "pending"}])  # fmt: skip
def test_private_hidden_or_unready_images_stay_404(client, other_user, fields):
    image = ImageFactory(user=other_user, **fields)
    assert client.get(f"/images/{image.pk}").status_code == 404


def test_unlisted_images_are_in_no_public_list(client, other_user):
    ImageFactory(user=other_user, visibility="unlisted", title="Secret sunset")
    ImageFactory(user=other_user, visibility="public", title="Open sunrise")
    html = text(client.get("/public?q=sun"))
    assert "Open sunrise" in html and "Secret sunset" not in html
