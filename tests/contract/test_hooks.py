"""tests/contract/hooks.py: only a metadata refusal the body earned, of a rule OpenAPI 3.0 cannot state, is dropped."""

from __future__ import annotations

import pytest

from images.params import MAX_METADATA_BYTES
from tests.contract.hooks import unstatable_metadata_refusal


def refusal(code: str, field: str = "metadata") -> dict:
    return {"error": {"code": code, "message": "refused", "field": field}}


@pytest.mark.parametrize(
    "metadata, code",
    [
        ({"a": [{"b\x00": 1}]}, "null_characters_not_allowed"),
        ({"\x00": None}, "null_characters_not_allowed"),
        ({"blob": "z" * MAX_METADATA_BYTES}, "max_length"),
        ({"wide": "\u00e9" * (MAX_METADATA_BYTES // 6 + 1)}, "max_length"),  # each é is \u00e9 as JSON
    ],
)
def test_a_refusal_the_metadata_earned_is_dropped(metadata, code):
    assert unstatable_metadata_refusal({"prompt": "a fox", "metadata": metadata}, 400, refusal(code))


@pytest.mark.parametrize(
    "metadata, status, answer",
    [
        ({"a": "x\x00"}, 400, refusal("null_characters_not_allowed")),  # the schema states NUL in texts
        ({"a": {"b": 1}}, 400, refusal("null_characters_not_allowed")),
        ({"blob": "z" * 100}, 400, refusal("max_length")),
        ({"a\x00": 1}, 400, refusal("invalid")),
        ({"a\x00": 1}, 400, refusal("null_characters_not_allowed", field="prompt")),
        ({"a\x00": 1}, 500, refusal("null_characters_not_allowed")),
        ({"a\x00": 1}, 400, "not an error"),
    ],
)
def test_any_other_refusal_still_fails_the_run(metadata, status, answer):
    assert not unstatable_metadata_refusal({"prompt": "a fox", "metadata": metadata}, status, answer)


def test_file_parts_are_read_as_text_the_validator_can_check_and_text_fields_as_they_are():
    from schemathesis.transport.serialization import Binary

    from tests.contract.hooks import _files_as_text

    assert _files_as_text(Binary(b"\x89PNG")) == "" and type(_files_as_text(Binary(b"x"))) is str
    assert _files_as_text([Binary(b"a"), b"b"]) == ["", ""]
    assert _files_as_text("-741") == "-741" and _files_as_text(None) is None
