"""The built-in procedural renderer: determinism, prompt words, styles, progress, cancel, image-to-image."""

from __future__ import annotations

import colorsys
import io
import itertools

import numpy as np
import pytest
from PIL import Image

from images.providers import builtin
from images.providers.base import GenerationCanceled, Provider, ProviderError, ReferenceImage, RenderRequest
from images.providers.builtin import BuiltinProvider
from images.styles import STYLES

W, H = 192, 128


def render(**fields) -> list:
    fields = {"prompt": "a mountain lake", "width": W, "height": H, "seed": 1, **fields}
    return BuiltinProvider().generate(RenderRequest(**fields), on_progress=lambda p: None, should_cancel=lambda: False)


def pixels(image) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(image.data)).convert("RGB"), np.float32) / 255


def png(arr: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray((arr * 255).astype(np.uint8)).save(buf, fmt)
    return buf.getvalue()


def mean_hue(arr: np.ndarray) -> float:
    """Circular mean hue (degrees) of the clearly coloured pixels."""
    hsv = np.asarray(Image.fromarray((arr * 255).astype(np.uint8)).convert("HSV"), np.float32)
    coloured = (hsv[..., 1] > 60) & (hsv[..., 2] > 40)
    angles = hsv[..., 0][coloured] / 255 * 2 * np.pi
    return float(np.degrees(np.arctan2(np.sin(angles).mean(), np.cos(angles).mean())) % 360)


def hue_distance(a: float, b: float) -> float:
    return min(abs(a - b) % 360, 360 - abs(a - b) % 360)


def blue_share(arr: np.ndarray) -> float:
    """Share of pixels that are clearly blue (hue 190-255 degrees, saturated, not black)."""
    flat = arr.reshape(-1, 3)[::7]
    hls = np.array([colorsys.rgb_to_hls(*p) for p in flat])
    hue = hls[:, 0] * 360
    return float(((hue > 190) & (hue < 255) & (hls[:, 2] > 0.25) & (hls[:, 1] > 0.12)).mean())


def test_it_is_a_configured_provider_with_one_model():
    provider = BuiltinProvider()
    assert isinstance(provider, Provider)
    assert provider.name == "builtin"
    assert provider.is_configured() is True
    assert provider.models() == ["builtin-v1"]


def test_it_returns_pngs_of_the_requested_size_with_palette_style_and_seed():
    [image] = render(style="watercolor", seed=42)
    assert image.content_type == "image/png"
    assert (image.width, image.height) == (W, H)
    opened = Image.open(io.BytesIO(image.data))
    assert opened.format == "PNG" and opened.size == (W, H)
    assert image.info["style"] == "watercolor" and image.info["seed"] == 42
    assert len(image.info["palette"]) == 6
    assert all(c.startswith("#") and len(c) == 7 for c in image.info["palette"])


def test_the_png_carries_no_timestamp_or_text():
    [image] = render()
    assert b"tIME" not in image.data and b"tEXt" not in image.data and b"iTXt" not in image.data


def test_the_same_request_gives_byte_identical_pngs():
    first = render(prompt="stormy ocean at night", negative_prompt="birds", style="photo", seed=99, n=2)
    second = render(prompt="stormy ocean at night", negative_prompt="birds", style="photo", seed=99, n=2)
    assert [i.data for i in first] == [i.data for i in second]


def test_images_of_one_request_differ_from_each_other():
    images = render(n=3)
    assert len({i.data for i in images}) == 3


@pytest.mark.parametrize(
    "change",
    [{"seed": 2}, {"prompt": "a desert at noon"}, {"style": "illustration"}, {"negative_prompt": "clouds"}],
    ids=["seed", "prompt", "style", "negative_prompt"],
)
def test_a_different_seed_prompt_style_or_negative_prompt_gives_a_different_image(change):
    base = pixels(render()[0])
    changed = pixels(render(**change)[0])
    assert np.abs(base - changed).mean() > 0.01


def test_a_different_size_gives_an_image_of_that_size():
    [image] = render(width=160, height=240)
    assert Image.open(io.BytesIO(image.data)).size == (160, 240)


def test_every_style_looks_different():
    styles = ["", *STYLES]
    images = {s: pixels(render(style=s, seed=5)[0]) for s in styles}
    for a, b in itertools.combinations(styles, 2):
        assert np.abs(images[a] - images[b]).mean() > 0.02, (a, b)


def test_line_art_is_dark_lines_on_white():
    arr = pixels(render(style="line-art", prompt="mountains and trees")[0])
    lum = arr.mean(axis=2)
    assert (lum > 0.9).mean() > 0.6  # mostly paper
    assert (lum < 0.3).mean() > 0.005  # with ink on it
    assert np.abs(arr - arr.mean(axis=2, keepdims=True)).max() < 0.05  # and no colour


def test_pixel_art_is_blocky_with_a_small_palette():
    image = render(style="pixel-art", width=256, height=256)[0]
    im = Image.open(io.BytesIO(image.data)).convert("RGB")
    assert len(im.getcolors(256) or []) <= 16
    block = 256 // builtin.render_size("pixel-art", 256, 256)[0]
    assert block >= 2
    blocks = im.resize((256 // block, 256 // block), Image.Resampling.NEAREST).resize(
        (256, 256), Image.Resampling.NEAREST
    )
    assert np.array_equal(np.asarray(im), np.asarray(blocks))


def test_colour_words_move_the_palette():
    for seed in (1, 2, 3):
        red = mean_hue(pixels(render(prompt="red", seed=seed)[0]))
        blue = mean_hue(pixels(render(prompt="blue", seed=seed)[0]))
        assert hue_distance(red, 0) < 30, red
        assert hue_distance(blue, 220) < 35, blue


def test_a_colour_in_the_negative_prompt_stays_out_of_the_image():
    for seed in (1, 2):
        with_blue = pixels(render(prompt="a blue ocean under a blue sky", seed=seed)[0])
        without = pixels(render(prompt="a blue ocean under a blue sky", negative_prompt="blue", seed=seed)[0])
        assert blue_share(with_blue) > 0.3
        assert blue_share(without) < 0.02


def test_night_words_make_a_darker_picture_than_bright_words():
    night = pixels(render(prompt="a dark night with stars")[0]).mean()
    day = pixels(render(prompt="a bright sunny summer day")[0]).mean()
    assert night < day - 0.15


def test_progress_rises_to_100_and_is_spread_over_the_images():
    seen: list[int] = []
    request = RenderRequest(prompt="a forest", width=W, height=H, seed=1, n=3)
    BuiltinProvider().generate(request, on_progress=seen.append, should_cancel=lambda: False)
    assert seen[0] == 0 and seen[-1] == 100
    assert all(b > a for a, b in itertools.pairwise(seen))
    assert len(seen) >= 3 * builtin.TICKS_PER_IMAGE  # every stage of every image reports
    assert any(30 <= p <= 40 for p in seen) and any(60 <= p <= 70 for p in seen)


@pytest.mark.parametrize("style", ["", "pixel-art", "cyberpunk"])
def test_it_checks_for_a_cancel_once_before_and_once_after_every_step(style):
    checks: list[bool] = []

    def should_cancel() -> bool:
        checks.append(True)
        return False

    request = RenderRequest(prompt="a city by the sea at night", width=W, height=H, seed=1, n=2, style=style)
    BuiltinProvider().generate(request, on_progress=lambda p: None, should_cancel=should_cancel)
    assert len(checks) == 1 + 2 * builtin.TICKS_PER_IMAGE


def test_a_cancel_between_steps_raises_and_stops_rendering():
    seen: list[int] = []
    checks = itertools.count()

    def should_cancel() -> bool:
        return next(checks) >= 4

    request = RenderRequest(prompt="a forest", width=W, height=H, seed=1, n=2)
    with pytest.raises(GenerationCanceled):
        BuiltinProvider().generate(request, on_progress=seen.append, should_cancel=should_cancel)
    assert seen and max(seen) < 100


def test_a_cancel_before_the_first_step_raises():
    request = RenderRequest(prompt="a forest", width=W, height=H, seed=1)
    with pytest.raises(GenerationCanceled):
        BuiltinProvider().generate(request, on_progress=lambda p: None, should_cancel=lambda: True)


def test_the_step_delay_setting_sleeps_at_every_step(settings, monkeypatch):
    settings.BUILTIN_STEP_DELAY_MS = 30
    sleeps: list[float] = []
    monkeypatch.setattr(builtin.time, "sleep", sleeps.append)
    render()
    assert len(sleeps) >= builtin.TICKS_PER_IMAGE
    assert set(sleeps) == {0.03}


def test_without_the_setting_it_never_sleeps(settings, monkeypatch):
    settings.BUILTIN_STEP_DELAY_MS = 0
    sleeps: list[float] = []
    monkeypatch.setattr(builtin.time, "sleep", sleeps.append)
    render()
    assert sleeps == []


def test_it_renders_2048_by_2048():
    [image] = render(width=2048, height=2048, style="")
    assert Image.open(io.BytesIO(image.data)).size == (2048, 2048)


# --- image-to-image -------------------------------------------------------------------


def reference_image(width: int = W, height: int = H) -> np.ndarray:
    """Left half yellow, right half purple, with a vertical ramp: nothing the renderer would paint."""
    arr = np.zeros((height, width, 3), np.float32)
    arr[:, : width // 2] = (0.95, 0.85, 0.1)
    arr[:, width // 2 :] = (0.45, 0.1, 0.6)
    arr *= np.linspace(0.6, 1.0, height, dtype=np.float32)[:, None, None]
    return arr


def with_reference(strength: float | None, data: bytes | None = None, **fields) -> np.ndarray:
    ref = ReferenceImage(data=data or png(reference_image()), content_type="image/png")
    return pixels(render(references=(ref,), strength=strength, **fields)[0])


def test_at_strength_0_the_output_is_the_reference():
    out = with_reference(0.0, style="oil-painting")
    assert np.abs(out - reference_image()).max() < 2 / 255


def test_at_strength_1_the_reference_is_ignored():
    out = with_reference(1.0)
    plain = pixels(render()[0])
    assert np.array_equal(out, plain)
    assert np.abs(out - reference_image()).mean() > 0.1


def test_in_between_the_output_moves_from_the_reference_to_the_render():
    ref = reference_image()
    distances = [float(np.abs(with_reference(s, style="illustration") - ref).mean()) for s in (0.0, 0.3, 0.6, 1.0)]
    assert distances == sorted(distances)
    assert distances[1] < distances[3] and distances[2] < distances[3]


def test_the_default_strength_keeps_the_references_layout():
    out = with_reference(None)
    left, right = out[:, : W // 2].mean(axis=(0, 1)), out[:, W // 2 :].mean(axis=(0, 1))
    assert left[2] < right[2]  # the purple half stays bluer than the yellow half
    [image] = render(references=(ReferenceImage(data=png(reference_image()), content_type="image/png"),))
    assert image.info["strength"] == builtin.DEFAULT_STRENGTH


def test_a_reference_of_another_size_and_format_is_cropped_to_fit():
    data = png(reference_image(300, 500), fmt="JPEG")
    out = with_reference(0.0, data=data)
    assert out.shape == (H, W, 3)


@pytest.mark.parametrize("data", [b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b""])
def test_a_reference_that_is_not_an_image_is_a_permanent_error(data):
    ref = ReferenceImage(data=data, content_type="image/png")
    with pytest.raises(ProviderError) as info:
        render(references=(ref,))
    assert info.value.code == "invalid_reference" and info.value.permanent


# --- validation -------------------------------------------------------------------------


def test_an_unknown_style_is_a_permanent_error_naming_the_valid_ones():
    with pytest.raises(ProviderError) as info:
        render(style="vaporwave")
    assert info.value.code == "invalid_style" and info.value.permanent
    assert "watercolor" in info.value.message


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"width": 8}, "invalid_size"),
        ({"height": 5000}, "invalid_size"),
        ({"strength": 1.5}, "invalid_strength"),
        ({"model": "dall-e-3"}, "invalid_model"),
        ({"n": 0}, "invalid_n"),
    ],
)
def test_out_of_range_requests_are_permanent_errors(fields, code):
    with pytest.raises(ProviderError) as info:
        render(**fields)
    assert info.value.code == code and info.value.permanent


# --- Output formats, transparent backgrounds, partial frames, masks (SPEC §6) ------------


@pytest.mark.parametrize(("fmt", "pil"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_it_encodes_in_the_output_format_asked_for(fmt, pil):
    [image] = render(output_format=fmt)
    assert image.content_type == f"image/{fmt}"
    with Image.open(io.BytesIO(image.data)) as im:
        assert (im.format, im.size) == (pil, (W, H))


def test_output_compression_is_the_jpeg_quality():
    [small] = render(output_format="jpeg", output_compression=10)
    [large] = render(output_format="jpeg", output_compression=95)
    assert len(small.data) < len(large.data) / 2


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_a_transparent_background_is_real_alpha_where_the_sky_was(fmt):
    [image] = render(prompt="mountains at noon", background="transparent", output_format=fmt)
    with Image.open(io.BytesIO(image.data)) as im:
        assert im.mode == "RGBA"
        alpha = np.asarray(im.getchannel("A"))
    assert alpha[0].max() == 0  # the top row is sky: see-through
    assert alpha[-1].min() == 255  # the bottom row is land: solid
    assert image.info["background"] == "transparent"
    [opaque] = render(prompt="mountains at noon")
    assert Image.open(io.BytesIO(opaque.data)).mode == "RGB" and opaque.info["background"] == "opaque"


def test_partial_images_are_real_intermediate_frames_of_the_first_image():
    frames = []
    request = RenderRequest(prompt="a city at dusk", width=W, height=H, seed=3, n=2, partial_images=3)
    [final, _] = BuiltinProvider().generate(
        request, on_progress=lambda p: None, should_cancel=lambda: False, on_partial_image=lambda *f: frames.append(f)
    )
    assert [(index, partial, ctype) for index, partial, _, ctype in frames] == [
        (0, 0, "image/png"), (0, 1, "image/png"), (0, 2, "image/png")
    ]  # fmt: skip
    decoded = [np.asarray(Image.open(io.BytesIO(data)).convert("RGB")) for _, _, data, _ in frames]
    assert all(frame.shape == (H, W, 3) for frame in decoded)
    last = np.asarray(Image.open(io.BytesIO(final.data)).convert("RGB"))
    # Each frame differs from the next and from the finished image: the picture builds up.
    for a, b in itertools.pairwise([*decoded, last]):
        assert not np.array_equal(a, b)


def test_partial_stages_spread_over_the_scene():
    assert builtin.partial_stages(1) == [4]
    assert len(builtin.partial_stages(3)) == 3


def test_a_mask_keeps_the_input_byte_identical_where_it_is_opaque():
    source = (np.random.default_rng(0).random((H, W, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(source).save(buf, "PNG")
    mask = np.full((H, W, 4), 255, np.uint8)
    mask[:, : W // 2, 3] = 0  # the left half is to be changed
    mask_buf = io.BytesIO()
    Image.fromarray(mask, "RGBA").save(mask_buf, "PNG")
    [image] = render(references=(ReferenceImage(buf.getvalue(), "image/png"),), mask=mask_buf.getvalue())
    out = np.asarray(Image.open(io.BytesIO(image.data)).convert("RGB"))
    assert np.array_equal(out[:, W // 2 :], source[:, W // 2 :])
    assert (out[:, : W // 2] != source[:, : W // 2]).any(axis=2).mean() > 0.9
