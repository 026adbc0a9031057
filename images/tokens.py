"""Token usage of an image request, as OpenAI's Images API reports it: an estimate where a provider reports none.

The builtin renderer has no tokens, and many OpenAI-compatible servers send no
``usage``. So that clients which budget by tokens keep working, the
``/v1`` endpoints then answer with figures made the way OpenAI counts for its
GPT image models, and say so with ``"estimated": true``:

- text: one token per 4 characters of the prompt (OpenAI's rule of thumb for English);
- each input image: 85 + 170 per 512-px tile once scaled to fit 2048 px and its
  short side to 768 px (the vision models' published formula); 65 per tile at
  ``input_fidelity=low`` would undercount, so high and low count alike;
- each output image: OpenAI's published counts for 1024x1024 (low 272,
  medium 1056, high 4160 tokens), scaled by the image's area.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

OUTPUT_TOKENS_1024 = {"low": 272, "medium": 1056, "high": 4160}
# Both vocabularies onto GPT image qualities; "auto" and none are counted as medium.
QUALITY_WORDS = {"low": "low", "medium": "medium", "high": "high", "standard": "medium", "hd": "high"}


def resolved_quality(quality: str) -> str:
    """The GPT-image quality a request's ``quality`` stands for (``auto`` when it leaves it to us)."""
    return QUALITY_WORDS.get(quality, "auto")


def text_tokens(prompt: str) -> int:
    return max(1, math.ceil(len(prompt) / 4))


def image_input_tokens(width: int, height: int) -> int:
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    return 85 + 170 * math.ceil(w / 512) * math.ceil(h / 512)


def output_tokens(width: int, height: int, quality: str) -> int:
    per_megapixel = OUTPUT_TOKENS_1024[QUALITY_WORDS.get(quality, "medium")]
    return max(1, round(per_megapixel * width * height / (1024 * 1024)))


def estimate_usage(
    *, prompt: str, width: int, height: int, n: int, quality: str, input_sizes: Iterable[tuple[int, int]] = ()
) -> dict:
    """The ``usage`` object of a request of ``n`` images, estimated (see the module docstring)."""
    text = text_tokens(prompt)
    images = sum(image_input_tokens(w, h) for w, h in input_sizes)
    output = n * output_tokens(width, height, quality)
    return {
        "input_tokens": text + images,
        "input_tokens_details": {"text_tokens": text, "image_tokens": images},
        "output_tokens": output,
        "total_tokens": text + images + output,
        "estimated": True,
    }


def usage_share(usage: dict, index: int, n: int) -> dict:
    """One image's part of a request's usage (a streamed ``completed`` event per image): the input
    counts with the first image, the output is shared evenly."""
    details = usage.get("input_tokens_details") or {"text_tokens": usage.get("input_tokens", 0), "image_tokens": 0}
    first = index == 0
    output = usage.get("output_tokens", 0) // n + (usage.get("output_tokens", 0) % n if first else 0)
    inputs = usage.get("input_tokens", 0) if first else 0
    share = {
        "input_tokens": inputs,
        "input_tokens_details": details if first else {"text_tokens": 0, "image_tokens": 0},
        "output_tokens": output,
        "total_tokens": inputs + output,
    }
    if usage.get("estimated"):
        share["estimated"] = True
    return share
