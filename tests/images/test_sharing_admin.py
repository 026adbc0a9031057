"""The admin's albums and share links: staff revoke links at once and never see tokens or password hashes."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from images.models import Album, ShareLink
from tests.images.factories import ImageFactory
from tests.support.admin import staff_with

pytestmark = pytest.mark.django_db
LINKS = "/admin/images/sharelink/"


def test_staff_revoke_share_links_from_the_list(admin_client, user):
    chosen = ShareLink.objects.create(user=user, image=ImageFactory(user=user), token="k" * 32)
    kept = ShareLink.objects.create(user=user, image=ImageFactory(user=user), token="m" * 32)
    html = admin_client.get(LINKS).content.decode()
    assert user.email in html and chosen.token not in html
    response = admin_client.post(
        LINKS, {"action": "revoke_selected", "_selected_action": [str(chosen.pk)]}, follow=True
    )
    assert "Revoked 1 share link(s)." in response.content.decode()
    assert APIClient().get(f"/api/v1/shared/{chosen.token}").status_code == 404
    assert APIClient().get(f"/api/v1/shared/{kept.token}").status_code == 200


def test_a_link_page_hides_the_token_and_password_hash(admin_client, user):
    link = ShareLink.objects.create(user=user, image=ImageFactory(user=user), token="n" * 32, password_hash="argon2$x")
    html = admin_client.get(f"{LINKS}{link.pk}/change/").content.decode()
    assert link.token not in html and "argon2$x" not in html


def test_view_only_staff_cannot_revoke(user):
    link = ShareLink.objects.create(user=user, image=ImageFactory(user=user), token="o" * 32)
    staff = staff_with("view_sharelink")
    staff.post(LINKS, {"action": "revoke_selected", "_selected_action": [str(link.pk)]})
    link.refresh_from_db()
    assert link.revoked_at is None


def test_albums_are_listed_for_staff(admin_client, user):
    Album.objects.create(user=user, title="Holiday")
    assert "Holiday" in admin_client.get("/admin/images/album/").content.decode()
