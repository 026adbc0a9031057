"""Generated images in the format asked for (PNG, JPEG or WebP), and an edit's mask applied.

Pure functions on Pillow images and bytes: no ORM, no storage. The builtin
renderer encodes with them directly; the pipeline converts what another
provider sent when it is not in the format the job asked for.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from images.params import OUTPUT_CONTENT_TYPES

# PNG zlib level 1 with the run-length strategy, chosen by measurement (make bench, "PNG encode";
# docs/benchmarks.md): at 1024x1024 about a quarter of level 6's time and 30% less than level 1's
# default strategy, for files ~1.2x level 6's. Storage is cheaper than a worker's CPU.
PNG_COMPRESS_LEVEL = 1
PNG_COMPRESS_TYPE = zlib.Z_RLE
# Without output_compression: JPEG and WebP at these qualities (OpenAI's own default is 100,
# which makes JPEGs about three times larger for no visible gain).
DEFAULT_QUALITY = {"jpeg": 90, "webp": 85}
# WebP effort (0 fast .. 6 slow): 2 is several times faster than the default 4 at 1024 px.
WEBP_METHOD = 2
FLATTEN_ON = (255, 255, 255)


class EncodingError(ValueError):
    """Bytes that are not an image Pillow can read."""


def has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)


def flatten(im: Image.Image, colour: tuple[int, int, int] = FLATTEN_ON) -> Image.Image:
    """``im`` as RGB: transparent areas laid over ``colour``."""
    if not has_alpha(im):
        return im if im.mode == "RGB" else im.convert("RGB")
    rgba = im.convert("RGBA")
    out = Image.new("RGB", rgba.size, colour)
    out.paste(rgba, mask=rgba.getchannel("A"))
    return out


def encode(im: Image.Image, output_format: str, compression: int | None = None) -> bytes:
    """``im`` encoded as ``output_format`` (png, jpeg, webp); JPEG loses alpha (flattened on white).

    ``compression`` (0-100, JPEG and WebP) is the encoder's quality, as OpenAI
    uses it; PNG is lossless and ignores it. No metadata is written, so the
    same pixels give the same bytes.
    """
    buf = io.BytesIO()
    if output_format == "jpeg":
        quality = DEFAULT_QUALITY["jpeg"] if compression is None else compression
        flatten(im).save(buf, "JPEG", quality=quality)
    elif output_format == "webp":
        quality = DEFAULT_QUALITY["webp"] if compression is None else compression
        out = im.convert("RGBA") if has_alpha(im) else (im if im.mode == "RGB" else im.convert("RGB"))
        out.save(buf, "WEBP", quality=quality, method=WEBP_METHOD)
    elif output_format == "png":
        out = im if im.mode in ("RGB", "RGBA", "L", "LA") else im.convert("RGBA" if has_alpha(im) else "RGB")
        out.save(buf, "PNG", compress_level=PNG_COMPRESS_LEVEL, compress_type=PNG_COMPRESS_TYPE)
    else:
        raise ValueError(f"unknown output format {output_format!r}")
    return buf.getvalue()


@dataclass(frozen=True)
class Converted:
    data: bytes
    content_type: str
    width: int
    height: int
    transparent: bool


def conform(data: bytes, *, output_format: str, compression: int | None, background: str) -> Converted:
    """A provider's image re-encoded in the format asked for.

    Always re-encoded, even when already in that format: what comes back from
    another service may carry metadata (EXIF, text chunks) that is not served.
    An opaque background (``background="opaque"``, or JPEG) flattens any alpha
    on white. Raises ``EncodingError`` for bytes Pillow cannot read.
    """
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            alpha = has_alpha(im)
            opaque = background == "opaque" or output_format == "jpeg"
            source = flatten(im) if opaque else im
            return Converted(
                encode(source, output_format, compression),
                OUTPUT_CONTENT_TYPES[output_format],
                im.width,
                im.height,
                alpha and not opaque,
            )
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise EncodingError(str(exc)) from exc


def mask_alpha(mask: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The mask's alpha channel (mode L, 255 = keep the input) at ``size``; a mask without alpha keeps everything."""
    alpha = mask.getchannel("A") if has_alpha(mask) and mask.mode != "P" else None
    if alpha is None and mask.mode == "P":
        alpha = mask.convert("RGBA").getchannel("A")
    if alpha is None:
        alpha = Image.new("L", mask.size, 255)
    if alpha.size != size:
        alpha = alpha.resize(size, Image.Resampling.NEAREST)
    return alpha


def apply_mask(rendered: Image.Image, source: Image.Image, mask: Image.Image) -> Image.Image:
    """An edit's result: ``source`` where the mask is opaque, ``rendered`` where it is transparent.

    Pixels under fully opaque mask areas are the input's own, unchanged;
    partly transparent ones blend. ``source`` is fitted to ``rendered``'s size
    (unchanged when the sizes agree, which is the edit's default).
    """
    size = rendered.size
    mode = "RGBA" if rendered.mode == "RGBA" else "RGB"
    upright = ImageOps.exif_transpose(source)
    if upright.size != size:
        upright = ImageOps.fit(upright, size, Image.Resampling.LANCZOS)
    kept = upright.convert(mode) if mode == "RGBA" else flatten(upright)
    return Image.composite(kept, rendered.convert(mode), mask_alpha(mask, size))
