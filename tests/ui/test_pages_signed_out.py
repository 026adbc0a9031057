"""What the site shows before you sign in: the public start page, and a log-in first for pages of your own."""

from __future__ import annotations

import pytest

from tests.images.factories import ImageFactory
from tests.ui.conftest import text

pytestmark = pytest.mark.django_db


def test_the_start_page_signed_out_shows_only_public_images(client, user, other_user):
    public = ImageFactory(user=user, visibility="public", title="Shared sunset")
    ImageFactory(user=user, visibility="private", title="My secret")
    ImageFactory(user=other_user, visibility="unlisted", title="Link only")
    ImageFactory(user=other_user, visibility="public", is_hidden=True, title="Hidden by staff")
    response = client.get("/")
    assert response.status_code == 200
    html = text(response)
    assert "Shared sunset" in html and f"/images/{public.pk}" in html
    for title in ("My secret", "Link only", "Hidden by staff"):
        assert title not in html
    assert 'loading="lazy"' in html
    assert "Sign up" in html


def test_the_start_page_signed_in_is_your_gallery(browser):
    response = browser.get("/")
    assert response.status_code == 302 and response["Location"] == "/gallery"


def test_the_public_gallery_has_a_useful_empty_state(client):
    assert "No public images yet" in text(client.get("/"))


# A fixed generation id: pytest-xdist's workers must each collect the same test names.
@pytest.mark.parametrize(
    "path",
    ["/gallery", "/create", "/upload", "/settings", "/stats", "/generations/9b2f6a3e-5c1d-4e8a-b7f0-2d4c6e8a0b13"],
)
def test_pages_of_your_own_ask_you_to_log_in_first(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login?next={path}"
