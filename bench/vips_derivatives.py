"""The alternative measured beside ``make_derivatives``: the same files made with pyvips (libvips).

Benchmark only (``pyvips`` and ``pyvips-binary`` are in requirements-dev.txt). It makes what
``images.processing.make_derivatives`` serves for an upload: the original re-encoded in its own
format (upright, ICC profile kept, nothing else), a WebP rendition with the long side at most
2048 converted to sRGB, and the 768 and 256 WebP thumbnails made from it, with the same
encoder settings. One decode, held in memory (the original needs every pixel). With
``reencode_original=False`` it uses libvips' shrink-on-load (``thumbnail_buffer``), as
make_derivatives uses JPEG ``draft`` then. The dominant colour and the EXIF summary, which
Pillow makes from headers and a 64 px copy, are left out: they cost a few ms either way.
"""

from __future__ import annotations

import pyvips

from images.processing import JPEG_QUALITY, PNG_LEVEL, THUMBNAIL_SIZES, WEBP_MAX, WEBP_METHOD, WEBP_QUALITY


def _webp(image: pyvips.Image) -> bytes:
    return image.webpsave_buffer(Q=WEBP_QUALITY, effort=WEBP_METHOD, keep="none")


def _original(image: pyvips.Image, loader: str) -> bytes:
    if loader.startswith("jpeg"):
        return image.jpegsave_buffer(Q=JPEG_QUALITY, keep="icc")
    if loader.startswith("png"):
        return image.pngsave_buffer(compression=PNG_LEVEL, keep="icc")
    return image.webpsave_buffer(Q=JPEG_QUALITY, effort=WEBP_METHOD, keep="icc")


def vips_derivatives(data: bytes, *, reencode_original: bool = True) -> dict[str, bytes]:
    """File name → bytes: ``original`` (when re-encoded), ``webp``, ``thumb_768``, ``thumb_256``."""
    out: dict[str, bytes] = {}
    if reencode_original:
        image = pyvips.Image.new_from_buffer(data, "", access="random").autorot().copy_memory()
        out["original"] = _original(image, image.get("vips-loader"))
        scale = min(1.0, WEBP_MAX / max(image.width, image.height))
        rendition = image.resize(scale, kernel="lanczos3") if scale < 1 else image
    else:
        rendition = pyvips.Image.thumbnail_buffer(data, WEBP_MAX, size="down")
    if rendition.get_typeof("icc-profile-data"):
        rendition = rendition.icc_transform("srgb")
    rendition = rendition.copy_memory()
    out["webp"] = _webp(rendition)
    source = rendition
    for side in sorted(THUMBNAIL_SIZES, reverse=True):
        scale = min(1.0, side / max(source.width, source.height))
        source = source.resize(scale, kernel="lanczos3").copy_memory() if scale < 1 else source
        out[f"thumb_{side}"] = _webp(source)
    return out
