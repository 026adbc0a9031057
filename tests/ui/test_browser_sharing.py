"""Organizing and sharing in a real browser (Chromium): an album from the gallery's selection, share links
opened signed out with and without a password, and ZIP downloads. Screenshots at phone and desktop width.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from tests.factories import UserFactory
from tests.ui.conftest import jpeg_bytes
from tests.ui.test_browser import (  # noqa: F401 - fixtures of the browser tests
    CHROMIUM,
    PHONE,
    chromium,
    live,
    log_in,
    new_page,
    problems,
    shot,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium (CI installs it with apt)"),
]


def zip_download(page, click: str) -> zipfile.ZipFile:
    with page.expect_download() as info:
        page.click(click)
    return zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes()))


def upload_three(page, tmp_path) -> None:
    files = []
    for index, colour in enumerate(("red", "green", "blue")):
        path = tmp_path / f"{colour}.jpg"
        path.write_bytes(jpeg_bytes((320 + 40 * index, 240)))
        files.append(str(path))
    page.goto("/upload")
    page.set_input_files("#id_files", files)
    page.fill("#id_title", "Coast")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/gallery$"))
    # Processed by the worker; thumbnails replace the placeholders on their own.
    page.wait_for_function("() => document.querySelectorAll('.card .thumb img').length === 3", timeout=60_000)


def test_album_from_the_gallery_shared_with_a_password_and_downloaded(new_page, tmp_path, problems):  # noqa: F811
    user = UserFactory()
    page = new_page()
    log_in(page, user.email)
    upload_three(page, tmp_path)

    # Two of the three into a new album, from the gallery's multi-select.
    boxes = page.locator(".card .select input")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.fill("#id_new_album_title", "Weekend at the coast")
    shot(page, "20-gallery-selection")
    page.click("text=Add to album")
    page.wait_for_url(re.compile(r"/albums/[0-9a-f-]{36}$"))
    assert page.locator(".message", has_text="Added 2 images").is_visible()
    assert page.locator(".card").count() == 2
    page.goto("/albums")
    assert page.locator(".card .title", has_text="Weekend at the coast").is_visible()
    shot(page, "21-albums")
    page.click("text=Weekend at the coast")
    page.wait_for_url(re.compile(r"/albums/"))

    # The album's own ZIP.
    archive = zip_download(page, "text=Download ZIP")
    assert sorted(archive.namelist()) == ["Coast-2.jpg", "Coast.jpg"]

    # A password-protected link, opened by someone signed out on a phone.
    page.select_option("#id_expires_in", "604800")
    page.fill("#id_password", "tide-pools")
    page.click("text=Create share link")
    page.locator(".message", has_text="Share link created").wait_for(state="visible")
    shot(page, "22-album-shared")
    url = page.inner_text(".share-url").strip()
    assert re.search(r"/s/[A-Za-z0-9_-]{32,}$", url)

    visitor = new_page(PHONE)
    visitor.goto(url)
    assert visitor.locator("h1", has_text="needs a password").is_visible()
    assert "Weekend" not in visitor.content()
    visitor.fill("#id_password", "not-it")
    visitor.click("main button[type=submit]")
    visitor.locator("#id_password_error").wait_for(state="visible")
    shot(visitor, "23-share-password-wrong")
    visitor.fill("#id_password", "tide-pools")
    visitor.click("main button[type=submit]")
    visitor.locator("h1", has_text="Weekend at the coast").wait_for(state="visible")
    visitor.wait_for_function(
        "() => [...document.querySelectorAll('.card img')].every(i => i.complete && i.naturalWidth)"
    )
    assert visitor.locator(".card img").count() == 2 and user.email not in visitor.content()
    shot(visitor, "24-share-album")
    shared_zip = zip_download(visitor, "text=Download ZIP")
    assert len(shared_zip.namelist()) == 2

    # Revoked: the visitor's next visit finds nothing.
    page.click(".share-links >> text=Revoke")
    page.locator(".message", has_text="revoked").wait_for(state="visible")
    visitor.goto(url)
    assert visitor.locator("h1", has_text="does not open").is_visible()
    assert problems.items == []


def test_an_image_link_without_password_and_the_gallery_zip(new_page, tmp_path, problems):  # noqa: F811
    user = UserFactory()
    page = new_page()
    log_in(page, user.email)
    upload_three(page, tmp_path)

    # All three as one ZIP from the gallery.
    page.check("[data-select-all] input")
    archive = zip_download(page, "text=Download ZIP")
    assert sorted(archive.namelist()) == ["Coast-2.jpg", "Coast-3.jpg", "Coast.jpg"]
    assert archive.testzip() is None

    # One image shared openly, without downloads.
    page.click(".card .title >> nth=0")
    page.wait_for_url(re.compile(r"/images/"))
    page.uncheck("#share input[name=allow_download]")
    page.click("text=Create share link")
    page.locator(".message", has_text="Share link created").wait_for(state="visible")
    url = page.inner_text(".share-url").strip()
    page.click("text=Add to favorites")
    page.locator(".message", has_text="Added to favorites").wait_for(state="visible")
    shot(page, "26-image-favorite-and-share")

    visitor = new_page()
    visitor.goto(url)
    visitor.locator("figure img").wait_for(state="visible")
    visitor.wait_for_function("() => document.querySelector('figure img').naturalWidth > 0")
    assert visitor.locator("h1", has_text="Coast").is_visible()
    assert visitor.locator("text=Download original").count() == 0
    shot(visitor, "25-share-image")
    assert problems.items == []
