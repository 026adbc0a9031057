"""The Cancel-After header: what the server takes is what the schema's pattern states."""

from __future__ import annotations

import re

import pytest

from imagegen.api.cancel_after import header_pattern, parse_cancel_after
from imagegen.api.errors import ApiError


@pytest.mark.parametrize(("value", "seconds"), [("30s", 30), ("5m", 300), ("86400s", 86400), ("1440M", 86400)])
def test_a_duration_in_seconds_or_minutes_is_read(value, seconds):
    assert parse_cancel_after(value) == seconds


@pytest.mark.parametrize("value", ["0s", "0m", "030s", "5", "5h", "s", "-5s", "5.5s", "12345678s"])
def test_a_malformed_duration_is_a_400_naming_the_header(value):
    with pytest.raises(ApiError) as caught:
        parse_cancel_after(value)
    assert caught.value.status_code == 400 and caught.value.field == "Cancel-After"


def test_the_schema_pattern_takes_exactly_the_deadlines_the_server_allows():
    pattern = re.compile(header_pattern(86400))
    taken = [n for n in range(0, 90000) if pattern.fullmatch(f"{n}s")]
    assert taken == list(range(1, 86401))
    assert [n for n in range(0, 2000) if pattern.fullmatch(f"{n}m")] == list(range(1, 1441))
    assert not pattern.fullmatch("030s") and not pattern.fullmatch("30h")


def test_a_maximum_under_a_minute_allows_no_minutes():
    pattern = re.compile(header_pattern(45))
    assert pattern.fullmatch("45s") and not pattern.fullmatch("46s")
    assert not pattern.fullmatch("0m") and not pattern.fullmatch("1m")
