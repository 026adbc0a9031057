"""Serializer fields whose schema drf-spectacular cannot infer: a client's own JSON object."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

from imagegen.api.openapi import TEXT_PATTERN

# Any JSON value whose texts hold no NUL at any depth, as one recursive component. The keys of its
# objects cannot be stated: OpenAPI 3.0 has no propertyNames (tests/contract/hooks.py says the rest).
JSON_VALUE_COMPONENT = "JsonValue"
JSON_VALUE_SCHEMA = {
    "description": "Any JSON value; no text in it, at any depth, keys included, may hold NUL (\\u0000).",
    "nullable": True,
    "pattern": TEXT_PATTERN,
    "items": {"$ref": f"#/components/schemas/{JSON_VALUE_COMPONENT}"},
    "additionalProperties": {"$ref": f"#/components/schemas/{JSON_VALUE_COMPONENT}"},
}


class JsonObjectField(serializers.DictField):
    """A JSON object the client owns (stored as it came, in PostgreSQL's jsonb: NUL is refused by the service)."""


class JsonObjectFieldExtension(OpenApiSerializerFieldExtension):
    target_class = JsonObjectField

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict:
        component = ResolvedComponent(
            name=JSON_VALUE_COMPONENT,
            type=ResolvedComponent.SCHEMA,
            object=JSON_VALUE_COMPONENT,
            schema=JSON_VALUE_SCHEMA,
        )
        auto_schema.registry.register_on_missing(component)
        return {"type": "object", "additionalProperties": component.ref}
