"""The admin's user list (image count, today's quota use, no N+1) and API key admin (revoke action)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import ApiKey
from images.models import Generation, Image
from tests.factories import ApiKeyFactory, UserFactory
from tests.support.admin import staff_with

pytestmark = pytest.mark.django_db

USERS = "/admin/accounts/user/"
KEYS = "/admin/accounts/apikey/"


@pytest.fixture
def staff(admin_client: Client) -> Client:
    """A superuser, signed in (pytest-django's ``admin_client``)."""
    return admin_client


def add_usage(user, *, images: int, requested: list[int]) -> None:
    for _ in range(images):
        Image.objects.create(user=user, source=Image.Source.GENERATED, storage_key="k")
    for n in requested:
        Generation.objects.create(user=user, prompt="p", width=512, height=512, seed=1, provider="builtin", n=n)


def row_of(html: str, email: str) -> str:
    start = html.index(email)
    return html[start : html.index("</tr>", start)]


def test_the_user_list_shows_tier_images_and_todays_quota_use(staff):
    busy = UserFactory(email="busy@example.com", tier="free")
    add_usage(busy, images=3, requested=[2, 4])
    unlimited = UserFactory(email="big@example.com", tier="enterprise")
    add_usage(unlimited, images=1, requested=[1])

    response = staff.get(USERS)

    assert response.status_code == 200
    html = response.content.decode()
    busy_row = row_of(html, "busy@example.com")
    assert '<td class="field-image_count">3</td>' in busy_row
    assert '<td class="field-quota_today">6 / 50</td>' in busy_row
    assert '<td class="field-tier">free</td>' in busy_row
    assert '<td class="field-quota_today">1 / ∞</td>' in row_of(html, "big@example.com")


def test_the_user_list_runs_the_same_queries_for_more_users(staff):
    add_usage(UserFactory(), images=2, requested=[1])
    with CaptureQueriesContext(connection) as few:
        assert staff.get(USERS).status_code == 200

    for _ in range(6):
        add_usage(UserFactory(), images=2, requested=[1, 1])
    with CaptureQueriesContext(connection) as many:
        assert staff.get(USERS).status_code == 200

    assert len(many) == len(few)


def test_the_user_list_sorts_by_image_count(staff):
    add_usage(UserFactory(email="a@example.com"), images=1, requested=[])
    add_usage(UserFactory(email="b@example.com"), images=5, requested=[])

    html = staff.get(USERS, {"o": "-6"}).content.decode()  # image_count is the 6th column

    assert html.index("b@example.com") < html.index("a@example.com")


def test_the_key_list_shows_prefix_user_and_revoked_state(staff):
    live = ApiKeyFactory(name="ci")
    revoked = ApiKeyFactory(name="old")
    ApiKey.objects.filter(pk=revoked.pk).update(revoked_at="2026-01-01T00:00:00Z")

    html = staff.get(KEYS).content.decode()

    assert live.prefix in html
    assert live.user.email in html
    assert live.raw_key not in html
    assert 'alt="True"' in row_of(html, revoked.prefix)
    assert 'alt="False"' in row_of(html, live.prefix)


def test_the_revoke_action_ends_the_selected_keys(staff):
    chosen, kept = ApiKeyFactory(), ApiKeyFactory()

    response = staff.post(KEYS, {"action": "revoke", "_selected_action": [str(chosen.pk)]}, follow=True)

    assert response.status_code == 200
    assert "Revoked 1 API key(s)." in response.content.decode()
    chosen.refresh_from_db()
    kept.refresh_from_db()
    assert chosen.revoked_at is not None
    assert kept.revoked_at is None
    assert Client().get("/api/v1/me", HTTP_X_API_KEY=chosen.raw_key).status_code == 401


def test_keys_cannot_be_added_in_the_admin(staff):
    assert staff.get(f"{KEYS}add/").status_code == 403


def test_view_only_staff_cannot_revoke_keys_even_with_a_forged_post():
    viewer = staff_with("view_apikey")
    key = ApiKeyFactory()

    listing = viewer.get(KEYS)
    forged = viewer.post(KEYS, {"action": "revoke", "_selected_action": [str(key.pk)]}, follow=True)

    assert listing.status_code == 200
    assert 'value="revoke"' not in listing.content.decode()
    assert forged.status_code == 200
    key.refresh_from_db()
    assert key.revoked_at is None


def test_staff_with_the_change_permission_can_revoke_keys():
    editor = staff_with("view_apikey", "change_apikey")
    key = ApiKeyFactory()

    assert 'value="revoke"' in editor.get(KEYS).content.decode()
    editor.post(KEYS, {"action": "revoke", "_selected_action": [str(key.pk)]}, follow=True)

    key.refresh_from_db()
    assert key.revoked_at is not None
