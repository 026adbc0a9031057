"""The one interface every image provider implements.

Providers turn a render request into image bytes. They never touch the
database or storage: the pipeline hands them everything they need and stores
what they return.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable


@dataclass(frozen=True)
class ReferenceImage:
    """A reference for image-to-image: its bytes, and a URL the provider may fetch
    it from (a presigned storage URL) for providers that only take URLs."""

    data: bytes
    content_type: str
    url: str | None = None


@dataclass(frozen=True)
class RenderRequest:
    prompt: str
    width: int
    height: int
    seed: int
    n: int = 1
    negative_prompt: str = ""
    style: str = ""
    model: str = ""
    quality: str = ""
    strength: float | None = None
    references: tuple[ReferenceImage, ...] = field(default_factory=tuple)
    # The output asked for: png | jpeg | webp, its quality (0-100, jpeg/webp), auto | opaque | transparent.
    output_format: str = "png"
    output_compression: int | None = None
    background: str = "auto"
    # An edit's mask (PNG; alpha 0 marks what to change) over references[0].
    mask: bytes | None = None
    input_fidelity: str = ""
    moderation: str = ""
    # Intermediate frames wanted (0-3), for providers with ``streams_partial_images``.
    partial_images: int = 0


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    content_type: str
    width: int
    height: int
    revised_prompt: str | None = None
    # Extra facts worth keeping with the image (e.g. the builtin's palette).
    info: dict = field(default_factory=dict)


class ProviderError(Exception):
    """A provider could not render. ``permanent`` errors fail the job at once;
    others are retried with backoff.

    ``message`` is the detail for the log. The job's owner reads ``user_message``
    when given, else what :mod:`images.failures` says for ``code``.
    """

    def __init__(
        self, message: str, *, code: str = "provider_error", permanent: bool = False, user_message: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.permanent = permanent
        self.user_message = user_message


class GenerationCanceled(Exception):
    """Raised by a provider when ``should_cancel()`` turned true between steps."""


ProgressCallback = Callable[[int], None]
# ``on_partial_image(image_index, partial_image_index, data, content_type)``: one intermediate frame.
PartialImageCallback = Callable[[int, int, bytes, str], None]
CancelCheck = Callable[[], bool]


@runtime_checkable
class Provider(Protocol):
    name: ClassVar[str]

    def is_configured(self) -> bool:
        """Whether the settings this provider needs (keys, URLs) are present."""
        ...

    def models(self) -> list[str]:
        """Model names this provider accepts; the first is its default."""
        ...

    def generate(
        self, request: RenderRequest, *, on_progress: ProgressCallback, should_cancel: CancelCheck
    ) -> list[GeneratedImage]:
        """Render ``request.n`` images.

        Calls ``on_progress(percent)`` as work advances (0..100; the caller
        limits how often it is written) and checks ``should_cancel()`` between
        steps, raising ``GenerationCanceled`` when it is true. Raises
        ``ProviderError`` on failure.

        A provider whose class sets ``streams_partial_images = True`` also takes
        ``on_partial_image`` (a ``PartialImageCallback``) and calls it with up to
        ``request.partial_images`` intermediate frames of its first image.
        """
        ...
