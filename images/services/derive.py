"""Turn an original's bytes into the set of files stored for one image, and the row fields that describe them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.conf import settings

from images import processing
from images.processing import EXTENSIONS, THUMBNAIL_SIZES

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
        }


def _rendition(variant: processing.Variant) -> Rendition:
    return Rendition(
        data=variant.data,
        width=variant.width,
        height=variant.height,
        format=variant.format,
        content_type=variant.content_type,
    )


def derive_image(data: bytes, *, png_text: dict[str, str] | None = None, generated: bool = False) -> DerivedImage:
    """One decode → the served original, thumbnails (256, 768) and a WebP rendition.

    Uploads (``generated=False``) are re-encoded: upright, no EXIF/GPS. A
    generated PNG is ours: it is served as rendered, with ``png_text`` (prompt,
    seed, parameters) added as PNG text chunks, which spares a full-size
    re-encode. Raises ``processing.InvalidImage`` for bytes that are not an
    acceptable image.
    """
    keep_as_is = generated and data.startswith(processing.PNG_SIGNATURE)
    result = processing.make_derivatives(
        data,
        max_pixels=settings.MAX_IMAGE_PIXELS,
        thumbnail_sizes=THUMBNAIL_SIZES,
        webp_max=WEBP_MAX,
        png_text=png_text,
        reencode_original=not keep_as_is,
    )
    if keep_as_is:
        served = processing.png_with_text(data, png_text) if png_text else data
        original = Rendition(served, result.info.width, result.info.height, "PNG", "image/png")
    else:
        original = _rendition(result.served_original)
    return DerivedImage(
        original=original,
        variants={name: _rendition(variant) for name, variant in result.variants.items()},
        sha256=hashlib.sha256(original.data).hexdigest(),
        dominant_color=result.dominant_color,
        exif=result.exif,
    )
