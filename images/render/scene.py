"""A layered landscape painted from a Look: sky, light, clouds, terrain, water, city, details.

Layers are composited back to front into a float RGB canvas. Alongside it the
scene keeps a depth map (0 near .. 1 sky), which the photo style uses for its
depth of field, and a label map (one id per layer or object), which the
illustration and line-art styles trace for outlines.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from images.render.noise import blur, fbm, fbm1d, mix, smoothstep
from images.render.palette import Look

SKY, CELESTIAL, CLOUDS = 1, 2, 3
TREE_LABEL, CITY_LABEL, WATER_LABEL = 40, 50, 60
# The number of times render_scene calls ``tick``: the provider's progress counts on it.
SCENE_TICKS = 7


@dataclass
class Scene:
    rgb: np.ndarray  # (3, H, W) float32, 0..1
    depth: np.ndarray  # (H, W) float32, 0 near .. 1 sky
    labels: np.ndarray  # (H, W) uint8 region ids
    horizon: int
    sun: tuple[float, float]  # where the light comes from, in pixels


def _col(rgb) -> np.ndarray:
    """A colour shaped (3, 1, 1), to broadcast over a planar image."""
    return np.asarray(rgb, np.float32).reshape(3, 1, 1)


def render_scene(
    look: Look,
    width: int,
    height: int,
    rng: np.random.Generator,
    tick: Callable[[], None],
    on_frame: Callable[[int, np.ndarray], None] | None = None,
) -> Scene:
    """Paint the scene; calls ``tick()`` SCENE_TICKS times, once after each stage.

    ``on_frame(stage, rgb)``, when given, sees the canvas as it stands after
    each stage (1..SCENE_TICKS): the intermediate frames a stream shows.
    """

    def stage_done(number: int, canvas: np.ndarray) -> None:
        tick()
        if on_frame is not None:
            on_frame(number, canvas)

    f = look.features
    w, h = width, height
    stops = [_col(c) for c in look.sky]
    ground = [_col(c) for c in look.land]
    lightest = _col(look.palette[-1])
    horizon = round(h * (rng.uniform(0.5, 0.58) if "water" in f else rng.uniform(0.56, 0.68)))
    ys = np.arange(h, dtype=np.float32)[:, None]
    xs = np.arange(w, dtype=np.float32)[None, :]
    unit = min(w, h)

    # --- sky and its light --------------------------------------------------------
    sun_x = w * rng.uniform(0.18, 0.82)
    low = "low" in f
    sun_r = unit * rng.uniform(0.045, 0.075)
    sun_y = horizon - sun_r * rng.uniform(0.1, 0.9) if low else horizon * rng.uniform(0.22, 0.5)
    t = np.clip(ys / max(horizon, 1), 0, 1) ** 0.9
    sky = np.empty((3, h, 1), np.float32)
    for c in range(3):
        sky[c, :, 0] = np.interp(t[:, 0], [0.0, 0.6, 1.0], [float(s[c, 0, 0]) for s in stops])
    rgb = np.broadcast_to(sky, (3, h, w)).copy()
    rgb *= (0.96 + 0.08 * fbm(rng, w, h, octaves=3, cells=1.5, work_scale=16))[None]
    glow_col = _col(look.keep_out(look.accent)) * 0.5 + (0.6 if not look.night else 0.25)
    dist = np.hypot(xs - sun_x, ys - sun_y)
    glow = np.exp(-dist / (unit * (0.22 if not look.night else 0.12))) * (0.65 if low else 0.4)
    rgb = mix(rgb, np.clip(glow_col, 0, 1), glow.astype(np.float32))
    depth = np.ones((h, w), np.float32)
    labels = np.full((h, w), SKY, np.uint8)
    stage_done(1, rgb)

    # --- sun, moon, stars ---------------------------------------------------------
    if "stars" in f:
        count = int(w * h / rng.uniform(900, 1600))
        star = np.zeros((h, w), np.float32)
        sy, sx = rng.integers(0, max(horizon, 1), count), rng.integers(0, w, count)
        star[sy, sx] = rng.random(count, dtype=np.float32) ** 3
        big = blur(star * (star > 0.5), max(1.0, unit / 500)) * 4
        star = np.clip(star + big, 0, 1) * smoothstep(horizon, horizon * 0.55, ys)
        rgb = np.clip(rgb + star[None] * 0.9, 0, 1)
    if "sun" in f or "moon" in f:
        # Only the disc's bounding box is touched.
        y0, y1 = max(0, int(sun_y - sun_r - 2)), min(h, int(sun_y + sun_r + 3))
        x0, x1 = max(0, int(sun_x - sun_r - 2)), min(w, int(sun_x + sun_r + 3))
        if y1 > y0 and x1 > x0:
            disc = smoothstep(sun_r + 1.2, sun_r - 1.2, dist[y0:y1, x0:x1])
            if "sun" in f:
                body = np.clip(_col(look.keep_out(look.accent)) * 0.25 + 0.8, 0, 1)
            else:
                craters = 0.82 + 0.18 * fbm(rng, x1 - x0, y1 - y0, octaves=4, cells=3, work_scale=1)
                body = np.clip(lightest * 0.3 + 0.72, 0, 1) * craters[None]
            rgb[:, y0:y1, x0:x1] = mix(rgb[:, y0:y1, x0:x1], body, disc)
            labels[y0:y1, x0:x1][disc > 0.5] = CELESTIAL
    stage_done(2, rgb)

    # --- clouds ---------------------------------------------------------------------
    if "clouds" in f:
        heavy = "rain" in f
        n = fbm(rng, w, h, octaves=6, cells=2.0, stretch=3.0)
        cover = 0.4 if heavy else rng.uniform(0.5, 0.62)
        alpha = smoothstep(cover, cover + 0.22, n) * smoothstep(horizon * 1.02, horizon * 0.6, ys)
        shift = max(2, unit // 90)
        shade = np.clip((n - np.roll(n, -shift, axis=0)) * 6 + 0.5, 0, 1)  # lit tops, darker bellies
        lit = np.clip(stops[2] * 0.5 + 0.55, 0, 1) * (0.55 if look.night else 1.0)
        dark = stops[1] * 0.75 + ground[1] * 0.25
        cloud = mix(dark, lit, shade)
        rgb = mix(rgb, cloud, alpha * (0.85 if not look.night else 0.5))
        labels[alpha > 0.5] = CLOUDS
    stage_done(3, rgb)

    # --- terrain ---------------------------------------------------------------------
    tex = fbm(rng, w, h, octaves=5, cells=6.0)
    haze = _col(stops[2])
    ctx = _Layers(rgb, depth, labels, tex, ys, haze, look, sun_x)
    if "mountains" in f or "hills" in f or "dunes" in f:
        kind = "dunes" if "dunes" in f else "mountains" if "mountains" in f else "hills"
        tall = 1.5 if "tall" in f else 1.0
        specs = (
            [(0.0, 0.2 * tall, 0.8), (0.07, 0.12, 0.62)]
            if kind == "mountains"
            else [(0.0, 0.09, 0.8), (0.06, 0.07, 0.62)]
        )
        for i, (off, amp, d) in enumerate(specs):
            ridge = _ridge(rng, w, horizon + off * h, amp * h * (1 if kind != "hills" else 0.8), kind, look.roughness)
            colour = mix(ground[0] if i == 0 else mix(ground[0], ground[1], 0.5), haze, 0.4 - 0.2 * i + 0.3 * look.haze)
            ctx.fill(ridge, colour, d, 10 + i, snow="snow" in f and kind == "mountains", dunes=kind == "dunes")
    if "city" in f:
        _city(ctx, rng, horizon, w, h, ground, look)
    stage_done(4, ctx.rgb)

    # --- water or near ground --------------------------------------------------------
    if "water" in f:
        _water(ctx, rng, horizon, w, h, sun_x, ground, look, has_sun="sun" in f or "moon" in f)
        if rng.random() < 0.5:
            ridge = _ridge(rng, w, h * rng.uniform(0.9, 0.96), h * 0.04, "hills", 0.3)
            ctx.fill(ridge, mix(ground[2], stops[2], 0.35), 0.05, 14)
    else:
        near = horizon + (h - horizon) * rng.uniform(0.3, 0.45)
        for i, (y0, amp, d) in enumerate([(near, 0.05, 0.35), (near + (h - near) * 0.45, 0.04, 0.12)]):
            ridge = _ridge(rng, w, y0, amp * h, "dunes" if "dunes" in f else "hills", look.roughness * 0.5)
            colour = mix(ground[1 + i], haze, (0.18 - 0.12 * i) + 0.2 * look.haze)
            ctx.fill(ridge, colour, d, 12 + i, dunes="dunes" in f)
    stage_done(5, ctx.rgb)

    # --- details ------------------------------------------------------------------------
    _details(ctx, rng, horizon, w, h, ground, look)
    stage_done(6, ctx.rgb)
    if "grid" in f:
        _grid(ctx, horizon, w, h, look)
    if "rain" in f:
        _rain(ctx, rng, w, h)
    stage_done(7, ctx.rgb)
    return Scene(ctx.rgb, ctx.depth, ctx.labels, horizon, (sun_x, sun_y))


class _Layers:
    """The canvas being composited, with its depth and labels."""

    def __init__(self, rgb, depth, labels, tex, ys, haze, look: Look, sun_x: float) -> None:
        self.rgb, self.depth, self.labels, self.tex, self.ys = rgb, depth, labels, tex, ys
        self.haze, self.look, self.sun_x = haze, look, sun_x

    def fill(self, ridge: np.ndarray, colour: np.ndarray, depth: float, label: int, *, snow=False, dunes=False) -> None:
        """Composite ground below ``ridge`` (a y per column), shaded by slope and texture."""
        h, w = self.labels.shape
        top = max(0, int(ridge.min()) - 1)
        ys = self.ys[top:]
        below = ys - ridge[None, :]
        mask = np.clip(below + 0.5, 0, 1)
        # Light on the slopes facing the sun: the ridge's slope (smoothed over a few % of the
        # width) lights a band under the crest, and the texture's own gradient gives the rock relief.
        k = max(3, w // 40)
        slope = np.convolve(np.gradient(ridge), np.ones(k, np.float32) / k, mode="same")
        toward = np.tanh((self.sun_x - np.arange(w, dtype=np.float32)) / (w * 0.15))
        light = np.tanh(-slope * toward * (3.0 if dunes else 1.2)) * (0.3 if dunes else 0.14)
        near_ridge = np.exp(-below.clip(0) / (h * (0.1 if dunes else 0.05)))
        tex = self.tex[top:]
        relief = np.zeros_like(tex)
        relief[:, 1:-1] = (tex[:, 2:] - tex[:, :-2]) * toward[None, 1:-1]
        # Sand is smooth; rock shows its texture.
        grit = 0.25 if dunes else 1.0
        shade = 1 + light[None, :] * near_ridge + np.clip(relief * (w * 0.01 * grit), -0.08, 0.08)
        shade *= 1 - 0.08 * grit + 0.16 * grit * tex
        shade *= 1 - 0.12 * smoothstep(0, h * 0.4, below)
        col = colour * shade[None]
        if snow:
            cap = below < (h * 0.05) * (0.4 + 1.2 * self.tex[top:]) * (ridge[None, :] < ridge.mean())
            col = np.where(cap[None], mix(col, _col((0.95, 0.97, 1.0)), 0.8), col)
        self.rgb[:, top:] = mix(self.rgb[:, top:], col, mask)
        solid = mask > 0.5
        self.depth[top:][solid] = depth
        self.labels[top:][solid] = label


def _ridge(rng: np.random.Generator, w: int, base: float, amp: float, kind: str, roughness: float) -> np.ndarray:
    """A horizon line: y per column, its mean near ``base``, peaks up to ``amp`` above."""
    if kind == "dunes":
        p = fbm1d(rng, w, octaves=3, cells=1.5, persistence=0.3)
    else:
        p = fbm1d(rng, w, octaves=7, cells=2.0, persistence=0.35 + 0.25 * roughness)
        if kind == "mountains":
            ridged = 1 - 2 * np.abs(fbm1d(rng, w, octaves=6, cells=1.5, persistence=0.45))
            p = p * (1 - roughness) + ridged * roughness
    p = (p - p.min()) / max(float(p.max() - p.min()), 1e-6)
    return (base - p * amp).astype(np.float32)


def _overlay(ctx: _Layers, layer: Image.Image, depth: float | None, label: int | None) -> None:
    """Alpha-composite an RGBA drawing onto the canvas."""
    box = layer.getbbox()
    if box is None:
        return
    x0, y0, x1, y1 = box
    planes = [np.asarray(p, np.float32) / 255 for p in layer.crop(box).split()]
    alpha = planes[3]
    ctx.rgb[:, y0:y1, x0:x1] = mix(ctx.rgb[:, y0:y1, x0:x1], np.stack(planes[:3]), alpha)
    if depth is not None:
        ctx.depth[y0:y1, x0:x1][alpha > 0.5] = depth
    if label is not None:
        ctx.labels[y0:y1, x0:x1][alpha > 0.5] = label


def _rgba(c: np.ndarray, a: float = 1.0) -> tuple[int, int, int, int]:
    c = np.clip(c, 0, 1).ravel()
    return (round(float(c[0]) * 255), round(float(c[1]) * 255), round(float(c[2]) * 255), round(a * 255))


def _city(ctx: _Layers, rng: np.random.Generator, horizon: int, w: int, h: int, land, look: Look) -> None:
    """Two rows of buildings on the horizon with lit windows (neon ones at night)."""
    window_cols = [_col(c) for c in look.neon] if look.night else [_col(look.palette[-1])]
    for row, (depth, tall, haze) in enumerate([(0.7, 0.32, 0.45), (0.55, 0.22, 0.15)]):
        base = horizon + row * h * 0.03
        body = mix(land[2] * 0.9 + land[1] * 0.1, ctx.haze, haze)
        x = -rng.uniform(0, 0.05) * w
        while x < w:
            bw = w * rng.uniform(0.035, 0.085)
            bh = h * tall * rng.uniform(0.3, 1.0)
            x0, x1 = max(0, int(x)), min(w, int(x + bw))
            y0 = max(0, int(base - bh))
            y1 = min(h, int(base) + 1)
            if x1 > x0 and y1 > y0:
                shade = 0.85 + 0.3 * rng.random()
                ctx.rgb[:, y0:y1, x0:x1] = body * shade
                ctx.depth[y0:y1, x0:x1] = depth
                ctx.labels[y0:y1, x0:x1] = CITY_LABEL + row
                pitch = max(4, round(w / 110))
                yy, xx = np.mgrid[y0:y1, x0:x1]
                cell = ((xx - x0) // pitch) * 997 + ((yy - y0) // pitch)
                lit = (rng.random(int(cell.max()) + 1) < (0.35 if look.night else 0.15))[cell]
                win = ((xx - x0) % pitch >= pitch // 3) & ((yy - y0) % pitch >= pitch // 3) & lit
                win &= (xx - x0 > pitch // 2) & (x1 - xx > pitch // 2) & (yy - y0 > pitch)
                colour = window_cols[int(rng.integers(len(window_cols)))]
                ctx.rgb[:, y0:y1, x0:x1][:, win] = colour[:, 0] * (0.8 + 0.2 * rng.random())
            x += bw * rng.uniform(0.85, 1.1)


def _water(ctx: _Layers, rng, horizon: int, w: int, h: int, sun_x: float, land, look: Look, *, has_sun: bool) -> None:
    """A water plane from the horizon down, reflecting what is above it, with ripples and glitter."""
    rows = np.arange(horizon, h)
    mirror = np.clip(2 * horizon - rows, 0, horizon - 1)
    ripples = fbm(rng, w, h - horizon, octaves=5, cells=6, stretch=10.0)
    shift = ((ripples - 0.5) * w * 0.012).astype(np.int32)
    cols = np.clip(np.arange(w)[None, :] + shift, 0, w - 1)
    reflected = ctx.rgb[:, mirror[:, None], cols]
    water_col = _col(look.keep_out((0.1, 0.3, 0.45))) * 0.5 + land[1] * 0.5
    fade = smoothstep(0, (h - horizon) * 0.9, (rows - horizon).astype(np.float32))[:, None]
    water = mix(reflected * 0.8, water_col, 0.35 + 0.4 * fade)
    water *= (0.9 + 0.2 * ripples)[None]
    if has_sun:
        column = np.exp(-(((np.arange(w) - sun_x) / (w * 0.06)) ** 2))[None, :]
        sparkle = smoothstep(0.6, 0.8, ripples) * column * (1 - fade * 0.7)
        water = mix(water, np.clip(_col(look.accent) * 0.3 + 0.75, 0, 1), sparkle.astype(np.float32))
    ctx.rgb[:, horizon:] = water
    ctx.depth[horizon:] = np.linspace(0.6, 0.05, h - horizon, dtype=np.float32)[:, None]
    ctx.labels[horizon:] = WATER_LABEL


def _details(ctx: _Layers, rng: np.random.Generator, horizon: int, w: int, h: int, land, look: Look) -> None:
    """Trees, flowers and birds, drawn with Pillow at seeded places."""
    f = look.features
    unit = min(w, h)
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if "trees" in f or "some-trees" in f:
        count = int(rng.integers(28, 48) * w / max(h, 1)) if "trees" in f else int(rng.integers(2, 7))
        autumn = look.warmth > 0.25
        # The first row of open ground in each column (not water, not a roof).
        ground = (ctx.labels >= 10) & (ctx.labels < 20) & (ctx.depth < 0.7)
        ground_rows = np.where(ground, np.arange(h)[:, None], h).min(axis=0)
        xs = (
            np.sort(rng.uniform(0, w, count))
            if "trees" in f
            else rng.uniform(0.05, 0.95, 1) * w + rng.normal(0, w * 0.08, count)
        )
        for x in xs:
            xi = int(np.clip(x, 0, w - 1))
            base = float(ground_rows[xi])
            if base >= h - 2 or base < horizon * 0.8:
                continue
            size = unit * rng.uniform(0.06, 0.13) * (0.6 + 0.8 * (base - horizon) / max(h - horizon, 1))
            colour = mix(land[2], land[1], rng.uniform(0, 0.6)) * rng.uniform(0.7, 1.0)
            if autumn:
                colour = mix(colour, _col(look.accent), rng.uniform(0.3, 0.7))
            fill = _rgba(colour)
            if autumn or rng.random() < 0.3:
                draw.rectangle(
                    (x - size * 0.04, base - size * 0.45, x + size * 0.04, base + 2), fill=_rgba(land[2] * 0.7)
                )
                draw.ellipse((x - size * 0.3, base - size * 1.05, x + size * 0.3, base - size * 0.35), fill=fill)
            else:
                for tier in range(3):
                    top = base - size * (1.0 - tier * 0.22)
                    half = size * (0.16 + tier * 0.06)
                    bottom = base - size * (0.35 - tier * 0.15)
                    draw.polygon([(x, top), (x - half, bottom), (x + half, bottom)], fill=fill)
    if "flowers" in f:
        rows = np.arange(h)[:, None]
        for _ in range(int(rng.integers(80, 160))):
            xi = int(rng.integers(0, w))
            y0 = int(np.argmax((ctx.depth[:, xi] < 0.4) & (rows[:, 0] > horizon)))
            if y0 == 0:
                continue
            y = rng.uniform(y0 + 4, h)
            r = unit * rng.uniform(0.003, 0.008) * (0.5 + (y - horizon) / max(h - horizon, 1))
            colour = _col(look.accent) if rng.random() < 0.6 else _col(look.palette[-1])
            draw.ellipse((xi - r, y - r, xi + r, y + r), fill=_rgba(colour))
    _overlay(ctx, layer, 0.1, TREE_LABEL)

    if "birds" in f:
        birds = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(birds)
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.15, 0.45) * horizon
        for _ in range(int(rng.integers(3, 8))):
            x, y = cx + rng.normal(0, w * 0.06), cy + rng.normal(0, h * 0.03)
            s = unit * rng.uniform(0.008, 0.016)
            width = max(1, round(unit / 400))
            draw.line(
                [(x - s, y - s * 0.5), (x, y), (x + s, y - s * 0.5)],
                fill=_rgba(land[2] * 0.8),
                width=width,
                joint="curve",
            )
        _overlay(ctx, birds, None, TREE_LABEL + 1)


def _grid(ctx: _Layers, horizon: int, w: int, h: int, look: Look) -> None:
    """A glowing perspective grid on the ground (cyberpunk)."""
    mask = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    width = max(1, round(min(w, h) / 300))
    vx = w / 2
    for k in range(-24, 25):
        draw.line([(vx + k * w * 0.012, horizon), (vx + k * w * 0.16, h)], fill=255, width=width)
    for i in range(1, 16):
        y = horizon + (h - horizon) * (i / 15) ** 2.2
        draw.line([(0, y), (w, y)], fill=255, width=width)
    m = np.asarray(mask, np.float32) / 255
    m[:horizon] = 0
    ground = ctx.labels >= 10
    m *= ground
    neon = _col(look.neon[0])
    glow = blur(m, min(w, h) / 120) * 2.5
    ctx.rgb[:] = np.clip(mix(ctx.rgb * (1 - 0.5 * ground[None]), neon, np.clip(m + glow, 0, 1)), 0, 1)
    line = np.exp(-np.abs(ctx.ys - horizon) / (h * 0.02)) * 0.7
    ctx.rgb[:] = mix(ctx.rgb, _col(look.neon[1 % len(look.neon)]), line.astype(np.float32))


def _rain(ctx: _Layers, rng: np.random.Generator, w: int, h: int) -> None:
    mask = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    length = h * 0.04
    angle = math.radians(rng.uniform(-15, 15))
    for _ in range(int(w * h / 2500)):
        x, y = rng.uniform(-0.1 * w, 1.1 * w), rng.uniform(0, h)
        draw.line([(x, y), (x + math.sin(angle) * length, y + math.cos(angle) * length)], fill=90, width=1)
    m = np.asarray(mask, np.float32) / 255
    ctx.rgb[:] = mix(ctx.rgb, _col((0.85, 0.88, 0.92)), m)
