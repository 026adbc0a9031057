"""The one interface every image analyzer implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


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
