"""The staff admin: thumbnails, filters, moderation actions and the retry/cancel of generations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client

from images.models import Generation, Image, WebhookDelivery
from tests.images.factories import GenerationFactory, ImageFactory
from tests.support.admin import staff_with
from tests.ui.conftest import generated, image_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_client: Client) -> Client:
    """A superuser, signed in (pytest-django's ``admin_client``)."""
    return admin_client


def action(client: Client, url: str, name: str, objects: list) -> object:
    return client.post(url, {"action": name, "_selected_action": [str(o.pk) for o in objects]}, follow=True)


def test_the_image_list_shows_thumbnails_and_filters(staff, user):
    image = image_of(generated(user))
    html = staff.get("/admin/images/image/").content.decode()
    assert image.variants["thumb_256"]["key"] in html and 'loading="lazy"' in html
    for name in ("source", "visibility", "processing", "is_hidden"):
        assert f"?{name}__exact=" in html
    assert staff.get(f"/admin/images/image/?q={image.prompt[:10]}").status_code == 200


def test_staff_can_hide_an_image_from_the_public_gallery(staff, user, client):
    image = ImageFactory(user=user, visibility="public", title="Reported picture")
    assert "Reported picture" in client.get("/").content.decode()
    response = action(staff, "/admin/images/image/", "hide", [image])
    assert "Hid 1 image(s)." in response.content.decode()
    image.refresh_from_db()
    assert image.is_hidden
    assert "Reported picture" not in client.get("/").content.decode()


def test_deleting_images_in_the_admin_removes_their_files(
    staff, user, other_user, media_root, django_capture_on_commit_callbacks
):
    images = [image_of(generated(user)), image_of(generated(other_user))]
    files = [media_root / key for image in images for key in image.storage_keys()]
    assert all(f.exists() for f in files)
    with django_capture_on_commit_callbacks(execute=True):
        response = action(staff, "/admin/images/image/", "delete_with_files", images)
    assert "Deleted 2 image(s) and their files." in response.content.decode()
    assert not Image.objects.exists() and not any(f.exists() for f in files)
    assert "delete_selected" not in staff.get("/admin/images/image/").content.decode()


def test_a_generation_page_shows_its_error_timings_and_outputs_read_only(staff, user):
    failed = GenerationFactory(user=user, status="failed", error_code="content_policy", error_message="refused")
    html = staff.get(f"/admin/images/generation/{failed.pk}/change/").content.decode()
    assert "content_policy" in html and "refused" in html and "Timings" in html
    assert 'name="prompt"' not in html  # read-only: no inputs
    done = generated(user)
    html = staff.get(f"/admin/images/generation/{done.pk}/change/").content.decode()
    assert "thumb_256" in html


def test_the_generation_list_filters_by_status(staff, user):
    GenerationFactory(user=user, status="failed", prompt="broken one")
    GenerationFactory(user=user, status="succeeded", prompt="fine one")
    html = staff.get("/admin/images/generation/?status__exact=failed").content.decode()
    assert "broken one" in html and "fine one" not in html


def test_retry_queues_a_failed_generation_again(staff, user, django_capture_on_commit_callbacks, monkeypatch):
    sent: list[str] = []
    monkeypatch.setattr("images.tasks.run_generation.delay", lambda pk: sent.append(pk))
    failed = GenerationFactory(user=user, status="failed", error_code="x", error_message="boom", attempts=4)
    running = GenerationFactory(user=user, status="running")
    with django_capture_on_commit_callbacks(execute=True):
        response = action(staff, "/admin/images/generation/", "retry", [failed, running])
    html = response.content.decode()
    assert "Queued 1 generation(s) again." in html and "1 had not failed or been canceled" in html
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.error_code) == (Generation.Status.QUEUED, 0, "")
    assert sent == [str(failed.pk)]


