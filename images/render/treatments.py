"""Style treatments: turn a painted Scene into a finished image in one style.

Each treatment takes a Scene (rgb, depth, labels), the Look and the seeded
generator, and returns a float RGB array at the output size. The same
treatments finish an image-to-image reference (see ``scene_from_reference``),
so a reference comes out in the same style as a rendered scene.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from images.render.noise import (
    blur,
    dilate,
    fbm,
    from_image,
    label_edges,
    luminance,
    mix,
    resize,
    smoothstep,
    to_image,
)
from images.render.palette import LINE_INK, LINE_PAPER, Look, hex_to_rgb
from images.render.scene import CLOUDS, SKY, WATER_LABEL, Scene, _col

PIXEL_CELLS = 128  # pixel art: cells along the long side


def render_size(style: str, width: int, height: int) -> tuple[int, int]:
    """The size the scene is painted at: pixel art paints small and scales up."""
    if style == "pixel-art":
        block = _pixel_block(width, height)
        return -(-width // block), -(-height // block)
    return width, height


def _pixel_block(width: int, height: int) -> int:
    return max(2, round(max(width, height) / PIXEL_CELLS))


def stylise(style: str, scene: Scene, look: Look, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Finish ``scene`` in ``style`` (a key of images.styles.STYLES, or "" for the plain look)."""
    return TREATMENTS[style](scene, look, rng, width, height)


def scene_from_reference(ref: np.ndarray, look: Look) -> Scene:
    """A Scene built from a reference image, its colours mapped into the palette.

    Luminance picks a colour along the palette (dark to light); the result is
    mixed with the reference's own colours so its look survives. Depth falls
    from the top (far) to the bottom (near), and posterised luminance stands in
    for the region labels that outlines trace.
    """
    h, w = ref.shape[1:]
    lum = luminance(ref)
    ramp = np.asarray(look.palette, np.float32)
    stops = np.linspace(0, 1, len(ramp))
    mapped = np.stack([np.interp(lum, stops, ramp[:, c]) for c in range(3)]).astype(np.float32)
    rgb = mix(ref, mapped, 0.6)
    depth = np.broadcast_to(np.linspace(1.0, 0.1, h, dtype=np.float32)[:, None], (h, w)).copy()
    levels = np.clip((blur(lum, min(w, h) / 200) * 6).astype(np.uint8), 0, 5)
    labels = (levels + 10).astype(np.uint8)
    by, bx = np.unravel_index(int(np.argmax(blur(lum, min(w, h) / 20))), lum.shape)
    return Scene(rgb, depth, labels, round(h * 0.6), (float(bx), float(by)))


# --- shared finishing --------------------------------------------------------------


def tone(rgb: np.ndarray, look: Look, extra: float = 0.0) -> np.ndarray:
    """Contrast around mid-grey from the mood (dramatic > 0, calm/dreamy < 0)."""
    k = 1 + 0.35 * look.contrast + extra
    return np.clip(0.5 + (rgb - 0.5) * k, 0, 1)


def vignette(rgb: np.ndarray, strength: float) -> np.ndarray:
    h, w = rgb.shape[1:]
    yy = (np.arange(h, dtype=np.float32)[:, None] / h - 0.5) * 2
    xx = (np.arange(w, dtype=np.float32)[None, :] / w - 0.5) * 2
    r2 = (xx * xx + yy * yy) / 2
    return rgb * (1 - strength * r2 * r2**0.5)[None]


