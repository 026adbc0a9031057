"""FilterBackend: the FilterSet is built only for requests that filter something."""

from __future__ import annotations

import pytest
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.test import APIClient

from images.models import Image
from tests.images.factories import ImageFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/images"


@pytest.fixture
def api(user, own_media_folder) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def filtersets_built(monkeypatch) -> list[object]:
    built: list[object] = []
    get_filterset = DjangoFilterBackend.get_filterset

    def counted(self, request, queryset, view):
        built.append(view)
        return get_filterset(self, request, queryset, view)

    monkeypatch.setattr(DjangoFilterBackend, "get_filterset", counted)
    return built


def test_a_page_asked_for_by_limit_and_cursor_alone_builds_no_filterset(api, user, filtersets_built):
    ImageFactory.create_batch(3, user=user)
    first = api.get(URL, {"limit": 2}).json()
    second = api.get(first["next"])

    assert second.status_code == 200 and len(second.json()["results"]) == 1
    assert filtersets_built == []


def test_any_other_parameter_goes_through_the_filters(api, user, filtersets_built):
    uploaded = ImageFactory(user=user, source=Image.Source.UPLOADED, generation=None, index=None)
    ImageFactory(user=user)

    response = api.get(URL, {"limit": 5, "source": "uploaded"})

    assert [item["id"] for item in response.json()["results"]] == [str(uploaded.pk)]
    assert api.get(URL, {"source": "nonsense"}).status_code == 400
    assert api.get(URL, {"unknown": "1"}).status_code == 200
    assert len(filtersets_built) == 3


@pytest.mark.parametrize(
    "query",
    ["category=a&category=b", "visibility=public&visibility=private", "limit=5&limit=100", "cursor=&cursor="],
)
def test_a_one_value_parameter_given_twice_is_refused_not_read_as_its_last_value(api, query):
    response = api.get(f"{URL}?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "repeated_parameter"
    assert response.json()["error"]["field"] == query.split("=")[0]


def test_a_filter_that_takes_several_values_may_repeat(api):
    response = api.get(f"{URL}?tag=a&tag=b")
    assert response.status_code == 200 and response.json()["results"] == []


def test_more_tag_values_than_the_limit_are_refused_but_more_names_than_an_image_can_carry_match_nothing(api):
    too_many_values = "&".join(f"tag=t{i}" for i in range(11))
    assert api.get(f"{URL}?{too_many_values}").json()["error"]["code"] == "max_length"
    many_names = ",".join(f"t{i}" for i in range(25))  # one value, 25 tags: no image has that many
    response = api.get(URL, {"tag": many_names})
    assert response.status_code == 200 and response.json()["results"] == []
