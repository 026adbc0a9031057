"""The polled and listed endpoints: a fixed, small number of queries, and conditional GETs."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.services import tokens_for_user
from images.api.serializers import GenerationSerializer, ImageSerializer
from images.models import Generation, Image, Tag
from tests.factories import ApiKeyFactory
from tests.images.factories import GenerationFactory, ImageFactory

pytestmark = pytest.mark.django_db


def tagged(image: Image, *names: str) -> Image:
    image.tags.add(*(Tag.objects.get_or_create(name=name)[0] for name in names))
    return image


def finished_generation(user, *, images: int = 2) -> Generation:
    generation = GenerationFactory(user=user, status=Generation.Status.SUCCEEDED, progress=100, n=images)
    for index in range(images):
        tagged(ImageFactory(user=user, generation=generation, index=index), "harbour", f"tag{index}")
    return generation


@pytest.fixture(params=["api key", "jwt"])
def client(request, user) -> APIClient:
    """A client presenting real credentials, as apps do (authentication is one of the counted queries)."""
    client = APIClient()
    if request.param == "api key":
        client.credentials(HTTP_X_API_KEY=ApiKeyFactory(user=user).raw_key)
    else:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for_user(user=user)['access']}")
    client.get("/api/v1/me")  # the key's last-used note is written once, not on every request
    return client


def queries_of(client: APIClient, path: str, **headers: str) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **headers)
    assert response.status_code in (200, 304), response.content
    return len(queries), response


@pytest.mark.parametrize("state", ["queued", "succeeded with tagged images"])
def test_a_status_poll_is_at_most_three_queries(client, user, state):
    generation = GenerationFactory(user=user) if state == "queued" else finished_generation(user, images=4)
    # The ETA's history of run times is read once per process every few seconds, not once per poll.
    client.get(f"/api/v1/generations/{generation.pk}")

    count, response = queries_of(client, f"/api/v1/generations/{generation.pk}")

    assert count <= 3
    body = response.json()
    assert body["id"] == str(generation.pk)
    if state == "queued":
        assert body["images"] == [] and body["queue_position"] == 1
    else:
        assert [image["tags"] for image in body["images"]] == [["harbour", f"tag{i}"] for i in range(4)]


@pytest.mark.parametrize("path", ["/api/v1/images", "/api/v1/generations", "/api/v1/public/images"])
def test_a_list_page_is_at_most_four_queries_for_1_or_100_rows(client, user, path):
    def page() -> tuple[int, int]:
        count, response = queries_of(client, f"{path}?limit=100")
        return count, len(response.json()["results"])

    finished_generation(user, images=1)
    Image.objects.update(visibility=Image.Visibility.PUBLIC)
    one, listed_one = page()
    for _ in range(99):
        finished_generation(user, images=1)
    Image.objects.update(visibility=Image.Visibility.PUBLIC)
    hundred, listed_hundred = page()

    assert (listed_one, listed_hundred) == (1, 100)
    assert one == hundred <= 4


def test_an_unchanged_generation_answers_304_without_rendering_it(client, user):
    generation = finished_generation(user)
    url = f"/api/v1/generations/{generation.pk}"
    first = client.get(url)
    etag = first["ETag"]

    with mock.patch.object(GenerationSerializer, "to_representation", side_effect=AssertionError("rendered")):
        again = client.get(url, HTTP_IF_NONE_MATCH=etag)
        listed = client.get(url, HTTP_IF_NONE_MATCH=f'"other", {etag}')

    assert etag.startswith('W/"')
    assert again.status_code == listed.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag


@pytest.mark.parametrize(
    "change",
    [
        lambda g: Generation.objects.filter(pk=g.pk).update(progress=40),
        lambda g: Generation.objects.filter(pk=g.pk).update(status=Generation.Status.CANCELED),
        lambda g: tagged(g.images.first(), "new-tag"),
        lambda g: Image.objects.filter(generation=g).update(visibility=Image.Visibility.PUBLIC),
    ],
    ids=["progress", "status", "a tag on an image", "an image made public"],
)
def test_a_changed_generation_gets_a_new_etag_and_a_full_answer(client, user, change):
    generation = finished_generation(user)
    url = f"/api/v1/generations/{generation.pk}"
    etag = client.get(url)["ETag"]

    change(generation)
    response = client.get(url, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 200
    assert response["ETag"] != etag


def test_the_etag_follows_the_host_and_the_period_of_signed_urls(client, user):
    generation = finished_generation(user)
    url = f"/api/v1/generations/{generation.pk}"
    etag = client.get(url)["ETag"]

    other_host = client.get(url, HTTP_IF_NONE_MATCH=etag, HTTP_HOST="localhost")
    with mock.patch("images.api.generations.url_epoch", return_value=10**9):
        later = client.get(url, HTTP_IF_NONE_MATCH=etag)

    assert other_host.status_code == later.status_code == 200


def test_a_queued_generation_changes_etag_when_its_queue_position_does(client, user):
    ahead = GenerationFactory(user=user)
    generation = GenerationFactory(user=user)
    url = f"/api/v1/generations/{generation.pk}"
    first = client.get(url)
    assert first.json()["queue_position"] == 2

    Generation.objects.filter(pk=ahead.pk).update(status=Generation.Status.RUNNING)
    response = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])

    assert response.status_code == 200
    assert response.json()["queue_position"] == 1


def test_another_users_generation_is_404_even_with_a_matching_etag(client, user, other_user):
    theirs = finished_generation(other_user)

    response = client.get(f"/api/v1/generations/{theirs.pk}", HTTP_IF_NONE_MATCH="*")

    assert response.status_code == 404


def test_an_unchanged_image_answers_304_and_a_retagged_one_200(client, user):
    image = tagged(ImageFactory(user=user), "a")
    url = f"/api/v1/images/{image.pk}"
    etag = client.get(url)["ETag"]

    with mock.patch.object(ImageSerializer, "to_representation", side_effect=AssertionError("rendered")):
        unchanged = client.get(url, HTTP_IF_NONE_MATCH=etag)
    patched = client.patch(url, {"tags": ["a", "b"]}, format="json")
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)

    assert unchanged.status_code == 304
    assert patched.status_code == 200
    assert changed.status_code == 200
    assert changed.json()["tags"] == ["a", "b"]


def test_the_first_page_of_a_plain_list_reads_a_compiled_query_and_answers_as_the_filtered_path(
    client, user, other_user
):
    from images.api import images as images_api

    for _ in range(5):
        finished_generation(user, images=1)
    ImageFactory(user=user, processing=Image.Processing.AWAITING_UPLOAD)  # not listed
    ImageFactory(user=other_user)  # never anyone else's
    compiled = mock.patch.object(images_api, "_first_page_query", wraps=images_api._first_page_query)

    with compiled as first_page_query:
        plain = client.get("/api/v1/images?limit=2").json()
        everything = client.get("/api/v1/images").json()
    filtered = client.get("/api/v1/images?limit=2&ordering=-created_at").json()

    assert first_page_query.call_count == 2
    assert plain["results"] == filtered["results"] and plain["previous"] is None
    assert len(everything["results"]) == 5 and everything["next"] is None
    assert everything["results"][:2] == plain["results"]
    # The next page follows on from the compiled first page as from DRF's own.
    assert client.get(plain["next"]).json()["results"] == everything["results"][2:4]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=two", "limit=2&limit=3"])
def test_the_first_page_path_refuses_a_bad_limit_as_the_list_does(client, user, query):
    response = client.get(f"/api/v1/images?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "limit"


def test_the_first_page_of_an_empty_list_has_no_next_link(client, user):
    assert client.get("/api/v1/images").json() == {"results": [], "next": None, "previous": None}
