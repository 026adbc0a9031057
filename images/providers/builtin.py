"""The built-in provider: an offline, deterministic procedural renderer.

Not an AI model. It paints a layered landscape (sky, light, clouds, terrain,
water, city, trees) whose palette, mood and features come from the prompt's
words, finishes it in the requested style, and encodes it as PNG. The same
request gives byte-identical PNGs: all randomness comes from a NumPy generator
seeded by a hash of (seed, prompt, negative prompt, style, size, image index).
Development and tests use it because it needs no keys and no network.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Callable
from typing import ClassVar

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from PIL import Image, ImageOps, UnidentifiedImageError

from images import encoding
from images.encoding import PNG_COMPRESS_LEVEL, PNG_COMPRESS_TYPE
from images.params import OUTPUT_CONTENT_TYPES
from images.providers.base import (
    CancelCheck,
    GeneratedImage,
    GenerationCanceled,
    PartialImageCallback,
    ProgressCallback,
    ProviderError,
    RenderRequest,
)
from images.render.noise import from_image, mix, to_image, to_uint8
from images.render.palette import build_look
from images.render.scene import CELESTIAL, CLOUDS, SCENE_TICKS, SKY, Scene, render_scene
from images.render.treatments import TREATMENTS, render_size, scene_from_reference, style_palette, stylise

MODEL = "builtin-v1"
MIN_SIDE, MAX_SIDE = 16, 4096
DEFAULT_STRENGTH = 0.6
# Steps per image: the scene's stages, then style, reference blend, finish, encode.
TICKS_PER_IMAGE = SCENE_TICKS + 3


class _Steps:
    """Progress across ``total`` steps, with a cancel check (and optional delay) at each."""

    def __init__(self, total: int, on_progress: ProgressCallback, should_cancel: CancelCheck, delay: float) -> None:
        self.total, self.done, self.last = total, 0, -1
        self.on_progress, self.should_cancel, self.delay = on_progress, should_cancel, delay

    def check(self) -> None:
        if self.delay:
            time.sleep(self.delay)
        if self.should_cancel():
            raise GenerationCanceled("canceled while rendering")

    def tick(self) -> None:
        """One step done: report progress (never 100 before the very end), then check for a cancel."""
        self.done += 1
        self.report(min(99, self.done * 100 // self.total))
        self.check()

    def report(self, percent: int) -> None:
        if percent > self.last:
            self.last = percent
            self.on_progress(percent)


def _step_delay() -> float:
    """Seconds to sleep per step, from settings.BUILTIN_STEP_DELAY_MS (tests use it to make jobs last)."""
    try:
        ms = getattr(settings, "BUILTIN_STEP_DELAY_MS", 0)
    except ImproperlyConfigured:  # outside Django (the benchmark, a plain script): no delay
        return 0.0
    return max(0, int(ms or 0)) / 1000


def image_seed(request: RenderRequest, index: int) -> int:
    """The generator seed of image ``index``: a hash of everything the image may depend on."""
    key = [request.seed, request.prompt, request.negative_prompt, request.style, request.width, request.height, index]
    digest = hashlib.sha256(json.dumps(key, ensure_ascii=False).encode()).digest()
    return int.from_bytes(digest[:16], "big")


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of a planar float RGB array: no ancillary chunks, so no timestamps."""
    buf = io.BytesIO()
    to_image(rgb).save(buf, "PNG", compress_level=PNG_COMPRESS_LEVEL, compress_type=PNG_COMPRESS_TYPE)
    return buf.getvalue()


