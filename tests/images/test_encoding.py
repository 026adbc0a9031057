"""images/encoding.py: output formats, conversion of providers' images, masks."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from images import encoding


def image_bytes(mode: str = "RGBA", fmt: str = "PNG", size=(32, 16)) -> bytes:
    buf = io.BytesIO()
    colour = (10, 200, 30, 0) if mode == "RGBA" else (10, 200, 30)
    Image.new(mode, size, colour).save(buf, fmt)
    return buf.getvalue()


def test_conform_flattens_alpha_on_white_for_jpeg():
    converted = encoding.conform(image_bytes(), output_format="jpeg", compression=None, background="auto")
    im = Image.open(io.BytesIO(converted.data))
    assert (im.format, im.mode, converted.transparent) == ("JPEG", "RGB", False)
    assert min(im.getpixel((5, 5))) > 245


def test_conform_keeps_alpha_for_webp_unless_the_background_is_opaque():
    kept = encoding.conform(image_bytes(), output_format="webp", compression=50, background="auto")
    assert Image.open(io.BytesIO(kept.data)).mode == "RGBA" and kept.transparent
    flat = encoding.conform(image_bytes(), output_format="webp", compression=50, background="opaque")
    assert Image.open(io.BytesIO(flat.data)).mode == "RGB" and not flat.transparent


def test_conform_refuses_bytes_that_are_no_image():
    with pytest.raises(encoding.EncodingError):
        encoding.conform(b"nope", output_format="png", compression=None, background="auto")


def test_a_mask_without_alpha_keeps_everything():
    rendered = Image.new("RGB", (8, 8), (255, 0, 0))
    source = Image.new("RGB", (8, 8), (0, 0, 255))
    out = encoding.apply_mask(rendered, source, Image.new("RGB", (8, 8)))
    assert np.array_equal(np.asarray(out), np.asarray(source))
