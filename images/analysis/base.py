"""The one interface every image analyzer implements."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from PIL import Image, UnidentifiedImageError

# What remote services read (Rekognition: JPEG and PNG only), and the size anything else is sent at.
SENDABLE_TYPES = ("image/jpeg", "image/png")
SEND_SIDE = 1600


@dataclass(frozen=True)
class Label:
    """What an analyzer sees in an image: a name and how sure it is (0..1)."""

    name: str
    confidence: float

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "confidence": round(self.confidence, 3)}


class AnalysisError(Exception):
    """The analyzer could not look at the image (timeout, service error, unreadable bytes).

    The image stays as it is, without labels; ``permanent`` errors (bytes the
    analyzer can never read) are not retried.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@runtime_checkable
class Analyzer(Protocol):
    name: str

    def analyze(self, data: bytes, *, content_type: str) -> list[Label]:
        """Labels of the image in ``data``, most confident first. Raises ``AnalysisError``."""
        ...


def sendable(data: bytes, content_type: str, *, max_bytes: int) -> bytes:
    """``data`` as remote services take it: a JPEG or PNG of at most ``max_bytes`` as it is, anything
    else re-encoded as a JPEG of at most ``SEND_SIDE`` pixels a side. ``AnalysisError`` for bytes that are no image.
    """
    if content_type in SENDABLE_TYPES and len(data) <= max_bytes:
        return data
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.thumbnail((SEND_SIDE, SEND_SIDE))
            buf = io.BytesIO()
            im.convert("RGB").save(buf, "JPEG", quality=90)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise AnalysisError(f"not a readable image: {exc}", permanent=True) from exc
    return buf.getvalue()
