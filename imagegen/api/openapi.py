"""drf-spectacular's AutoSchema, stating in request bodies exactly what DRF enforces.

Beyond drf-spectacular's own mapping: text fields refuse NUL characters and,
unless blank is allowed, text that is only whitespace once trimmed (DRF's
CharField does both); ``RejectUnknownFields`` bodies are
``additionalProperties: false`` and list the keys they tolerate. Kept apart
from imagegen.api.schema: DRF imports this class while drf_spectacular.views
is still loading.
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular import openapi
from rest_framework import serializers

from imagegen.api.strict import RejectUnknownFields

# What Python's str.strip() removes (DRF trims with it), as a character class every regex
# dialect reads alike: ECMA-262 (JSON Schema), Python's re, Rust's regex.
_WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0" + "\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# DRF refuses NUL in every CharField (ProhibitNullCharactersValidator).
TEXT_PATTERN = r"^[^\x00]*$"
# ... and blank text (after trimming) unless the field allows it.
NOT_BLANK_PATTERN = rf"^[^\x00]*[^\x00{_WHITESPACE}][^\x00]*$"


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, with request bodies that say what the server refuses."""

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict:
        schema = super()._map_basic_serializer(serializer, direction)
        if direction != "request":
            return schema
        instance = serializer if isinstance(serializer, serializers.Serializer) else serializer()
        properties = schema.get("properties", {})
        for name, field in instance.fields.items():
            if name in properties and "$ref" not in properties[name]:
                _text_constraints(field, properties[name])
        if "__doc__" not in type(instance).__dict__:
            schema.pop("description", None)  # a base class's docstring says nothing about this body
        if isinstance(instance, RejectUnknownFields):
            schema["additionalProperties"] = False
            for name in sorted(instance.tolerated_fields() - set(properties)):
                properties[name] = {
                    "description": "Read-only: accepted and ignored, so a read object can be sent back."
                }
            schema["properties"] = properties
        # A serializer may state what its service checks beyond its fields (an enum, a limit, a rule
        # between fields): ``amend_openapi(schema)`` changes the request body's schema in place.
        if hasattr(instance, "amend_openapi"):
            instance.amend_openapi(schema)
        return schema

    def _get_filter_parameters(self) -> list[dict]:
        # django-filter skips a filter given an empty value (a page's form sends its empty fields).
        parameters = super()._get_filter_parameters()
        filters = getattr(getattr(self.view, "filterset_class", None), "base_filters", {})
        for parameter in parameters:
            schema = parameter.get("schema", {})
            if schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema):
                # Django's CharField refuses NUL, and checks the filter's max_length.
                schema["pattern"] = TEXT_PATTERN
                declared = filters.get(parameter["name"])
                if declared is not None and declared.extra.get("max_length"):
                    schema["maxLength"] = declared.extra["max_length"]
            _empty_is_absent(parameter)
        return parameters

    def _get_format_parameters(self) -> list[dict]:
        # DRF's content negotiation ignores an empty ``?format=``.
        parameters = super()._get_format_parameters()
        for parameter in parameters:
            _empty_is_absent(parameter)
        return parameters

    def _process_override_parameters(self, direction: str = "request") -> dict:
        # A view's own optional choice with a default (``?variant=``) takes that default when sent empty.
        parameters = super()._process_override_parameters(direction)
        for parameter in parameters.values():
            if parameter and "enum" in parameter.get("schema", {}) and "default" in parameter["schema"]:
                _empty_is_absent(parameter)
        return parameters


def _empty_is_absent(parameter: dict) -> None:
    """State that an optional query parameter sent empty (``?name=``) is taken as not sent."""
    # Only where the schema itself refuses "" (a choice, a date, an id): elsewhere "" already holds
    # to it, and the flag would only wrap the schema in an anyOf for tools to unwrap (schemathesis
    # 4.32 then reads ?tag=0 as a number sent for an array: a request it calls invalid).
    if (
        parameter.get("in") == "query"
        and not parameter.get("required")
        and not _admits_empty(parameter.get("schema", {}))
    ):
        parameter["allowEmptyValue"] = True


def _admits_empty(schema: dict) -> bool:
    """Whether an empty query value (``?name=``) holds to ``schema``: text, or a list of one text."""
    if schema.get("type") == "array":
        return schema.get("minItems", 0) <= 1 and _admits_empty(schema.get("items", {}))
    return (
        schema.get("type") == "string"
        and not {"enum", "format", "minLength"} & set(schema)
        and re.search(schema.get("pattern", ""), "") is not None
    )


def _text_constraints(field: Any, schema: dict) -> None:
    """The NUL and blank rules of DRF's CharField as a ``pattern`` (lists: on their items)."""
    if isinstance(field, serializers.ListField) and isinstance(schema.get("items"), dict):
        _text_constraints(field.child, schema["items"])
        return
    if not isinstance(field, serializers.CharField) or isinstance(field, serializers.ChoiceField):
        return
    if schema.get("type") != "string" or "pattern" in schema or "enum" in schema or "format" in schema:
        return
    blank_refused = not field.allow_blank and field.trim_whitespace
    schema["pattern"] = NOT_BLANK_PATTERN if blank_refused else TEXT_PATTERN