def load_reference(data: bytes, width: int, height: int) -> np.ndarray:
    """Decode a reference image, upright, cropped and scaled to fill width x height, as float RGB."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > 64_000_000:
                raise ProviderError("reference image is too large", code="invalid_reference", permanent=True)
            side = max(width, height)  # either way up: the EXIF orientation may swap the sides
            im.draft("RGB", (side, side))
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
                rgba = im.convert("RGBA")
                im = Image.new("RGB", im.size, (255, 255, 255))  # transparent areas become white
                im.paste(rgba, mask=rgba.getchannel("A"))
            fitted = ImageOps.fit(im.convert("RGB"), (width, height), Image.Resampling.LANCZOS)
    except ProviderError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ProviderError(
            f"reference image could not be decoded: {exc}", code="invalid_reference", permanent=True
        ) from exc
    return from_image(fitted)


def partial_stages(count: int) -> list[int]:
    """The scene stages (1..SCENE_TICKS) whose canvas becomes one of ``count`` partial images, spread evenly."""
    return sorted({max(1, min(SCENE_TICKS, round((i + 1) * SCENE_TICKS / (count + 1)))) for i in range(count)})


def scene_alpha(scene: Scene, width: int, height: int) -> Image.Image:
    """A transparent background: the sky (with its sun, moon and clouds) cut away, the land kept (mode L)."""
    sky = np.isin(scene.labels, (SKY, CELESTIAL, CLOUDS))
    alpha = Image.fromarray(np.where(sky, 0, 255).astype(np.uint8))
    return alpha if alpha.size == (width, height) else alpha.resize((width, height), Image.Resampling.NEAREST)


def _decoded(data: bytes, what: str, code: str) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return im.copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ProviderError(f"{what} could not be decoded: {exc}", code=code, permanent=True) from exc


def load_mask(data: bytes) -> Image.Image:
    """An edit's mask, decoded; ProviderError (permanent) if it is not an image."""
    return _decoded(data, "mask", "invalid_mask")


def load_source(data: bytes) -> Image.Image:
    """An edit's input image as decoded, for the pixels its mask keeps."""
    return _decoded(data, "reference image", "invalid_reference")


class BuiltinProvider:
    """Offline procedural renderer; see the module docstring."""

    name: ClassVar[str] = "builtin"
    # It sends real intermediate frames (the scene after some of its stages) when asked.
    streams_partial_images: ClassVar[bool] = True

    def is_configured(self) -> bool:
        """Always: it needs no keys, files or network."""
        return True

    def models(self) -> list[str]:
        """The one model, ``builtin-v1``."""
        return [MODEL]

    def generate(
        self,
        request: RenderRequest,
        *,
        on_progress: ProgressCallback,
        should_cancel: CancelCheck,
        on_partial_image: PartialImageCallback | None = None,
    ) -> list[GeneratedImage]:
        """Render ``request.n`` images in ``request.output_format``, reporting progress per stage and
        checking for cancels between stages.

        A transparent background cuts the sky away (real alpha). With a mask,
        the first reference's pixels are kept wherever the mask is opaque.
        ``on_partial_image`` gets ``request.partial_images`` frames of the first
        image as it is painted. Raises ``ProviderError`` (permanent) for an
        unknown style or model, a size or strength out of range, or a reference
        or mask that is not an image; ``GenerationCanceled`` when
        ``should_cancel()`` turns true.
        """
        self._validate(request)
        steps = _Steps(request.n * TICKS_PER_IMAGE + 1, on_progress, should_cancel, _step_delay())
        steps.report(0)
        steps.check()
        reference = None
        if request.references:
            reference = load_reference(request.references[0].data, request.width, request.height)
        strength = DEFAULT_STRENGTH if request.strength is None else float(request.strength)
        edit = None
        if request.mask is not None and request.references:
            edit = (load_source(request.references[0].data), load_mask(request.mask))
        images = [
            self._render_one(
                request,
                i,
                reference,
                strength,
                steps.tick,
                edit=edit,
                on_partial_image=on_partial_image if i == 0 else None,
            )
            for i in range(request.n)
        ]
        steps.report(100)
        return images

    def _validate(self, request: RenderRequest) -> None:
        if request.style not in TREATMENTS:
            valid = ", ".join(sorted(s for s in TREATMENTS if s))
            raise ProviderError(
                f"unknown style {request.style!r}; valid: {valid}", code="invalid_style", permanent=True
            )
        if request.model and request.model != MODEL:
            raise ProviderError(
                f"unknown model {request.model!r}; valid: {MODEL}", code="invalid_model", permanent=True
            )
        for side in (request.width, request.height):
            if not MIN_SIDE <= side <= MAX_SIDE:
                raise ProviderError(
                    f"size {request.width}x{request.height} is out of range ({MIN_SIDE}..{MAX_SIDE} per side)",
                    code="invalid_size",
                    permanent=True,
                )
        if request.n < 1:
            raise ProviderError("n must be at least 1", code="invalid_n", permanent=True)
        if request.strength is not None and not 0.0 <= float(request.strength) <= 1.0:
            raise ProviderError("strength must be between 0 and 1", code="invalid_strength", permanent=True)

    def _render_one(
        self,
        request: RenderRequest,
        index: int,
        reference: np.ndarray | None,
        strength: float,
        tick: Callable[[], None],
        *,
        edit: tuple[Image.Image, Image.Image] | None = None,
        on_partial_image: PartialImageCallback | None = None,
    ) -> GeneratedImage:
        rng = np.random.default_rng(image_seed(request, index))
        w, h, style = request.width, request.height, request.style
        look = build_look(request.prompt, request.negative_prompt, style, rng)
        sw, sh = render_size(style, w, h)
        on_frame = None
        if on_partial_image is not None and request.partial_images > 0:
            on_frame = _PartialFrames(request, index, on_partial_image)
        scene = render_scene(look, sw, sh, rng, tick, on_frame)
        rgb = stylise(style, scene, look, rng, w, h)
        tick()
        if reference is not None:
            rgb = blend_reference(rgb, reference, look, style, strength, rng)
        tick()
        transparent = request.background == "transparent"
        if request.output_format == "png" and not transparent and edit is None:
            data = encode_png(rgb)
        else:
            im = to_image(rgb)
            if transparent:
                im.putalpha(scene_alpha(scene, w, h))
            if edit is not None:
                im = encoding.apply_mask(im, *edit)
            data = encoding.encode(im, request.output_format, request.output_compression)
        tick()
        info = {
            "palette": style_palette(style, look),
            "style": style,
            "seed": request.seed,
            "background": "transparent" if transparent else "opaque",
        }
        if reference is not None:
            info["strength"] = strength
        return GeneratedImage(
            data=data, content_type=OUTPUT_CONTENT_TYPES[request.output_format], width=w, height=h, info=info
        )


