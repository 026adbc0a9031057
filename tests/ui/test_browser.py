"""The web UI in a real browser: headless Chromium (Playwright) against gunicorn and a Celery worker.

The server and the worker are the README's processes, started once for this
module on the test database and a broker of their own. Screenshots of the main
pages, at phone and desktop width, go to tests/screenshots/ (git-ignored).
"""

from __future__ import annotations

import io
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image as PILImage

from images.models import Generation
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.support.processes import celery_worker, child_env, web_server
from tests.support.waiting import wait_for
from tests.ui.conftest import jpeg_bytes

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium (CI installs it with apt)"),
]

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (requirements-dev.txt)")


@pytest.fixture(scope="module")
def live(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[str]:
    """gunicorn and a worker sharing the test database, a broker and a media folder; yields the base URL."""
    var = tmp_path_factory.mktemp("ui-var")
    with django_db_blocker.unblock():
        # One attempt per job, so a transient failure fails the job and staff can retry it.
        env = child_env(
            IMAGEGEN_VAR_DIR=str(var), CELERY_BROKER_URL=settings.CELERY_BROKER_URL, GENERATION_MAX_ATTEMPTS="1"
        )
        with celery_worker(var / "worker.log", env=env), web_server(var / "web.log", env=env) as base_url:
            yield base_url


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    # Playwright's sync API keeps an event loop running in this thread, so Django would take the
    # test's own (synchronous) database calls for calls from async code and refuse them.
    with pytest.MonkeyPatch.context() as patch, sync_api.sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


class Problems:
    """Console errors and uncaught exceptions of our own pages (a CSP violation shows up here)."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def watch(self, page) -> None:
        def on_console(message) -> None:
            # A page answering 400 to a form with errors is logged too: that is no problem of the page.
            if message.type == "error" and "Failed to load resource" not in message.text and "/admin/" not in page.url:
                self.items.append(f"{page.url}: {message.text}")

        def on_response(response) -> None:
            # Every resource of our pages loads (no 404 for a stylesheet, icon or script).
            if response.status >= 400 and response.request.resource_type != "document":
                self.items.append(f"{response.url}: {response.status}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.items.append(f"{page.url}: {error}"))
        page.on("response", on_response)


@pytest.fixture
def problems() -> Problems:
    return Problems()


@pytest.fixture
def new_page(chromium, live, problems):
    """Pages in fresh browser contexts (separate cookies), desktop-sized, confirming every dialog."""
    contexts = []

    def make(viewport: dict = DESKTOP, *, javascript: bool = True):
        context = chromium.new_context(
            base_url=live, viewport=viewport, accept_downloads=True, java_script_enabled=javascript
        )
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        problems.watch(page)
        return page

    yield make
    for context in contexts:
        context.close()


def shot(page, name: str) -> None:
    """Screenshots of the current page at phone and desktop width."""
    SCREENSHOTS.mkdir(exist_ok=True)
    before = page.viewport_size
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(before)


def log_in(page, email: str, password: str = DEFAULT_PASSWORD) -> None:
    page.goto("/accounts/login")
    page.fill("#id_email", email)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/gallery$"))


def api_get(base_url: str, path: str, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(base_url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def downloaded(page, link_text: str) -> PILImage.Image:
    with page.expect_download() as info:
        page.click(f"text={link_text}")
    data = Path(info.value.path()).read_bytes()
    image = PILImage.open(io.BytesIO(data))
    image.load()
    return image


# --- The main flow ----------------------------------------------------------------------


def test_sign_up_create_find_download_share_and_delete(new_page, live, problems):
    page = new_page()
    page.goto("/")
    assert page.locator("h2", has_text="No public images yet").is_visible()
    shot(page, "01-public-empty")

    page.click("header >> text=Sign up")
    page.fill("#id_email", "maker@example.com")
    page.fill("#id_name", "Maker")
    page.fill("#id_password", "short")
    page.click("main button[type=submit]")
    page.locator("#id_password_error").wait_for(state="visible")  # the validators' message, next to the field
    shot(page, "02-signup-error")
    page.fill("#id_password", "a-long-passphrase-77")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/create$"))
    assert page.locator(".message", has_text="Welcome").is_visible()

    # The size list shows for "exact size"; the aspect ratio fields appear when that is chosen.
    assert page.locator("#id_size").is_visible() and not page.locator("#id_aspect_ratio").is_visible()
    page.check("input[name=dimensions][value=aspect]")
    assert page.locator("#id_aspect_ratio").is_visible() and not page.locator("#id_size").is_visible()
    page.check("input[name=dimensions][value=size]")
    page.fill("#id_prompt", "lighthouse on a cliff at dusk")
    page.select_option("#id_size", "256x256")
    page.select_option("#id_style", "watercolor")
    if page.locator("#id_provider").count():
        page.select_option("#id_provider", "builtin")
    shot(page, "03-create")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/generations/[0-9a-f-]{36}$"))
    page.evaluate("window.__samePage = true")  # survives only if the page is never reloaded

    results = page.locator("[data-generation] .grid img")
    results.first.wait_for(state="visible", timeout=60_000)
    assert page.evaluate("window.__samePage") is True
    assert page.locator("[data-generation] .badge", has_text="succeeded").is_visible()
    shot(page, "04-generation-done")

    # The gallery finds it; filters narrow it down.
    page.click("header >> text=Gallery")
    page.wait_for_url(re.compile(r"/gallery$"))
    assert page.locator(".card .title", has_text="lighthouse on a cliff").is_visible()
    shot(page, "05-gallery")
    page.fill("#id_q", "lighthouse")
    page.select_option("#id_source", "generated")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_url(re.compile(r"q=lighthouse"))
    assert page.locator(".card").count() == 1
    page.select_option("#id_source", "uploaded")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_url(re.compile(r"source=uploaded"))
    assert page.locator("h2", has_text="No images match these filters").is_visible()
    page.click("text=Show all images")

    page.click(".card .title")
    page.wait_for_url(re.compile(r"/images/[0-9a-f-]{36}$"))
    image_url = page.url
    assert page.locator(".prompt", has_text="lighthouse on a cliff at dusk").is_visible()
    assert page.locator("dd", has_text="watercolor").is_visible()
    shot(page, "06-image")
    original = downloaded(page, "Download original")
    assert original.format == "PNG" and original.size == (256, 256)
    assert downloaded(page, "Download WebP").format == "WEBP"

    page.select_option("#id_visibility", "public")
    page.fill("#id_title", "Dusk lighthouse")
    page.click("text=Save")
    page.locator(".message", has_text="Saved.").wait_for(state="visible")

    visitor = new_page(PHONE)
    visitor.goto("/")
    assert visitor.locator(".card .title", has_text="Dusk lighthouse").is_visible()
    visitor.locator(".card img").first.wait_for(state="visible")
    shot(visitor, "07-public-gallery")
    visitor.click(".card .title")
    visitor.locator("h1", has_text="Dusk lighthouse").wait_for(state="visible")

    page.goto(image_url)
    page.click("text=Delete image")  # the confirmation dialog is accepted
    page.wait_for_url(re.compile(r"/gallery$"))
    assert page.locator(".message", has_text="Image deleted.").is_visible()
    assert page.locator("h2", has_text="Your gallery is empty").is_visible()
    shot(page, "08-gallery-empty")
    visitor.goto("/")
    assert visitor.locator(".card").count() == 0
    assert problems.items == []


def test_progress_rises_live_and_turns_into_the_result(new_page, problems):
    user = UserFactory()
    page = new_page()
    log_in(page, user.email)
    page.goto("/create")
    page.fill("#id_prompt", "a slow sunrise slow-4")
    page.select_option("#id_provider", "fake")
    page.select_option("#id_size", "256x256")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/generations/"))
    page.evaluate("window.__samePage = true")
    # The bar moves while the worker renders (the fake provider takes about 4 s).
    page.wait_for_function(
        "() => { const p = document.querySelector('[data-progress]'); return p && p.value > 0 && p.value < 100; }",
        timeout=30_000,
    )
    shot(page, "09-generation-running")
    page.locator("[data-generation] .grid img").first.wait_for(state="visible", timeout=60_000)
    assert page.evaluate("window.__samePage") is True
    assert problems.items == []


def test_without_javascript_every_step_still_works(new_page):
    user = UserFactory()
    page = new_page(PHONE, javascript=False)
    log_in(page, user.email)
    page.goto("/create")
    page.fill("#id_prompt", "a quiet bay slow-2")
    page.select_option("#id_provider", "fake")
    page.select_option("#id_size", "256x256")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/generations/"))
    # The page reloads itself (a <noscript> refresh) until the job has ended.
    page.locator("[data-generation] .grid img").first.wait_for(state="visible", timeout=60_000)
    page.goto("/gallery")
    page.check("input[name=ids]")
    page.click("text=Delete selected")  # no confirmation without JavaScript: the form posts at once
    page.locator(".message", has_text="Deleted 1 image.").wait_for(state="visible")
    page.click("header >> text=Log out")
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator("header >> text=Log in").is_visible()


def test_upload_a_jpeg_and_see_it_once_processed(new_page, tmp_path, problems):
    user = UserFactory()
    page = new_page()
    log_in(page, user.email)
    photo = tmp_path / "harbour.jpg"
    photo.write_bytes(jpeg_bytes((1200, 800)))
    page.goto("/upload")
    shot(page, "10-upload")
    page.set_input_files("#id_files", str(photo))
    page.fill("#id_title", "Harbour photo")
    page.fill("#id_tags", "sea, boats")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/images/[0-9a-f-]{36}$"))
    # Processed by the worker; the page shows it without a reload.
    page.locator("figure img").wait_for(state="visible", timeout=60_000)
    assert page.locator("dd", has_text="boats, sea").is_visible()
    page.goto("/gallery?source=uploaded")
    assert page.locator(".card .title", has_text="Harbour photo").is_visible()
    assert page.locator(".card img").get_attribute("loading") == "lazy"
    # The dominant colour sits behind the lazy thumbnail until it loads.
    assert page.eval_on_selector(".card .thumb", "el => el.style.backgroundColor").startswith("rgb(")
    page.goto("/stats")
    assert page.locator(".stat", has_text="uploaded").locator(".value").inner_text() == "1"
    shot(page, "11-stats")
    assert problems.items == []


def test_an_api_key_is_shown_once_works_and_stops_when_revoked(new_page, live, problems):
    user = UserFactory()
    page = new_page()
    log_in(page, user.email)
    page.goto("/settings")
    page.fill("#id_name", "laptop script")
    page.click("text=Create API key")
    key = page.inner_text("#new-api-key").strip()
    assert key.startswith("igk_")
    shot(page, "12-settings-new-key")
    status, body = api_get(live, "/api/v1/me", {"X-API-Key": key})
    assert status == 200 and body["email"] == user.email

    page.goto("/settings")
    assert key not in page.content()  # shown once
    page.click("button[aria-label='Revoke laptop script']")
    page.locator(".message", has_text="API key revoked").wait_for(state="visible")
    status, body = api_get(live, "/api/v1/me", {"X-API-Key": key})
    assert status == 401
    assert problems.items == []


def test_staff_retry_a_failed_generation_from_the_admin(new_page, live):
    from images.api.serializers import GenerationCreateSerializer
    from images.services.generations import generation_create

    owner = UserFactory()
    serializer = GenerationCreateSerializer(data={"prompt": "cliffs fail-transient-1", "provider": "fake",
                                                  "size": "256x256"})  # fmt: skip
    assert serializer.is_valid(), serializer.errors
    generation, _ = generation_create(user=owner, params=serializer.validated_data["params"])
    wait_for(lambda: Generation.objects.get(pk=generation.pk).status == Generation.Status.FAILED)

    staff = UserFactory(is_staff=True, is_superuser=True)
    page = new_page()
    page.goto("/admin/login/?next=/admin/images/generation/%3Fstatus__exact%3Dfailed")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/images/generation/"))
    assert page.locator("td.field-error_code", has_text="provider_unavailable").is_visible()
    page.check(f"input[name=_selected_action][value='{generation.pk}']")
    page.select_option("select[name=action]", "retry")
    shot(page, "13-admin-generations")
    page.click("button[name=index]")
    # The action answers with a redirect: wait for the page it leads to, not the one clicked on.
    page.locator(".messagelist", has_text="Queued 1 generation(s) again.").wait_for(state="visible")

    wait_for(lambda: Generation.objects.get(pk=generation.pk).status == Generation.Status.SUCCEEDED)
    page.goto(f"/admin/images/generation/{generation.pk}/change/")
    assert page.locator(".inline-group td.field-preview img").count() == 1
    page.goto("/admin/images/image/")
    page.locator("#result_list .field-preview img").first.wait_for(state="visible")
    shot(page, "14-admin-images")
