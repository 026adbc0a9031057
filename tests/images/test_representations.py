"""images.api.representations: a gallery's first page keeps each image's representation by its raw row."""

from __future__ import annotations

from unittest import mock

import pytest
from rest_framework.test import APIClient

from accounts.services import tokens_for_user
from images.api import representations
from images.api.representations import KeptRepresentations
from images.api.serializers import ImageSerializer
from images.models import Image, Tag
from tests.images.factories import ImageFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/images"


@pytest.fixture(autouse=True)
def _nothing_kept() -> None:
    representations.IMAGES.clear()
    representations.GENERATIONS.clear()


@pytest.fixture
def client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for_user(user=user)['access']}")
    return client


@pytest.fixture
def made(monkeypatch) -> list[str]:
    """The ids of the images whose representation was made (not taken from what was kept)."""
    ids: list[str] = []
    real = ImageSerializer._represent
    monkeypatch.setattr(ImageSerializer, "_represent", lambda self, row: ids.append(str(row["id"])) or real(self, row))
    return ids


def test_an_unchanged_first_page_is_answered_from_kept_representations(client, user, made):
    images = [ImageFactory(user=user) for _ in range(3)]
    first = client.get(LIST).json()
    assert sorted(made) == sorted(str(image.pk) for image in images)
    made.clear()

    again = client.get(LIST).json()

    assert made == [] and again == first


def test_a_row_changed_behind_the_orm_s_back_is_represented_anew(client, user, made):
    image = ImageFactory(user=user, title="Before")
    client.get(LIST)
    Image.objects.filter(pk=image.pk).update(title="After", visibility=Image.Visibility.PUBLIC)  # no signal, no save()

    (answer,) = client.get(LIST).json()["results"]

    assert (answer["title"], answer["visibility"]) == ("After", "public")


def test_a_new_tag_is_represented_anew(client, user):
    image = ImageFactory(user=user)
    assert client.get(LIST).json()["results"][0]["tags"] == []
    image.tags.add(Tag.objects.create(name="harbour"))
    assert client.get(LIST).json()["results"][0]["tags"] == ["harbour"]


def test_another_host_or_url_period_gets_urls_of_its_own(client, user):
    ImageFactory(user=user)
    (here,) = client.get(LIST).json()["results"]
    (there,) = client.get(LIST, HTTP_HOST="localhost").json()["results"]
    with mock.patch("images.storage.url_epoch", return_value=10**9):
        (later,) = client.get(LIST).json()["results"]

    assert here["url"].startswith("http://testserver/") and there["url"].startswith("http://localhost/")
    assert "expires=" in here["url"] and later["url"] != here["url"]
    assert later["url"].split("?")[0] == here["url"].split("?")[0]


def test_the_next_page_link_reads_the_last_row_as_it_would_a_dict(client, user):
    for _ in range(3):
        ImageFactory(user=user)
    page = client.get(f"{LIST}?limit=2").json()
    assert [i["id"] for i in client.get(page["next"]).json()["results"]] == [
        i["id"] for i in client.get(f"{LIST}?limit=3").json()["results"][2:]
    ]


def test_kept_representations_are_bounded_oldest_first():
    kept = KeptRepresentations(size=2)
    for n in range(3):
        kept.get_or_make(n, lambda n=n: {"n": n})
    assert len(kept) == 2
    assert kept.get_or_make(0, lambda: {"n": "made again"}) == {"n": "made again"}
    assert kept.get_or_make(2, lambda: {"n": "not made"}) == {"n": 2}


def test_a_row_that_cannot_be_hashed_is_represented_every_time():
    kept = KeptRepresentations()
    assert kept.get_or_make(("row", {"a": 1}), lambda: {"made": True}) == {"made": True}
    assert len(kept) == 0


def test_an_unchanged_status_poll_is_answered_from_its_kept_representation(client, user, monkeypatch):
    from images.api.serializers import GenerationSerializer
    from images.models import Generation
    from tests.images.factories import GenerationFactory

    generation = GenerationFactory(user=user, status=Generation.Status.RUNNING, progress=10)
    ImageFactory(user=user, generation=generation)
    made = []
    real = GenerationSerializer.to_representation
    monkeypatch.setattr(GenerationSerializer, "to_representation", lambda self, obj: made.append(1) or real(self, obj))
    url = f"/api/v1/generations/{generation.pk}"

    first, again = client.get(url).json(), client.get(url).json()
    Generation.objects.filter(pk=generation.pk).update(progress=60)
    moved = client.get(url).json()
    (elsewhere,) = client.get(url, HTTP_HOST="localhost").json()["images"]

    assert len(made) == 3 and again == first
    assert (first["progress"], moved["progress"]) == (10, 60)
    assert elsewhere["url"].startswith("http://localhost/")
