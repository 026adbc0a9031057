"""The offline analyzer: what simple statistics of the pixels can honestly say.

It recognises no objects, scenes or faces. Its labels, and what their
confidence means:

- **Colours** (``Red``, ``Orange``, ``Yellow``, ``Green``, ``Teal``, ``Blue``,
  ``Purple``, ``Pink``, ``Brown``, ``Black``, ``White``, ``Gray``): each pixel is
  named by its hue, saturation and value; a colour covering at least
  ``MIN_COLOUR_SHARE`` of the opaque pixels is a label, its confidence that share.
- **Brightness** (``Dark``, ``Bright``): mean luminance under 0.35 or over 0.65;
  the confidence grows from 0.5 at the threshold to 1.0 at black or white.
- **Black and white**: mean saturation under 0.06 (confidence 1.0 at none).
- **Orientation** (``Landscape``, ``Portrait``, ``Square``, within 3 %): a fact, 1.0.
- **Transparent**: an alpha channel with any pixel not fully opaque, 1.0.
- **Photo** / **Illustration**: a guess from flatness, the share of neighbouring
  pixels with exactly the same colour (drawings have large flat areas, photos
  and noisy renders have next to none); the confidence is how far the image is
  from the undecided middle. Lossy compression blurs flat areas, so a JPEG
  drawing can pass for a photo.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from images.analysis.base import AnalysisError, Label

# Pixels looked at: statistics of a 160-pixel rendition differ little from the full image's.
SAMPLE_SIDE = 160
MIN_COLOUR_SHARE = 0.12
MAX_COLOURS = 3
DARK, BRIGHT = 0.35, 0.65
GRAYSCALE_SATURATION = 0.06
SQUARE_TOLERANCE = 0.03
# Flatness of 0.1 or less reads as a photo, 0.6 or more as an illustration.
FLAT_PHOTO, FLAT_ILLUSTRATION = 0.1, 0.6

# (name, upper bound of the hue in degrees) for saturated pixels, in order.
_HUES = (("Red", 15), ("Orange", 40), ("Yellow", 70), ("Green", 160), ("Teal", 195), ("Blue", 255),
         ("Purple", 290), ("Pink", 345), ("Red", 360))  # fmt: skip


class BuiltinAnalyzer:
    name = "builtin"

    def analyze(self, data: bytes, *, content_type: str) -> list[Label]:
        """Colours, brightness, orientation, transparency, photo or illustration (see the module)."""
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.draft("RGB", (SAMPLE_SIDE * 2, SAMPLE_SIDE * 2))  # JPEG: decode at a fraction of the size
                width, height = im.size
                rgba = im.convert("RGBA")
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise AnalysisError(f"not a readable image: {exc}", permanent=True) from exc
        rgba.thumbnail((SAMPLE_SIDE, SAMPLE_SIDE), Image.Resampling.NEAREST)
        pixels = np.asarray(rgba)
        labels = [_orientation(width, height)]
        alpha = pixels[..., 3]
        if (alpha < 255).any():
            labels.append(Label("Transparent", 1.0))
        opaque = pixels[alpha > 127][:, :3]
        if len(opaque):
            labels += _tone(opaque)
            labels += _colours(opaque)
        labels.append(_photo_or_illustration(pixels[..., :3]))
        return sorted(labels, key=lambda label: -label.confidence)


def _orientation(width: int, height: int) -> Label:
    if abs(width - height) <= SQUARE_TOLERANCE * max(width, height):
        return Label("Square", 1.0)
    return Label("Landscape" if width > height else "Portrait", 1.0)


def _hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue (degrees), saturation and value (0..1) of an (N, 3) array of 8-bit RGB."""
    values = rgb.astype(np.float32) / 255
    high, low = values.max(axis=1), values.min(axis=1)
    spread = high - low
    saturation = np.where(high > 0, spread / np.maximum(high, 1e-6), 0)
    r, g, b = values[:, 0], values[:, 1], values[:, 2]
    safe = np.maximum(spread, 1e-6)
    hue = np.select(
        [high == r, high == g],
        [((g - b) / safe) % 6, (b - r) / safe + 2],
        (r - g) / safe + 4,
    )
    return hue * 60, saturation, high


def _tone(rgb: np.ndarray) -> list[Label]:
    luminance = float((rgb.astype(np.float32) @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)).mean() / 255)
    labels = []
    if luminance < DARK:
        labels.append(Label("Dark", 0.5 + 0.5 * (DARK - luminance) / DARK))
    elif luminance > BRIGHT:
        labels.append(Label("Bright", 0.5 + 0.5 * (luminance - BRIGHT) / (1 - BRIGHT)))
    saturation = float(_hsv(rgb)[1].mean())
    if saturation < GRAYSCALE_SATURATION:
        labels.append(Label("Black and white", 1.0 - 0.5 * saturation / GRAYSCALE_SATURATION))
    return labels


def colour_names(rgb: np.ndarray) -> np.ndarray:
    """The colour name of each pixel of an (N, 3) array of 8-bit RGB."""
    hue, saturation, value = _hsv(rgb)
    names = np.empty(len(rgb), dtype=object)
    lower = 0
    for name, upper in _HUES:
        names[(hue >= lower) & (hue < upper)] = name
        lower = upper
    brownish = (hue >= 10) & (hue < 50) & (value < 0.6) & (saturation > 0.25)
    names[brownish] = "Brown"
    grey = saturation < 0.15
    names[grey] = "Gray"
    names[grey & (value > 0.85)] = "White"
    names[value < 0.18] = "Black"
    return names


def _colours(rgb: np.ndarray) -> list[Label]:
    names, counts = np.unique(colour_names(rgb), return_counts=True)
    shares = sorted(zip(counts / len(rgb), names, strict=True), reverse=True)
    return [Label(str(name), float(share)) for share, name in shares[:MAX_COLOURS] if share >= MIN_COLOUR_SHARE]


def _photo_or_illustration(rgb: np.ndarray) -> Label:
    packed = rgb.astype(np.int32)
    packed = (packed[..., 0] << 16) | (packed[..., 1] << 8) | packed[..., 2]
    pairs = packed[:, 1:].size + packed[1:, :].size
    same = (packed[:, 1:] == packed[:, :-1]).sum() + (packed[1:, :] == packed[:-1, :]).sum()
    flatness = float(same / pairs) if pairs else 1.0
    illustration = min(1.0, max(0.0, (flatness - FLAT_PHOTO) / (FLAT_ILLUSTRATION - FLAT_PHOTO)))
    if illustration >= 0.5:
        return Label("Illustration", illustration)
    return Label("Photo", 1.0 - illustration)
