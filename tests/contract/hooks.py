"""schemathesis hooks of test_schemathesis.py: the refusals of a client's metadata that OpenAPI 3.0 cannot state.

``metadata`` (POST /api/v1/generations) is any JSON object the schema's recursive ``JsonValue`` allows,
but the service also refuses (a 400 naming ``metadata``) what no OpenAPI 3.0 keyword says:
- a NUL in a key, at any depth: PostgreSQL's jsonb cannot store it, and 3.0 has no ``propertyNames``
  (NUL in the texts themselves the schema states with ``pattern``);
- over ``MAX_METADATA_BYTES`` of JSON: a size as serialized, which no keyword measures (bounds on
  keys, lengths and depth stricter than that would make the server accept what the schema refuses).
A schema-valid body refused for one of these is dropped here, and only after checking the body
itself earned the refusal: any other 400 still fails the run. Loaded with ``SCHEMATHESIS_HOOKS``.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis

from images.params import MAX_METADATA_BYTES

# The refusal the service answers, and whether the generated metadata earned it.
EARNED = {
    "null_characters_not_allowed": lambda metadata: _nul_in_a_key(metadata),
    "max_length": lambda metadata: len(json.dumps(metadata)) > MAX_METADATA_BYTES,
}


def _nul_in_a_key(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if any("\x00" in key for key in item):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def unstatable_metadata_refusal(body: object, status: int, answer: object) -> bool:
    """Whether ``answer`` refuses ``body``'s metadata for a rule the schema cannot state, which it broke."""
    if status != 400 or not isinstance(body, dict) or not isinstance(answer, dict):
        return False
    error = answer.get("error")
    if not isinstance(error, dict) or error.get("field") != "metadata":
        return False
    earned = EARNED.get(error.get("code"))
    return earned is not None and earned(body.get("metadata"))


@schemathesis.hook
def filter_failure(ctx: Any, failure: Any, case: Any, response: Any) -> bool:
    if failure.code != "ST202":  # "Schema-valid request rejected" (positive_data_acceptance)
        return True
    try:
        answer = response.json()
    except ValueError:
        return True
    return not unstatable_metadata_refusal(case.body, response.status_code, answer)