def grain(rgb: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Monochrome film grain (the same noise on all channels, so no colour speckle)."""
    noise = rng.standard_normal(rgb.shape[1:], dtype=np.float32) * amount
    return np.clip(rgb + noise[None], 0, 1)


def bloom(rgb: np.ndarray, radius: float, threshold: float, strength: float) -> np.ndarray:
    bright = smoothstep(threshold, 1.0, luminance(rgb))[None] * rgb
    return np.clip(1 - (1 - rgb) * (1 - blur(bright, radius) * strength), 0, 1)  # screen blend


def _unit(rgb: np.ndarray) -> int:
    return min(rgb.shape[1:])


# --- the styles ------------------------------------------------------------------------


def _plain(scene: Scene, look: Look, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    rgb = tone(scene.rgb, look)
    return grain(vignette(rgb, 0.22), rng, 0.012)


def _photo(scene: Scene, look: Look, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Depth of field (far layers out of focus), bloom, a gentle film curve, fine grain."""
    unit = _unit(scene.rgb)
    far = smoothstep(0.3, 0.85, scene.depth)
    rgb = mix(scene.rgb, blur(scene.rgb, unit / 160), far)
    rgb = bloom(rgb, unit / 30, 0.6, 0.55)
    curve = rgb * rgb * (3 - 2 * rgb)
    rgb = tone(mix(rgb, curve, 0.35), look)
    warm = _col((1.03, 1.0, 0.96) if look.warmth >= 0 else (0.97, 1.0, 1.04))
    rgb = np.clip(rgb * warm, 0, 1)
    return grain(vignette(rgb, 0.3), rng, 0.014)


def _illustration(scene: Scene, look: Look, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Flat posterised fills from the palette, dark outlines around every shape."""
    unit = _unit(scene.rgb)
    smooth = tone(blur(scene.rgb, unit / 100), look, 0.1)
    colours = [*_ramp(look, shades=(0.72, 1.0, 1.25)), (0.97, 0.96, 0.92)]
    indexed = _quantize(smooth, colours)
    flat = from_image(indexed.convert("RGB"))
    idx = np.asarray(indexed)
    width_px = max(1, round(unit / 420))
    shapes = dilate(label_edges(scene.labels).astype(np.float32), width_px)
    # Lighter lines where the tone changes inside a shape; none in the sky, where they would only trace noise.
    inner = (label_edges(idx) & (scene.labels >= 10)).astype(np.float32) * 0.3
    ink = _col(min(look.palette, key=sum)) * 0.35
    lines = blur(np.maximum(shapes, inner), 0.6)
    return mix(flat, ink, lines)


def _watercolor(scene: Scene, look: Look, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Washes that bleed (warped, blurred), pigment pooling at edges, granulation, paper."""
    h, w = scene.rgb.shape[1:]
    unit = min(w, h)
    paper = _col((0.97, 0.955, 0.92))
    warp = unit * 0.012
    dx = ((fbm(rng, w, h, octaves=4, cells=5, work_scale=8) - 0.5) * 2 * warp).astype(np.int32)
    dy = ((fbm(rng, w, h, octaves=4, cells=5, work_scale=8) - 0.5) * 2 * warp).astype(np.int32)
    yy = np.clip(np.arange(h)[:, None] + dy, 0, h - 1)
    xx = np.clip(np.arange(w)[None, :] + dx, 0, w - 1)
    rgb = scene.rgb[:, yy, xx]
    rgb = mix(tone(rgb, look, -0.1), paper, 0.22)
    rgb = blur(rgb, unit / 300)
    edge = np.abs(luminance(rgb) - luminance(blur(rgb, unit / 90)))
    rgb *= (1 - np.clip(edge * 3.5, 0, 0.35))[None]  # pigment pools at the edge of a wash
    grainy = fbm(rng, w, h, octaves=3, cells=40, work_scale=2)  # pigment granulation and paper fibres
    rgb *= (0.9 + 0.13 * grainy)[None]
    wash = fbm(rng, w, h, octaves=3, cells=2, work_scale=8)
    rgb = mix(rgb, paper, smoothstep(0.55, 0.9, wash) * 0.3)
    # Deckled margin: the paint stops short of the paper's edge, unevenly.
    ys = np.arange(h, dtype=np.float32)[:, None]
    xs = np.arange(w, dtype=np.float32)[None, :]
    border = np.minimum(np.minimum(xs, w - 1 - xs), np.minimum(ys, h - 1 - ys)) / unit
    ragged = border + (fbm(rng, w, h, octaves=4, cells=8) - 0.5) * 0.05
    rgb = mix(paper, rgb, smoothstep(0.015, 0.05, ragged))
    return np.clip(rgb, 0, 1)


_BAYER = (np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], np.float32) + 0.5) / 16


