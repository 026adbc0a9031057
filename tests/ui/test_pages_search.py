"""The gallery's search box: words and prefixes over prompt, title and tags, best match first."""

from __future__ import annotations

import pytest

from images.services.library import image_update
from tests.images.factories import ImageFactory
from tests.ui.conftest import text

pytestmark = pytest.mark.django_db


def test_the_search_box_finds_tags_and_prefixes_best_match_first(browser, user):
    ImageFactory(user=user, title="Meadow", prompt="a fox far away in a meadow")
    ImageFactory(user=user, title="Fox portrait", prompt="a fox")
    tagged = ImageFactory(user=user, title="Tagged one", prompt="abstract")
    image_update(user=user, image_id=tagged.pk, tags=["vulpine"])
    html = text(browser.get("/gallery?q=fo"))
    assert 'type="search"' in html and '<option value="relevance" selected>Best match</option>' in html
    assert html.index(">Fox portrait<") < html.index(">Meadow<") and ">Tagged one<" not in html
    assert ">Tagged one<" in text(browser.get("/gallery?q=vulp"))


def test_a_punctuation_only_search_is_explained_next_to_the_box(browser, user):
    ImageFactory(user=user)
    response = browser.get("/gallery?q=%3F%21%3F")
    assert response.status_code == 400 and 'id="id_q_error"' in text(response)
