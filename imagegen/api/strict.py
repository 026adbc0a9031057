"""Input serializers that keep JSON's types and refuse fields they do not take.

``StrictTypes``: DRF coerces freely (``{"prompt": 12345}`` becomes the prompt
"12345", ``{"n": "2"}`` the number 2, ``{"favorite": "yes"}`` true). In a JSON
body the client chose a type, and a wrong one is a bug on its side that
coercion would hide: a string field takes a JSON string, a number field a JSON
number, a boolean field ``true``/``false``, each a 400 ``invalid_type`` naming
the field otherwise (OpenAI's API answers the same code). Query strings and
form posts carry only text, so they are parsed as DRF always did.

``RejectUnknownFields``: DRF drops unknown keys silently, so ``{"width": 512}``
or a misspelt ``"visiblity"`` would "succeed" while doing something else than
asked. For the request bodies of our own API a key we do not know is a 400
naming it. Updates still ignore the read-only fields of the resource they
change, so a client may send back what it read with one field changed.
The schema (imagegen/api/schema.py) states both: ``additionalProperties: false``
and the tolerated keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.utils import html

INVALID_TYPE = "invalid_type"

# Field classes → the JSON type they take. Most specific first (BooleanField is no
# IntegerField in DRF, but ChoiceField subclasses must be matched before anything else).
_TEXT_FIELDS = (
    serializers.CharField,
    serializers.UUIDField,
    serializers.DateTimeField,
    serializers.DateField,
    serializers.TimeField,
    serializers.DurationField,
)


def _kind(value: object) -> str:
    """``value``'s JSON type, as a message names it."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return "null"


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _expected(field: serializers.Field) -> tuple[str, Any] | None:
    """What JSON value ``field`` takes: (its name in a message, a check), or None to leave it to the field."""
    if isinstance(field, serializers.MultipleChoiceField):
        return None  # a list; its items are checked against the choices by the field
    if isinstance(field, serializers.ChoiceField):
        keys = list(field.choices)
        if keys and all(isinstance(key, str) for key in keys):
            return "a string", lambda value: isinstance(value, str)
        if keys and all(_is_integer(key) for key in keys):
            return "an integer", _is_integer
        return None
    if isinstance(field, serializers.BooleanField):
        return "a boolean", lambda value: isinstance(value, bool)
    if isinstance(field, serializers.IntegerField):
        return "an integer", _is_integer
    if isinstance(field, serializers.FloatField | serializers.DecimalField):
        return "a number", _is_number
    if isinstance(field, _TEXT_FIELDS):
        return "a string", lambda value: isinstance(value, str)
    return None


def json_type_errors(field: serializers.Field, value: object) -> Any:
    """The type errors of a JSON ``value`` sent to ``field``, in DRF's error layout; None if there are none.

    Nested serializers, lists and dicts are checked item by item (their errors are
    keyed by field name, index or key, as DRF keys its own). ``None`` is left to
    the field, which knows whether it allows null; so are values of a container
    type that is itself wrong (the field answers ``not_a_list`` and the like).
    """
    if value is None or field.read_only:
        return None
    if isinstance(field, serializers.ListSerializer):
        if isinstance(value, list):
            return _items(field.child, enumerate(value))
        return None
    if isinstance(field, serializers.Serializer):
        if isinstance(value, Mapping):
            return _members(field, value)
        return None
    if isinstance(field, serializers.ListField):
        if isinstance(value, list):
            return _items(field.child, enumerate(value))
        return None
    if isinstance(field, serializers.DictField):
        if isinstance(value, Mapping):
            return _items(field.child, value.items())
        return None
    expected = _expected(field)
    if expected is None:
        return None
    name, check = expected
    if check(value):
        return None
    return [ErrorDetail(f"must be {name}, not {_kind(value)}", code=INVALID_TYPE)]


def _items(child: serializers.Field, items: Any) -> dict | None:
    errors = {key: error for key, item in items if (error := json_type_errors(child, item)) is not None}
    return errors or None


def _members(serializer: serializers.Serializer, data: Mapping) -> dict | None:
    errors = {}
    for name, field in serializer.fields.items():
        if name in data and (error := json_type_errors(field, data[name])) is not None:
            errors[name] = error
    return errors or None


class StrictTypes(serializers.Serializer):
    """A request body whose JSON values must have the types of their fields (no coercion).

    Form and multipart bodies (a QueryDict: text only) are validated as DRF does.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping) and not html.is_html_input(data):
            errors = _members(self, data)
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class RejectUnknownFields(StrictTypes):
    """``unknown_field_hints`` maps a key clients often try to what to send instead."""

    unknown_field_hints: ClassVar[dict[str, str]] = {}

    def tolerated_fields(self) -> set[str]:
        """Keys accepted and ignored: an update's resource fields that cannot be written."""
        return set()

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = {name for name, field in self.fields.items() if not field.read_only}
            allowed = known | self.tolerated_fields()
            unknown = sorted(str(key) for key in data if key not in allowed)
            if unknown:
                raise serializers.ValidationError(
                    {key: [ErrorDetail(self._unknown_message(key, known), code="unknown_field")] for key in unknown}
                )
        return super().to_internal_value(data)

    def _unknown_message(self, key: str, known: set[str]) -> str:
        hint = self.unknown_field_hints.get(key)
        if hint:
            return f"{key!r} is not a field here; {hint}"
        return f"{key!r} is not a field here; the fields are {', '.join(sorted(known))}"
