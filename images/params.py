"""The rules for a generation's size and other request parameters (SPEC §2, Generations).

Pure functions shared by the API serializer and the web form.
"""

from __future__ import annotations

SIZES = ("256x256", "512x512", "768x768", "1024x1024", "1536x1024", "1024x1536", "1792x1024", "1024x1792")
DEFAULT_SIZE = "1024x1024"
ASPECT_RATIOS = ("1:1", "4:3", "3:4", "16:9", "9:16")
RESOLUTIONS = {"1K": 1024, "2K": 2048}
MAX_PROMPT = 4000
MAX_N = 4
MAX_REFERENCES = 4
MAX_METADATA_BYTES = 4096
WEBHOOK_EVENTS = ("started", "progress", "completed", "failed")
QUALITIES = ("auto", "low", "medium", "high", "standard", "hd")
MAX_SEED = 2**63 - 1


def parse_size(size: str) -> tuple[int, int]:
    """``"1536x1024"`` → ``(1536, 1024)``; ValueError unless it is one of SIZES."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}")
    width, height = size.split("x")
    return int(width), int(height)


def size_for_aspect_ratio(aspect_ratio: str, resolution: str = "1K") -> tuple[int, int]:
    """The long side is the resolution's; the short side follows the ratio, rounded to a multiple of 64."""
    if aspect_ratio not in ASPECT_RATIOS:
        raise ValueError(f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}")
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {', '.join(RESOLUTIONS)}")
    long_side = RESOLUTIONS[resolution]
    a, b = (int(part) for part in aspect_ratio.split(":"))
    short_side = max(64, round(long_side * min(a, b) / max(a, b) / 64) * 64)
    return (long_side, short_side) if a >= b else (short_side, long_side)


# Output settings (SPEC §6, OpenAI Images parity); the native API takes the first three too.
OUTPUT_FORMATS = ("png", "jpeg", "webp")
DEFAULT_OUTPUT_FORMAT = "png"
BACKGROUNDS = ("auto", "opaque", "transparent")
# An image's background as rendered ("" for uploads).
RENDERED_BACKGROUNDS = ("", "opaque", "transparent")
# Formats that carry alpha, and those that take a compression level.
ALPHA_FORMATS = ("png", "webp")
COMPRESSED_FORMATS = ("jpeg", "webp")
MAX_PARTIAL_IMAGES = 3
MAX_EDIT_IMAGES = 16
INPUT_FIDELITIES = ("low", "high")
MODERATIONS = ("auto", "low")
# The quality an OpenAI answer echoes (both request vocabularies map onto these).
USED_QUALITIES = ("auto", "low", "medium", "high")
OUTPUT_CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
