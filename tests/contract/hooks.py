"""schemathesis hooks of test_schemathesis.py: what OpenAPI 3.0 cannot state, and one schemathesis 4.32.5 bug.

``metadata`` (POST /api/v1/generations) is any JSON object the schema's recursive ``JsonValue`` allows,
but the service also refuses (a 400 naming ``metadata``) what no OpenAPI 3.0 keyword says:
- a NUL in a key, at any depth: PostgreSQL's jsonb cannot store it, and 3.0 has no ``propertyNames``
  (NUL in the texts themselves the schema states with ``pattern``);
- over ``MAX_METADATA_BYTES`` of JSON: a size as serialized, which no keyword measures (bounds on
  keys, lengths and depth stricter than that would make the server accept what the schema refuses).
A schema-valid body refused for one of these is dropped here, and only after checking the body
itself earned the refusal: any other 400 still fails the run.

The bug: a multipart body whose only negation is a text field's type (``tags`` sent as -741 in
POST /api/v1/images) reaches the server as the text "-741", which holds to the schema. schemathesis
reads the fields as sent to clear such cases, but keeps the generated value of a file part (its
``Binary``, a str subclass), which its validator cannot read (jsonschema_rs: "Unsupported type:
'Binary'"): with a file part it never clears one and reports "Schema-violating request accepted".
Reproduced by repro_multipart_file_part.py beside this file (one file part, one text field); without
the file part it passes. Such a failure is dropped here only when schemathesis' own reading of the
body as sent, with each file part as text (and nothing it did not send), holds to the schema.

Loaded with ``SCHEMATHESIS_HOOKS``.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from schemathesis.core.parameters import ParameterLocation

# Private helpers of the pinned schemathesis (requirements-dev.txt): its own reading of a form as sent.
from schemathesis.specs.openapi.checks import (
    _form_body_is_valid_as_sent,
    _has_other_negated_location,
    _sent_form_fields,
)

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


def _files_as_text(value: object) -> object:
    if isinstance(value, bytes | bytearray) or (isinstance(value, str) and type(value) is not str):
        return ""  # a file part (bytes, or schemathesis' Binary): any bytes hold to format "binary"
    if isinstance(value, list):
        return [_files_as_text(item) for item in value]
    return value


def multipart_valid_as_sent(case: Any, response: Any) -> bool:
    """Whether a negative multipart body, its only negative part, reached the server as a schema-valid form."""
    media_type = case.media_type or ""
    if not media_type.startswith("multipart/form-data") or not isinstance(case.body, dict) or case.meta is None:
        return False
    body = ParameterLocation.BODY
    if not case.meta.is_negative_at(body) or _has_other_negated_location(case, body):
        return False
    sent = _sent_form_fields(response, media_type) or {}
    generated = case.body
    # Read with the file parts as text and without what never reached the wire (a null is not sent), then
    # put back as generated: the report shows the case as it was.
    case.body = {name: _files_as_text(value) for name, value in generated.items() if name in sent}
    try:
        return _form_body_is_valid_as_sent(response, case, media_type)
    finally:
        case.body = generated


@schemathesis.hook
def filter_failure(ctx: Any, failure: Any, case: Any, response: Any) -> bool:
    if failure.code == "ST201":  # "Schema-violating request accepted" (negative_data_rejection)
        return not multipart_valid_as_sent(case, response)
    if failure.code != "ST202":  # "Schema-valid request rejected" (positive_data_acceptance)
        return True
    try:
        answer = response.json()
    except ValueError:
        return True
    return not unstatable_metadata_refusal(case.body, response.status_code, answer)
