"""EXIF as a small JSON-safe summary: camera and exposure facts, never location.

An allow-list, not a block-list: only the tags named here leave the file, so
GPS, maker notes, serial numbers, user comments and anything a camera maker
invents tomorrow stay out.
"""

from __future__ import annotations

import contextlib
import math
from fractions import Fraction

from PIL import ExifTags, Image, TiffImagePlugin

Base = ExifTags.Base

# Tags of IFD0 (the image itself).
IMAGE_TAGS = (Base.Make, Base.Model, Base.Software, Base.DateTime, Base.Orientation)
# Tags of the Exif sub-IFD (how the picture was taken).
PHOTO_TAGS = (
    Base.DateTimeOriginal,
    Base.DateTimeDigitized,
    Base.OffsetTimeOriginal,
    Base.ExposureTime,
    Base.FNumber,
    Base.ISOSpeedRatings,
    Base.ExposureProgram,
    Base.ExposureBiasValue,
    Base.MeteringMode,
    Base.Flash,
    Base.FocalLength,
    Base.FocalLengthIn35mmFilm,
    Base.WhiteBalance,
    Base.LensMake,
    Base.LensModel,
    Base.ColorSpace,
)
MAX_TEXT = 128


def exif_summary(exif: Image.Exif) -> dict[str, str | int | float | list]:
    """The allow-listed tags of ``exif`` by name, with JSON-safe values.

    Rationals become floats (exposure time also as "1/250"), text is trimmed
    of NULs and cut to 128 characters, and values that cannot be represented
    (binary blobs, division by zero) are dropped.
    """
    out: dict[str, str | int | float | list] = {}
    sources = [(exif, IMAGE_TAGS)]
    # A broken sub-IFD: keep what IFD0 has.
    with contextlib.suppress(KeyError, ValueError, TypeError, OSError, SyntaxError):
        sources.append((exif.get_ifd(ExifTags.IFD.Exif), PHOTO_TAGS))
    for ifd, tags in sources:
        for tag in tags:
            if tag not in ifd:
                continue
            value = _json_value(ifd[tag])
            if value is not None:
                out[tag.name] = value
    exposure = out.get("ExposureTime")
    if isinstance(exposure, float) and 0 < exposure < 1:
        out["ExposureTime"] = f"1/{round(1 / exposure)}"
    return out


def _json_value(value: object) -> str | int | float | list | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, TiffImagePlugin.IFDRational | Fraction | float):
        try:
            number = float(value)
        except ZeroDivisionError:
            return None
        return round(number, 4) if math.isfinite(number) else None
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    if isinstance(value, str):
        text = value.replace("\x00", "").strip()
        if not text.isprintable():
            return None
        return text[:MAX_TEXT] or None
    if isinstance(value, tuple | list):
        items = [_json_value(v) for v in value[:8]]
        return items if items and all(v is not None for v in items) else None
    return None
