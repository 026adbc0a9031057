"""Image representations kept by the database row they were made from.

A gallery's first page is asked for again and again (apps polling it, pages
refreshed) while its rows rarely change, and making an image's representation
(five signed URLs, the moderation summary, dates) cost more than reading its
row. A representation is a function of the row's values and of what the answer
shares (the URLs' host, their signing period, the storage, the time zone), so it
is kept under exactly those: a changed row, a new URL period or another host is
another key, and nothing needs invalidating. Bounded: past ``size`` entries the
oldest go. A kept representation is shared by every answer that uses it: it is
only ever rendered, never changed.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from imagegen.bounded import BoundedStore


class ImageRow:
    """A list row as the database driver returned it, converted only when a representation is made.

    ``key`` is the raw row made hashable: the representation is kept under it. ``converted()``
    is the row as the serializer reads it (field name → value, JSON decoded, dates parsed);
    attribute access reads it too (the cursor's position is read from the last row).
    """

    __slots__ = ("_convert", "_fields", "_raw", "_values", "key")

    def __init__(
        self, raw: tuple, key: Hashable, *, fields: tuple[str, ...], convert: Callable[[tuple], tuple]
    ) -> None:
        self.key = key
        self._raw = raw
        self._fields = fields
        self._convert = convert
        self._values: dict | None = None

    def converted(self) -> dict:
        if self._values is None:
            self._values = dict(zip(self._fields, self._convert(self._raw), strict=True))
        return self._values

    def __getattr__(self, name: str) -> Any:
        try:
            return self.converted()[name]
        except KeyError:
            raise AttributeError(name) from None


class KeptRepresentations(BoundedStore[dict]):
    """Representations by (what the answer shares, the row's raw values)."""

    def __init__(self, size: int = 2048) -> None:
        super().__init__(size)

    def get_or_make(self, key: Hashable, make: Callable[[], dict]) -> dict:
        try:
            kept = self.get(key)
        except TypeError:  # a value the driver gave that cannot be hashed: made each time
            return make()
        return kept if kept is not None else self.put(key, make())


IMAGES = KeptRepresentations()
# Status polls' answers, by the generation's fingerprint (every value read: images.services.generations).
GENERATIONS = KeptRepresentations(size=1024)
