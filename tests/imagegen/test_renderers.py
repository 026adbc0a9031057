"""OrjsonRenderer writes the same bytes as DRF's JSONRenderer, faster."""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from imagegen.api.renderers import OrjsonRenderer

VALUES = {
    "utc datetime": datetime.datetime(2026, 11, 30, 1, 2, 3, 456789, tzinfo=datetime.UTC),
    "offset datetime": datetime.datetime(2026, 11, 30, 1, 2, 3, tzinfo=ZoneInfo("Europe/Paris")),
    "naive datetime": datetime.datetime(2026, 11, 30, 1, 2, 3),
    "date": datetime.date(2026, 11, 30),
    "time": datetime.time(1, 2, 3, 4000),
    "timedelta": datetime.timedelta(seconds=90.5),
    "decimal": decimal.Decimal("1.25"),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "lazy string": gettext_lazy("This field is required."),
    "error detail": ErrorDetail("bad value", code="invalid"),
    "unicode": "caf\u00e9 \U0001f600 \u65e5\u672c",
    "line separators": "a\u2028b\u2029c",
    # The separators' first UTF-8 byte (0xE2) begins other characters too: they stay as they are.
    "separator lead byte": "5 \u20ac \u2026 \u2018quoted\u2019",
    "control characters": "tab\there\nnew \x00 nul \x1f",
    "integer keys": {1: "one", 2: "two"},
    "nested": {"results": [{"id": 1, "tags": ["a", "b"], "exif": {}}, None, True, 0.1, -3], "next": None},
    "return dict": ReturnDict({"a": 1}, serializer=None),
    "return list": ReturnList([1, 2], serializer=None),
    "tuple": (1, "two"),
    "big integer": 2**70,
    "float": 0.1,
}


@pytest.mark.parametrize("name", list(VALUES))
def test_output_matches_drf_json_renderer(name: str) -> None:
    data = {"value": VALUES[name]}
    assert OrjsonRenderer().render(data) == JSONRenderer().render(data)


def test_floats_in_exponent_form_keep_their_value() -> None:
    # orjson writes 1e-7 where the standard library writes 1e-07: the same number in JSON.
    for value in (1e-7, 1e16, -2.5e-300, 123456.789):
        assert json.loads(OrjsonRenderer().render({"v": value})) == json.loads(JSONRenderer().render({"v": value}))


def test_line_separators_are_escaped_for_javascript() -> None:
    assert OrjsonRenderer().render({"v": "a\u2028b"}) == b'{"v":"a\\u2028b"}'


def test_none_renders_an_empty_body() -> None:
    assert OrjsonRenderer().render(None) == b""


def test_an_indent_asked_for_by_the_client_is_honoured() -> None:
    rendered = OrjsonRenderer().render({"a": [1]}, "application/json; indent=2")
    assert rendered == JSONRenderer().render({"a": [1]}, "application/json; indent=2")
    assert b"\n  " in rendered


def test_an_unencodable_value_fails_as_with_drf() -> None:
    with pytest.raises(TypeError):
        OrjsonRenderer().render({"v": object()})


@pytest.mark.django_db
def test_the_api_answers_through_it(client) -> None:
    response = client.get("/api/v1/public/images")
    assert response.status_code == 200
    assert isinstance(response.accepted_renderer, OrjsonRenderer)
