"""RejectUnknownFields: unknown body keys are errors naming them; tolerated ones are ignored.
StrictTypes: a JSON value of the wrong type is an ``invalid_type`` error, never coerced (form data is)."""

from __future__ import annotations

from typing import ClassVar

import pytest
from django.http import QueryDict
from rest_framework import serializers

from imagegen.api.strict import RejectUnknownFields, StrictTypes


class Example(RejectUnknownFields):
    unknown_field_hints: ClassVar[dict[str, str]] = {"colour": "use color"}

    color = serializers.CharField()
    created_at = serializers.DateTimeField(read_only=True)

    def tolerated_fields(self) -> set[str]:
        return {"id"}


def test_known_and_tolerated_keys_pass_and_tolerated_ones_are_dropped():
    form = Example(data={"color": "red", "id": "x"})
    assert form.is_valid(), form.errors
    assert form.validated_data == {"color": "red"}


def test_an_unknown_key_is_an_unknown_field_error_listing_the_writable_fields():
    form = Example(data={"color": "red", "shade": "dark"})
    assert not form.is_valid()
    (error,) = form.errors["shade"]
    assert error.code == "unknown_field"
    assert "color" in str(error) and "created_at" not in str(error)


def test_a_read_only_field_sent_in_is_unknown_unless_tolerated():
    form = Example(data={"color": "red", "created_at": "2026-01-01T00:00:00Z"})
    assert not form.is_valid()
    assert set(form.errors) == {"created_at"}


def test_a_known_mistake_gets_its_hint():
    form = Example(data={"colour": "red"})
    assert not form.is_valid()
    assert "use color" in str(form.errors["colour"][0])


# --- StrictTypes: JSON values keep their types ----------------------------------------


class Nested(StrictTypes):
    label = serializers.CharField()


class Typed(StrictTypes):
    text = serializers.CharField(required=False)
    email = serializers.EmailField(required=False)
    count = serializers.IntegerField(required=False)
    ratio = serializers.FloatField(required=False, allow_null=True)
    flag = serializers.BooleanField(required=False)
    ident = serializers.UUIDField(required=False)
    when = serializers.DateTimeField(required=False)
    choice = serializers.ChoiceField(choices=["1", "2"], required=False)
    texts = serializers.ListField(child=serializers.CharField(), required=False)
    counts = serializers.DictField(child=serializers.IntegerField(), required=False)
    nested = Nested(required=False)
    anything = serializers.JSONField(required=False)


UUID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("text", 12345, "a number"),
        ("text", 1.5, "a number"),
        ("text", True, "a boolean"),
        ("email", 7, "a number"),
        ("count", "2", "a string"),
        ("count", True, "a boolean"),
        ("count", 2.0, "a number"),
        ("ratio", "0.5", "a string"),
        ("ratio", False, "a boolean"),
        ("flag", "true", "a string"),
        ("flag", 1, "a number"),
        ("ident", 1234, "a number"),
        ("when", 1700000000, "a number"),
        ("choice", 1, "a number"),
    ],
    ids=lambda value: repr(value),
)
def test_a_json_value_of_another_type_is_an_invalid_type_error_not_coerced(field, value, kind):
    form = Typed(data={field: value})
    assert not form.is_valid()
    (error,) = form.errors[field]
    assert error.code == "invalid_type"
    assert str(error).endswith(f"not {kind}")


def test_the_items_of_a_list_keep_their_type_and_the_error_names_the_index():
    form = Typed(data={"texts": ["a", 2, "c"]})
    assert not form.is_valid()
    assert form.errors["texts"][1][0].code == "invalid_type"


def test_the_values_of_a_dict_keep_their_type():
    form = Typed(data={"counts": {"a": 1, "b": "2"}})
    assert not form.is_valid()
    assert form.errors["counts"]["b"][0].code == "invalid_type"


def test_the_fields_of_a_nested_object_keep_their_type():
    form = Typed(data={"nested": {"label": 5}})
    assert not form.is_valid()
    assert form.errors["nested"]["label"][0].code == "invalid_type"


def test_values_of_the_right_json_type_pass_unchanged():
    data = {
        "text": "12345", "email": "a@example.com", "count": 2, "ratio": 1, "flag": False, "ident": UUID,
        "when": "2026-01-01T00:00:00Z", "choice": "1", "texts": ["a"], "counts": {"a": 1},
        "nested": {"label": "x"}, "anything": [1, "two", None],
    }  # fmt: skip
    form = Typed(data=data)
    assert form.is_valid(), form.errors
    assert form.validated_data["text"] == "12345" and form.validated_data["ratio"] == 1.0


def test_null_is_left_to_the_field():
    assert Typed(data={"ratio": None}).is_valid()
    form = Typed(data={"count": None})
    assert not form.is_valid() and form.errors["count"][0].code == "null"


def test_form_data_is_text_and_is_parsed_as_before():
    form = Typed(data=QueryDict("text=12345&count=2&ratio=0.5&flag=true&choice=1"))
    assert form.is_valid(), form.errors
    assert form.validated_data == {"text": "12345", "count": 2, "ratio": 0.5, "flag": True, "choice": "1"}


def test_unknown_fields_are_refused_before_types_are_checked():
    form = Example(data={"color": 5, "shade": "dark"})
    assert not form.is_valid()
    assert set(form.errors) == {"shade"}
