"""The lists' query filters (images/api/filters.py): the server refuses exactly what /api/schema says is invalid."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

URL = "/api/v1/public/images"


@pytest.fixture(scope="module")
def parameters() -> dict[str, dict]:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/public/images"]["get"]["parameters"]}


def holds_to(schema: dict, text: str) -> bool:
    """Whether one query value holds to a text parameter's schema (or to its items: one value of a list)."""
    schema = schema.get("items", schema)
    return len(text) <= schema.get("maxLength", len(text)) and re.search(schema["pattern"], text) is not None


@pytest.mark.parametrize(
    "name, text, valid",
    [
        ("category", "a" * 64, True),
        ("category", " " + "a" * 64, False),  # 64 once trimmed, but the limit counts the text as sent
        ("category", "a" * 64 + "\u3000", False),
        ("label", "b" * 100, True),
        ("label", "b" * 100 + " ", False),
        ("q", "fox " * 50, True),
        ("q", " " + "fox " * 50, False),
        ("tag", "a" * 64, True),
        ("tag", "a" * 64 + " ", False),  # one tag of 65 characters as sent
        ("tag", "a" * 60 + "," + "b" * 60, True),  # two tags in one value: each within the limit
        ("tag", "a" * 60 + ", " + "b" * 64, False),
        ("tag", "\U0001f98a" * 64, True),  # characters (code points), not UTF-16 units or bytes
        ("tag", "\U0001f98a" * 65, False),
    ],
)
def test_a_filter_text_is_measured_as_sent_by_the_schema_and_the_server_alike(parameters, name, text, valid):
    assert holds_to(parameters[name], text) is valid
    response = APIClient().get(URL, {name: text})
    assert response.status_code == (200 if valid else 400), response.content
    if not valid:
        assert response.json()["error"]["field"] == name
