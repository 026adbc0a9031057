"""The expiring-signature check shared by signed media and signed uploads (imagegen/signing.py)."""

from __future__ import annotations

import pytest

from imagegen.signing import expiring_signature_valid


def expected(expires_at: int) -> str:
    return f"sig-{expires_at}"


def test_the_right_signature_before_its_time_is_valid():
    assert expiring_signature_valid(expected, "2000", "sig-2000", now=1000)


@pytest.mark.parametrize(
    ("expires", "signature"),
    [
        ("2000", "sig-2001"),  # signed for another time
        ("999", "sig-999"),  # expired
        ("soon", "sig-2000"),  # not a time
        ("2000", ""),
        ("2000", None),
        ("2000", "sïg-2000"),  # non-ASCII: refused, not a TypeError
    ],
)
def test_anything_else_is_refused(expires, signature):
    assert not expiring_signature_valid(expected, expires, signature, now=1000)
