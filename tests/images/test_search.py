"""Search: GET /images?q= over prompt, title, tags and labels, with prefixes and ranking, on PostgreSQL and SQLite."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

from images.models import Image, ImageLabel
from images.services.library import image_update
from tests.images.factories import ImageFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/images"


def titles(api, query: str) -> list[str]:
    response = api.get(f"{URL}?{query}")
    assert response.status_code == 200, response.json()
    return [row["title"] for row in response.json()["results"]]


@pytest.fixture
def library(user, other_user) -> dict[str, Image]:
    images = {
        "lighthouse": ImageFactory(user=user, title="Lighthouse", prompt="a lighthouse in a storm at night"),
        "harbour": ImageFactory(user=user, title="Harbour", prompt="boats in a quiet harbour, morning light"),
        "tagged": ImageFactory(user=user, title="Tagged", prompt="an abstract painting"),
        "theirs": ImageFactory(user=other_user, title="Theirs", prompt="a lighthouse too", visibility="public"),
        "unlisted": ImageFactory(user=other_user, title="Unlisted", prompt="a lighthouse", visibility="unlisted"),
    }
    image_update(user=user, image_id=images["tagged"].pk, tags=["seascape", "storm"])
    return images


def test_it_finds_words_in_prompt_title_and_tags(api, library):
    assert titles(api, "q=harbour") == ["Harbour"]
    assert titles(api, "q=seascape") == ["Tagged"]
    assert set(titles(api, "q=storm")) == {"Lighthouse", "Tagged"}


def test_every_word_must_match_somewhere(api, library):
    assert titles(api, "q=lighthouse+night") == ["Lighthouse"]
    assert titles(api, "q=lighthouse+morning") == []


def test_common_words_do_not_hide_matches(api, library):
    assert titles(api, "q=a+lighthouse+in+the+storm") == ["Lighthouse"]


def test_prefixes_match(api, library):
    assert titles(api, "q=harb") == ["Harbour"]
    assert titles(api, "q=seasc") == ["Tagged"]
    assert titles(api, "q=LIGHTH") == ["Lighthouse"]


def test_relevance_is_the_default_order_with_q(api, user):
    ImageFactory(user=user, title="Other", prompt="a field, and far off one small fox")
    ImageFactory(user=user, title="Fox", prompt="a fox")
    assert titles(api, "q=fox") == ["Fox", "Other"]  # a title match ranks above a prompt match
    assert titles(api, "q=fox&ordering=title") == ["Fox", "Other"]
    assert titles(api, "q=fox&ordering=-title") == ["Other", "Fox"]


def test_relevance_pages_with_a_cursor_without_repeats(api, user):
    for index in range(7):
        ImageFactory(user=user, title=f"Fox {index}", prompt="fox " * (index + 1))
    seen: list[str] = []
    url = f"{URL}?q=fox&limit=3"
    while url:
        body = api.get(url).json()
        seen += [row["title"] for row in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(f"Fox {index}" for index in range(7)) and len(seen) == 7


def test_a_forged_relevance_cursor_is_a_400(api, user):
    import base64

    cursor = base64.b64encode(b"p=not-a-number").decode()
    response = api.get(f"{URL}?q=fox&cursor={cursor}")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_cursor"


def test_only_the_callers_images_are_searched(api, library):
    assert "Theirs" not in titles(api, "q=lighthouse") and "Unlisted" not in titles(api, "q=lighthouse")


def test_the_public_list_searches_public_images_only(library):
    rows = APIClient().get("/api/v1/public/images?q=lighth").json()["results"]
    assert [row["title"] for row in rows] == ["Theirs"]


@pytest.mark.parametrize("query", ["q=" + "a" * 10_000, "q=%21%3F%2A%26%7C%3A", "q=%27%22%28%29", "q=%00"])
def test_a_huge_or_punctuation_only_query_is_a_400(api, library, query):
    response = api.get(f"{URL}?{query}")
    assert response.status_code == 400 and response.json()["error"]["field"] == "q"


def test_tsquery_operators_in_words_are_just_text(api, library):
    assert titles(api, "q=harbour%20%26%20%21light%3A%2A") == ["Harbour"]


def test_a_blank_query_lists_everything_newest_first(api, library):
    assert titles(api, "q=%20%20") == ["Tagged", "Harbour", "Lighthouse"]


def test_relevance_without_q_is_newest_first(api, library):
    assert titles(api, "ordering=relevance") == ["Tagged", "Harbour", "Lighthouse"]


def test_labels_match_as_prefixes_alongside_the_other_words(api, library):
    ImageLabel.objects.create(image=library["harbour"], name="teal", confidence=0.8)
    ImageLabel.objects.create(image=library["lighthouse"], name="dark", confidence=0.9)

    assert titles(api, "q=tea") == ["Harbour"]
    assert titles(api, "q=Teal+boats") == ["Harbour"]
    assert titles(api, "q=teal+storm") == []
    assert titles(api, "q=dark+lighthouse") == ["Lighthouse"]


def test_a_label_match_ranks_like_a_tag_match(api, user):
    ImageFactory(user=user, title="Plain", prompt="waves")
    labelled = ImageFactory(user=user, title="Labelled", prompt="waves")
    ImageFactory(user=user, title="Plain too", prompt="waves")
    ImageLabel.objects.create(image=labelled, name="waves", confidence=0.7)

    assert titles(api, "q=waves")[0] == "Labelled"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the GIN index exists on PostgreSQL only")
def test_postgresql_searches_labels_through_their_prefix_index(user):
    from images.services.search import images_search

    for index in range(5):
        ImageLabel.objects.create(image=ImageFactory(user=user), name=f"teal{index}", confidence=0.5)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = images_search(Image.objects.all(), "teal").explain()
    assert "img_search" in plan and "images_imagelabel_name_" in plan and "_like" in plan
    assert "Seq Scan on images_imagelabel" not in plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the GIN index exists on PostgreSQL only")
def test_postgresql_searches_through_the_gin_index(user):
    from images.services.search import images_search

    ImageFactory.create_batch(5, user=user, prompt="mountains")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = images_search(Image.objects.all(), "mountain").explain()
    assert "img_search" in plan
