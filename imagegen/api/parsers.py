"""JSON request bodies with a nesting limit.

``json.loads`` of 100,000 ``[`` raises RecursionError, which DRF's parser does
not catch (a 500); a few hundred levels parse but then recurse through
serializers, ``json.dumps`` and the database. No body of ours nests more than
a few levels, so anything deeper than MAX_JSON_DEPTH is a 400 ``invalid_json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers

from imagegen.api.errors import ApiError

MAX_JSON_DEPTH = 64


def nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists and objects more than ``limit`` levels (iterative: deep input cannot recurse)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser (strict, UTF-8) that refuses deep nesting with 400 ``invalid_json``."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            value = super().parse(stream, media_type, parser_context)
        except RecursionError:
            too_deep = True
        else:
            too_deep = nests_deeper_than(value, MAX_JSON_DEPTH)
        if too_deep:
            raise ApiError(400, "invalid_json", f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
        return value
