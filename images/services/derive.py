"""Turn an original's bytes into the set of files stored for one image, and the row fields that describe them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from django.conf import settings

from images import encoding, processing
from images.params import OUTPUT_CONTENT_TYPES
from images.processing import EXTENSIONS, THUMBNAIL_SIZES
from images.providers.base import GeneratedImage, ProviderError

WEBP_MAX = 2048
# Stored file name (before the extension) of each variant, where it differs from the variant's name.
FILE_NAMES = {"webp": "full"}


@dataclass
class Rendition:
    data: bytes
    width: int
    height: int
    format: str
    content_type: str
    key: str = ""

    def describe(self) -> dict:
        return {
            "key": self.key,
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "content_type": self.content_type,
            "bytes": len(self.data),
        }


@dataclass
class DerivedImage:
    original: Rendition
    variants: dict[str, Rendition]
    sha256: str
    dominant_color: str
    exif: dict = field(default_factory=dict)
    # A generated image's background as rendered ("transparent" or "opaque"); "" for uploads.
    background: str = ""

    def files(self) -> dict[str, Rendition]:
        """File name → rendition, the original first."""
        ext = EXTENSIONS.get(self.original.content_type, "bin")
        names = {f"original.{ext}": self.original}
        for name, rendition in self.variants.items():
            names[f"{FILE_NAMES.get(name, name)}.{EXTENSIONS.get(rendition.content_type, 'bin')}"] = rendition
        return names

    def image_fields(self) -> dict:
        """Fields of an ``Image`` row, once every rendition has its storage key."""
        return {
            "storage_key": self.original.key,
            "width": self.original.width,
            "height": self.original.height,
            "format": self.original.format,
            "content_type": self.original.content_type,
            "bytes": len(self.original.data),
            "sha256": self.sha256,
            "variants": {name: rendition.describe() for name, rendition in self.variants.items()},
            "dominant_color": self.dominant_color,
            "exif": self.exif,
            "background": self.background,
        }


def _rendition(variant: processing.Variant) -> Rendition:
    return Rendition(
        data=variant.data,
        width=variant.width,
        height=variant.height,
        format=variant.format,
        content_type=variant.content_type,
    )


def conform_generated(
    output: GeneratedImage, *, output_format: str, compression: int | None, background: str
) -> GeneratedImage:
    """A provider's image in the job's output format, with its background ("transparent"/"opaque") in ``info``.

    The builtin renderer already encodes as asked and says its background; other
    providers' images are converted (flattened on white when the job wants an
    opaque background). Raises ``ProviderError`` for bytes that are not an image.
    """
    if output.content_type == OUTPUT_CONTENT_TYPES[output_format] and "background" in output.info:
        return output
    try:
        converted = encoding.conform(
            output.data, output_format=output_format, compression=compression, background=background
        )
    except encoding.EncodingError as exc:
        raise ProviderError(f"the provider's image could not be read: {exc}", code="invalid_response") from exc
    return replace(
        output,
        data=converted.data,
        content_type=converted.content_type,
        info={**output.info, "background": "transparent" if converted.transparent else "opaque"},
    )


def derive_image(data: bytes, *, png_text: dict[str, str] | None = None, generated: bool = False) -> DerivedImage:
    """One decode → the served original, thumbnails (256, 768) and a WebP rendition.

    Uploads (``generated=False``) are re-encoded: upright, no EXIF/GPS. A
    generated PNG is ours: it is served as rendered, with ``png_text`` (prompt,
    seed, parameters) added as PNG text chunks, which spares a full-size
    re-encode. Raises ``processing.InvalidImage`` for bytes that are not an
    acceptable image.
    """
    # Ours, in the format the job asked for (images/encoding.py): served as it is.
    keep_as_is = generated and data.startswith((processing.PNG_SIGNATURE, b"\xff\xd8\xff", b"RIFF"))
    result = processing.make_derivatives(
        data,
        max_pixels=settings.MAX_IMAGE_PIXELS,
        thumbnail_sizes=THUMBNAIL_SIZES,
        webp_max=WEBP_MAX,
        png_text=png_text,
        reencode_original=not keep_as_is,
    )
    if keep_as_is and result.info.format == "PNG":
        served = processing.png_with_text(data, png_text) if png_text else data
        original = Rendition(served, result.info.width, result.info.height, "PNG", "image/png")
    elif keep_as_is:
        original = Rendition(data, result.info.width, result.info.height, result.info.format, result.info.content_type)
    else:
        original = _rendition(result.served_original)
    return DerivedImage(
        original=original,
        variants={name: _rendition(variant) for name, variant in result.variants.items()},
        sha256=hashlib.sha256(original.data).hexdigest(),
        dominant_color=result.dominant_color,
        exif=result.exif,
    )
