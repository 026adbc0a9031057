"""Input serializers that refuse fields they do not take.

DRF drops unknown keys silently, so ``{"width": 512}`` or a misspelt
``"visiblity"`` would "succeed" while doing something else than asked. For the
request bodies of our own API a key we do not know is a 400 naming it.
Updates still ignore the read-only fields of the resource they change, so a
client may send back what it read with one field changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail


class RejectUnknownFields(serializers.Serializer):
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