class _PartialFrames:
    """Hands the canvas after some of the scene's stages to ``on_partial_image``, encoded at full size."""

    def __init__(self, request: RenderRequest, index: int, on_partial_image: PartialImageCallback) -> None:
        self.request, self.index, self.send = request, index, on_partial_image
        self.stages = partial_stages(min(request.partial_images, SCENE_TICKS))
        self.sent = 0

    def __call__(self, stage: int, canvas: np.ndarray) -> None:
        if stage not in self.stages:
            return
        im = Image.merge("RGB", [Image.fromarray(to_uint8(plane)) for plane in canvas])
        if im.size != (self.request.width, self.request.height):  # pixel art paints small
            im = im.resize((self.request.width, self.request.height), Image.Resampling.NEAREST)
        fmt = self.request.output_format
        self.send(
            self.index, self.sent, encoding.encode(im, fmt, self.request.output_compression), OUTPUT_CONTENT_TYPES[fmt]
        )
        self.sent += 1


def blend_reference(
    rendered: np.ndarray, reference: np.ndarray, look, style: str, strength: float, rng: np.random.Generator
) -> np.ndarray:
    """Image-to-image: reference at strength 0, the rendered scene at 1.

    On the way the reference is restyled (its colours mapped into the palette,
    then finished like the scene): up to 0.5 the reference fades into its styled
    version, above 0.5 the styled reference fades into the rendered scene.
    """
    h, w = rendered.shape[1:]
    if strength <= 0:
        return reference
    if strength >= 1:
        return rendered
    sw, sh = render_size(style, w, h)
    source = reference
    if (sw, sh) != (w, h):
        source = from_image(to_image(reference).resize((sw, sh), Image.Resampling.BOX))
    styled = stylise(style, scene_from_reference(source, look), look, rng, w, h)
    restyle, replace = min(1.0, strength * 2), max(0.0, strength * 2 - 1)
    return mix(mix(reference, styled, restyle), rendered, replace)
