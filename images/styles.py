"""Style presets, shared by the API, the web UI and the providers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    name: str
    label: str
    # Appended to the prompt for providers that take free text (openai, kie).
    prompt_suffix: str


STYLES: dict[str, Style] = {
    s.name: s
    for s in [
        Style("photo", "Photo", "photographic, natural light, sharp focus, realistic detail"),
        Style("illustration", "Illustration", "digital illustration, clean lines, flat shading"),
        Style("watercolor", "Watercolor", "watercolor painting, soft washes, paper texture"),
        Style("pixel-art", "Pixel art", "pixel art, limited palette, crisp pixels"),
        Style("cyberpunk", "Cyberpunk", "cyberpunk, neon lights, night city, high contrast"),
        Style("oil-painting", "Oil painting", "oil painting, visible brush strokes, rich color"),
        Style("line-art", "Line art", "black ink line art, minimal, white background"),
    ]
}


def styled_prompt(prompt: str, style: str) -> str:
    if style and style in STYLES:
        return f"{prompt}, {STYLES[style].prompt_suffix}"
    return prompt