def _pixel_art(scene: Scene, look: Look, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A small image in a 16-colour palette with ordered dithering, scaled up with hard edges."""
    small = tone(scene.rgb, look, 0.15)
    h, w = small.shape[1:]
    bayer = np.tile(_BAYER, (h // 4 + 1, w // 4 + 1))[:h, :w]
    small = np.clip(small + (bayer[None] - 0.5) * 0.05, 0, 1)
    colours = [*_ramp(look, shades=(0.55, 1.0, 1.3))[:15], (0.98, 0.97, 0.9)]
    indexed = _quantize(small, colours).convert("RGB")
    block = _pixel_block(width, height)
    big = indexed.resize((w * block, h * block), Image.Resampling.NEAREST).crop((0, 0, width, height))
    return from_image(big)


def _cyberpunk(scene: Scene, look: Look, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Neon glow, split-toned shadows, a little chromatic aberration and scanlines."""
    unit = _unit(scene.rgb)
    rgb = tone(scene.rgb, look, 0.15)
    neon = [_col(c) for c in look.neon]
    lum = luminance(rgb)[None]
    shadow_tint = np.clip(neon[0] * 0.25 + _col((0.02, 0.02, 0.08)), 0, 1)
    rgb = mix(rgb, rgb * 0.6 + shadow_tint, (1 - lum) * 0.5)
    rgb = mix(rgb, np.clip(rgb + neon[1 % len(neon)] * 0.25, 0, 1), lum * 0.4)
    rgb = bloom(rgb, unit / 70, 0.45, 1.0)
    rgb = bloom(rgb, unit / 14, 0.5, 0.6)
    shift = max(1, unit // 400)
    rgb[0] = np.roll(rgb[0], shift, axis=1)
    rgb[2] = np.roll(rgb[2], -shift, axis=1)
    scan = max(2, unit // 340)
    rgb[:, :: scan * 2] *= 0.93
    return grain(vignette(rgb, 0.45), rng, 0.02)


def _oil(scene: Scene, look: Look, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Brush strokes: an underpainting, then coarse and fine strokes along a flow field, lit as relief."""
    h, w = scene.rgb.shape[1:]
    unit = min(w, h)
    base = tone(blur(scene.rgb, unit / 400), look, 0.1)
    canvas = to_image(blur(base, unit / 90))
    draw = ImageDraw.Draw(canvas)
    flow = (fbm(rng, w, h, octaves=3, cells=2.5, work_scale=8) - 0.5) * math.pi * 1.3
    detail = np.abs(luminance(base) - luminance(blur(base, unit / 60)))
    base8 = (np.clip(base, 0, 1) * 255).astype(np.int16)
    for spacing, length, fine in ((unit / 75, 2.4, False), (unit / 150, 2.0, True)):
        gy, gx = np.mgrid[0:h:spacing, 0:w:spacing]
        px = np.clip(gx + rng.uniform(-0.5, 0.5, gx.shape) * spacing, 0, w - 1).astype(np.int32).ravel()
        py = np.clip(gy + rng.uniform(-0.5, 0.5, gy.shape) * spacing, 0, h - 1).astype(np.int32).ravel()
        if fine:  # fine strokes only where the picture has detail, and some elsewhere
            keep = (detail[py, px] > 0.02) | (rng.random(px.size) < 0.35)
            px, py = px[keep], py[keep]
        order = rng.permutation(px.size)
        px, py = px[order], py[order]
        angle = flow[py, px] + rng.normal(0, 0.25, px.size)
        half = spacing * length / 2
        dx, dy = np.cos(angle) * half, np.sin(angle) * half
        jitter = rng.integers(-10, 11, px.size)
        colours = np.clip(base8[:, py, px].T + jitter[:, None], 0, 255)
        stroke = max(2, round(spacing * 1.1))
        for x, y, ex, ey, col in zip(px.tolist(), py.tolist(), dx.tolist(), dy.tolist(), colours.tolist(), strict=True):
            draw.line((x - ex, y - ey, x + ex, y + ey), fill=(col[0], col[1], col[2]), width=stroke)
    rgb = from_image(canvas)
    lum = luminance(rgb)
    relief = np.zeros_like(lum)
    relief[1:, 1:] = lum[1:, 1:] - lum[:-1, :-1]  # light from the top left
    rgb = rgb * (1 + np.clip(relief * 2.2, -0.2, 0.2))[None]
    wave = np.sin(np.arange(max(w, h), dtype=np.float32) * np.float32(math.pi / 1.5))
    weave = 1 + 0.025 * wave[:h, None] * wave[None, :w]  # canvas weave
    return np.clip(vignette(rgb * weave[None], 0.3), 0, 1)


def _line_art(scene: Scene, look: Look, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Black ink on white: outlines of every shape (heavier in front), hatching in the shadows."""
    h, w = scene.labels.shape
    unit = min(w, h)
    ink, paper = _col(hex_to_rgb(LINE_INK)), _col(hex_to_rgb(LINE_PAPER))
    edges = label_edges(scene.labels)
    near = edges & (scene.depth < 0.45)
    lines = np.maximum(dilate(edges.astype(np.float32), max(0, round(unit / 700))),
                       dilate(near.astype(np.float32), max(1, round(unit / 380))))  # fmt: skip
    lum = blur(luminance(scene.rgb), unit / 80)
    spacing = max(4, round(unit / 110))
    yy, xx = np.ogrid[0:h, 0:w]
    ground = (scene.labels >= 10) & (scene.labels != WATER_LABEL)
    # Shadows are relative: the darkest third of the ground is hatched, the darkest tenth cross-hatched.
    sample = lum[::4, ::4][ground[::4, ::4]]
    light, dark = np.quantile(sample, [0.33, 0.1]) if sample.size else (0.4, 0.2)
    hatch = (((xx + yy) % spacing) == 0) & (lum < light) & ground
    hatch |= (((xx - yy) % spacing) == 0) & (lum < dark) & ground
    water = (scene.labels == WATER_LABEL) & ((yy % (spacing * 2)) == 0)
    water &= fbm(rng, w, h, octaves=3, cells=6, stretch=8) > 0.68
    sky = (scene.labels == CLOUDS) | (scene.labels == SKY)
    stars = sky & (luminance(scene.rgb) > 0.85) & (rng.random((h, w)) < 0.3) if look.night else False
    marks = np.maximum(lines, (hatch | water | stars).astype(np.float32) * 0.85)
    return mix(paper, ink, blur(marks, 0.55))


def _ramp(look: Look, shades: tuple[float, ...]) -> list[tuple[float, float, float]]:
    """The palette in a few shades each, kept out of the negative prompt's hues."""
    out = []
    for c in look.palette:
        for k in shades:
            rgb = tuple(min(1.0, v * k) if k <= 1 else v + (1 - v) * (k - 1) for v in c)
            out.append(look.keep_out(rgb))
    return out


def _quantize(rgb: np.ndarray, colours: list[tuple[float, float, float]]) -> Image.Image:
    """Map every pixel to the nearest of ``colours`` (no dithering): a P-mode image."""
    pal = Image.new("P", (1, 1))
    flat = [round(v * 255) for c in colours for v in c]
    pal.putpalette(flat + flat[-3:] * (256 - len(colours)))
    return to_image(rgb).quantize(palette=pal, dither=Image.Dither.NONE)


Treatment = Callable[[Scene, Look, np.random.Generator, int, int], np.ndarray]
TREATMENTS: dict[str, Treatment] = {
    "": _plain,
    "photo": _photo,
    "illustration": _illustration,
    "watercolor": _watercolor,
    "pixel-art": _pixel_art,
    "cyberpunk": _cyberpunk,
    "oil-painting": _oil,
    "line-art": _line_art,
}


def style_palette(style: str, look: Look) -> list[str]:
    """The colours an image of ``style`` is made of, as hex, for GeneratedImage.info."""
    if style == "line-art":
        return [LINE_INK, LINE_PAPER]
    return look.hex_palette()


__all__ = ["TREATMENTS", "render_size", "resize", "scene_from_reference", "style_palette", "stylise"]
