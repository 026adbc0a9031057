"""Your gallery page: your images only, its filters and pages, and deleting the images you check."""

from __future__ import annotations

import re

import pytest

from images.models import Image
from tests.images.factories import ImageFactory
from tests.ui.conftest import csrf_post, generated, image_of, text

pytestmark = pytest.mark.django_db


def test_the_gallery_lists_your_images_and_not_others(browser, user, other_user):
    mine = ImageFactory(user=user, title="Mine", dominant_color="#336699")
    ImageFactory(user=other_user, title="Theirs")
    html = text(browser.get("/gallery"))
    assert "Mine" in html and "Theirs" not in html
    assert f'value="{mine.pk}"' in html  # its multi-select checkbox
    assert 'data-color="#336699"' in html and 'loading="lazy"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("source=uploaded", {"Trip photo"}),
        ("visibility=public", {"Public one"}),
        ("category=travel", {"Trip photo"}),
        ("tag=sea", {"Public one"}),
        ("q=harbour", {"Harbour prompt"}),
    ],
)
def test_the_gallery_filters(browser, user, query, expected):
    from images.services.library import image_update

    ImageFactory(user=user, title="Trip photo", source="uploaded", category="travel")
    public = ImageFactory(user=user, title="Public one", visibility="public")
    image_update(user=user, image_id=public.pk, tags=["sea"])
    ImageFactory(user=user, title="Harbour prompt", prompt="a harbour at night")
    html = text(browser.get(f"/gallery?{query}"))
    shown = {title for title in ("Trip photo", "Public one", "Harbour prompt") if f">{title}<" in html}
    assert shown == expected


def test_an_invalid_filter_is_shown_next_to_its_field(browser, user):
    ImageFactory(user=user)
    response = browser.get("/gallery?source=bogus")
    assert response.status_code == 400
    assert re.search(r'id="id_source_error"', text(response))


def test_a_filter_with_no_match_says_so(browser, user):
    ImageFactory(user=user, title="Something")
    assert "No images match these filters" in text(browser.get("/gallery?q=nothing-like-it"))


def test_an_empty_gallery_invites_you_to_create(browser):
    html = text(browser.get("/gallery"))
    assert "Your gallery is empty" in html and 'href="/create"' in html


def test_the_gallery_is_paginated_keeping_the_filters(browser, user):
    for i in range(30):
        ImageFactory(user=user, source="uploaded", title=f"img-{i:02d}")
    first = text(browser.get("/gallery?source=uploaded"))
    assert "Page 1 of 2" in first
    assert 'href="?source=uploaded&amp;page=2"' in first
    second = text(browser.get("/gallery?source=uploaded&page=2"))
    assert second.count('class="card"') == 6


def test_multi_select_delete_removes_your_checked_images_only(
    browser, user, other_user, media_root, django_capture_on_commit_callbacks
):
    mine = [image_of(generated(user)) for _ in range(2)]
    keep = ImageFactory(user=user)
    theirs = ImageFactory(user=other_user)
    files = [media_root / key for image in mine for key in image.storage_keys()]
    assert all(f.exists() for f in files)
    ids = [str(mine[0].pk), str(mine[1].pk), str(theirs.pk), "junk"]
    with django_capture_on_commit_callbacks(execute=True):
        response = csrf_post(browser, "/gallery/delete", {"ids": ids, "next": "/gallery?source=generated"})
    assert response.status_code == 302 and response["Location"] == "/gallery?source=generated"
    assert set(Image.objects.values_list("pk", flat=True)) == {keep.pk, theirs.pk}
    assert not any(f.exists() for f in files)
    assert "Deleted 2 images." in text(browser.get("/gallery"))


def test_delete_with_nothing_checked_asks_to_select(browser, user):
    ImageFactory(user=user)
    response = csrf_post(browser, "/gallery/delete", {})
    assert response.status_code == 302
    assert "Select the images to delete first." in text(browser.get("/gallery"))
    assert Image.objects.count() == 1
