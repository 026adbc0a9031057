"""RejectUnknownFields: unknown body keys are errors naming them; tolerated ones are ignored."""

from __future__ import annotations

from typing import ClassVar

from rest_framework import serializers

from imagegen.api.strict import RejectUnknownFields


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