def test_cancel_stops_a_queued_generation(staff, user):
    queued = GenerationFactory(user=user, status="queued")
    action(staff, "/admin/images/generation/", "cancel", [queued])
    queued.refresh_from_db()
    assert queued.status == Generation.Status.CANCELED


def test_the_generation_list_shows_which_providers_are_configured(staff, settings):
    settings.OPENAI_API_KEY = "sk-test"
    settings.KIE_API_KEY = ""
    html = staff.get("/admin/images/generation/").content.decode()
    panel = html[html.index('id="providers"') : html.index("</table>", html.index('id="providers"'))]
    rows = {name: panel[panel.index(f"<td>{name}") :].split("</tr>")[0] for name in ("builtin", "openai", "kie")}
    assert "(default)" in rows["builtin"] and "yes" in rows["builtin"] and "builtin-v1" in rows["builtin"]
    assert "yes" in rows["openai"] and "gpt-image" in rows["openai"]
    assert "its settings are missing" in rows["kie"]


# --- who may run the actions ------------------------------------------------------


@dataclass(frozen=True)
class Case:
    model: str
    action: str
    make: Callable[[object], object]
    # The state the action changes, read back from the database.
    state: Callable[[object], object]


def _delivery(user) -> WebhookDelivery:
    generation = GenerationFactory(user=user, status="succeeded", webhook_url="https://hooks.example.com/x")
    return WebhookDelivery.objects.create(
        generation=generation, webhook_id="msg_1", event="completed", url="https://hooks.example.com/x"
    )


def _refreshed(obj):
    obj.refresh_from_db()
    return obj


CASES = [
    Case("generation", "retry", lambda u: GenerationFactory(user=u, status="failed", attempts=4),
         lambda g: _refreshed(g).status),
    Case("generation", "cancel", lambda u: GenerationFactory(user=u, status="queued"), lambda g: _refreshed(g).status),
    Case("image", "hide", lambda u: ImageFactory(user=u, visibility="public"), lambda i: _refreshed(i).is_hidden),
    Case("image", "unhide", lambda u: ImageFactory(user=u, is_hidden=True), lambda i: _refreshed(i).is_hidden),
    Case("image", "make_private", lambda u: ImageFactory(user=u, visibility="public"),
         lambda i: _refreshed(i).visibility),
    Case("webhookdelivery", "redeliver_selected", _delivery, lambda d: len(REDELIVERED)),
]  # fmt: skip
REDELIVERED: list[tuple] = []


@pytest.fixture
def record_redeliveries(monkeypatch):
    REDELIVERED.clear()
    monkeypatch.setattr("images.tasks.deliver_webhook.delay_on_commit", lambda *args: REDELIVERED.append(args))
    monkeypatch.setattr("images.tasks.run_generation.delay", lambda pk: None)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.action)
def test_view_only_staff_are_not_offered_the_actions_and_a_forged_post_changes_nothing(
    case, user, record_redeliveries, django_capture_on_commit_callbacks
):
    viewer = staff_with(f"view_{case.model}")
    obj = case.make(user)
    before = case.state(obj)
    url = f"/admin/images/{case.model}/"

    listing = viewer.get(url)
    with django_capture_on_commit_callbacks(execute=True):
        forged = action(viewer, url, case.action, [obj])

    assert listing.status_code == 200
    assert f'value="{case.action}"' not in listing.content.decode()
    assert forged.status_code == 200
    assert case.state(obj) == before


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.action)
def test_staff_with_the_change_permission_run_the_actions(
    case, user, record_redeliveries, django_capture_on_commit_callbacks
):
    editor = staff_with(f"view_{case.model}", f"change_{case.model}")
    obj = case.make(user)
    before = case.state(obj)
    url = f"/admin/images/{case.model}/"

    listing = editor.get(url)
    with django_capture_on_commit_callbacks(execute=True):
        action(editor, url, case.action, [obj])

    assert f'value="{case.action}"' in listing.content.decode()
    assert case.state(obj) != before
