"""Share links on the pages: created and revoked from the image and album pages, opened by anyone at /s/<token>."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from images.models import Album, ShareLink
from tests.images.factories import ImageFactory
from tests.ui.conftest import csrf_post, generated, image_of, text

pytestmark = pytest.mark.django_db


def test_the_image_page_creates_and_lists_a_share_link(browser, user):
    image = ImageFactory(user=user)
    response = csrf_post(browser, f"/images/{image.pk}/share", {"expires_in": "604800", "allow_download": "on"})
    assert response.status_code == 302
    link = ShareLink.objects.get(image=image)
    assert link.allow_download and link.expires_at > timezone.now() + dt.timedelta(days=6)
    html = text(browser.get(f"/images/{image.pk}"))
    assert f"/s/{link.token}" in html and "0 views" in html


def test_the_album_page_creates_a_link_that_never_expires_with_a_password(browser, user):
    album = Album.objects.create(user=user, title="Mine")
    csrf_post(browser, f"/albums/{album.pk}/share", {"expires_in": "never", "password": "pw"})
    link = ShareLink.objects.get(album=album)
    assert link.expires_at is None and link.has_password and not link.allow_download


def test_sharing_someone_elses_image_is_404(browser, other_user):
    image = ImageFactory(user=other_user, visibility="public")
    assert csrf_post(browser, f"/images/{image.pk}/share", {"expires_in": "86400"}).status_code == 404
    assert not ShareLink.objects.exists()


def test_a_signed_out_visitor_sees_a_shared_image_without_the_owners_email(client, user):
    image = image_of(generated(user, prompt="a red kite over hills"))
    link = ShareLink.objects.create(user=user, image=image, token="a" * 32)
    response = client.get(f"/s/{link.token}")
    assert response.status_code == 200
    html = text(response)
    assert "a red kite over hills" in html and user.email not in html and "Download original" in html
    assert response["X-Robots-Tag"] == "noindex, nofollow" and 'content="noindex, nofollow"' in html
    webp = html.split('<img src="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert client.get(webp).status_code == 200
    link.refresh_from_db()
    assert link.view_count == 1


def test_a_password_link_asks_first_then_remembers(client, user):
    from django.contrib.auth.hashers import make_password

    image = ImageFactory(user=user, title="Guarded")
    link = ShareLink.objects.create(user=user, image=image, token="b" * 32, password_hash=make_password("pw"))
    first = client.get(f"/s/{link.token}")
    assert first.status_code == 401 and "needs a password" in text(first) and "Guarded" not in text(first)
    wrong = client.post(f"/s/{link.token}", {"password": "nope"})
    assert wrong.status_code == 401 and "not the password" in text(wrong)
    right = client.post(f"/s/{link.token}", {"password": "pw"})
    assert right.status_code == 302
    assert "Guarded" in text(client.get(f"/s/{link.token}"))
    assert Client().get(f"/s/{link.token}").status_code == 401  # another browser is asked again


def test_expired_revoked_and_unknown_links_say_so(client, user):
    image = ImageFactory(user=user)
    expired = ShareLink.objects.create(
        user=user, image=image, token="c" * 32, expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    revoked = ShareLink.objects.create(user=user, image=image, token="d" * 32, revoked_at=timezone.now())
    response = client.get(f"/s/{expired.token}")
    assert response.status_code == 410 and "expired" in text(response)
    assert client.get(f"/s/{revoked.token}").status_code == 404
    assert client.get("/s/unknown").status_code == 404


def test_revoking_from_the_page_ends_the_link_at_once(browser, client, user):
    image = ImageFactory(user=user)
    link = ShareLink.objects.create(user=user, image=image, token="e" * 32)
    assert client.get(f"/s/{link.token}").status_code == 200
    response = csrf_post(browser, f"/share-links/{link.pk}/revoke", {"next": f"/images/{image.pk}#share"})
    assert response["Location"] == f"/images/{image.pk}#share"
    assert client.get(f"/s/{link.token}").status_code == 404


def test_an_album_link_without_downloads_shows_no_original(client, user):
    album = Album.objects.create(user=user, title="Walks")
    album.images.add(ImageFactory(user=user, title="Path"))
    link = ShareLink.objects.create(user=user, album=album, token="f" * 32, allow_download=False)
    html = text(client.get(f"/s/{link.token}"))
    assert "Walks" in html and "Path" in html and "original" not in html.lower()


def test_a_shared_album_offers_its_zip_after_the_password(client, user):
    from django.contrib.auth.hashers import make_password

    album = Album.objects.create(user=user, title="Coast")
    album.images.add(image_of(generated(user)))
    link = ShareLink.objects.create(user=user, album=album, token="g" * 32, password_hash=make_password("pw"))
    assert client.get(f"/s/{link.token}/download")["Location"] == f"/s/{link.token}"
    client.post(f"/s/{link.token}", {"password": "pw"})
    assert f'href="/s/{link.token}/download"' in text(client.get(f"/s/{link.token}"))
    response = client.get(f"/s/{link.token}/download")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"


def test_a_shared_album_without_downloads_refuses_the_zip(client, user):
    album = Album.objects.create(user=user, title="Coast")
    album.images.add(ImageFactory(user=user))
    link = ShareLink.objects.create(user=user, album=album, token="h" * 32, allow_download=False)
    assert client.get(f"/s/{link.token}/download").status_code == 403
