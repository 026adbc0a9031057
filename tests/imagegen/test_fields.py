"""imagegen.fields.JSONField: Django's JSONField, decoded by orjson, with Django's answers for the rest."""

from __future__ import annotations

import math

import pytest
from django.db import models
from django.db.models.fields.json import KeyTransform

from imagegen.fields import JSONField
from images.models import Image
from tests.images.factories import ImageFactory


@pytest.fixture
def field() -> JSONField:
    return JSONField()


def test_it_decodes_json_text_as_the_standard_library_does(field):
    text = '{"a": [1, 2.5, "é", null, true], "b": {"c": "\\u00e9"}}'
    assert field.from_db_value(text, None, None) == {"a": [1, 2.5, "é", None, True], "b": {"c": "é"}}


def test_it_reads_what_orjson_refuses_with_the_standard_library(field):
    assert math.isnan(field.from_db_value('{"x": NaN}', None, None)["x"])
    assert field.from_db_value("[18446744073709551616]", None, None) == [2**64]


def test_text_that_is_not_json_comes_back_as_it_is(field):
    assert field.from_db_value("not json", None, None) == "not json"


def test_null_stays_none_and_a_key_transform_keeps_non_text_values(field):
    assert field.from_db_value(None, None, None) is None
    assert field.from_db_value(5, KeyTransform("width", "variants"), None) == 5


def test_a_custom_decoder_is_still_used(field):
    import json

    class Upper(json.JSONDecoder):
        def decode(self, s, *args, **kwargs):
            return super().decode(s.upper(), *args, **kwargs)

    assert JSONField(decoder=Upper).from_db_value('["a"]', None, None) == ["A"]


def test_it_deconstructs_as_djangos_field_so_migrations_see_no_change():
    _name, path, _args, kwargs = JSONField(default=dict, blank=True).deconstruct()
    assert path == "django.db.models.JSONField"
    assert kwargs == models.JSONField(default=dict, blank=True).deconstruct()[3]


@pytest.mark.django_db
def test_models_read_their_json_columns_through_it(user):
    image = ImageFactory(user=user, exif={"Make": "Canon", "FNumber": 2.8}, labels=[{"name": "sea", "confidence": 0.9}])
    row = Image.objects.filter(pk=image.pk).values("exif", "labels").get()
    assert row == {"exif": {"Make": "Canon", "FNumber": 2.8}, "labels": [{"name": "sea", "confidence": 0.9}]}
    assert isinstance(Image._meta.get_field("variants"), JSONField)
