"""Favorites on the pages: the image page's toggle, the gallery's star and filter."""

from __future__ import annotations

import pytest

from tests.images.factories import ImageFactory
from tests.ui.conftest import csrf_post, text

pytestmark = pytest.mark.django_db


def test_the_image_page_toggles_a_favorite(browser, user):
    image = ImageFactory(user=user)
    assert "Add to favorites" in text(browser.get(f"/images/{image.pk}"))
    response = csrf_post(browser, f"/images/{image.pk}/favorite", {"favorite": "true"})
    assert response.status_code == 302 and response["Location"] == f"/images/{image.pk}"
    image.refresh_from_db()
    assert image.favorite and "★ Favorite" in text(browser.get(f"/images/{image.pk}"))
    csrf_post(browser, f"/images/{image.pk}/favorite", {"favorite": "false"})
    image.refresh_from_db()
    assert not image.favorite


def test_the_gallery_filters_favorites(browser, user):
    ImageFactory(user=user, title="Loved", favorite=True)
    ImageFactory(user=user, title="Plain")
    html = text(browser.get("/gallery?favorite=true"))
    assert ">Loved<" in html and ">Plain<" not in html


def test_someone_elses_image_cannot_be_favorited(browser, other_user):
    image = ImageFactory(user=other_user, visibility="public")
    assert csrf_post(browser, f"/images/{image.pk}/favorite", {"favorite": "true"}).status_code == 404
