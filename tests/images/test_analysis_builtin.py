"""The offline analyzer: colours, brightness, orientation, transparency, photo or illustration."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from images.analysis import get_analyzer
from images.analysis.base import AnalysisError, Analyzer
from images.analysis.builtin import BuiltinAnalyzer


def encoded(im: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


def labels_of(im: Image.Image, fmt: str = "PNG") -> dict[str, float]:
    return {label.name: label.confidence for label in BuiltinAnalyzer().analyze(encoded(im, fmt), content_type="")}


def test_it_is_the_default_analyzer_and_fits_the_protocol():
    assert isinstance(get_analyzer(), BuiltinAnalyzer)
    assert isinstance(get_analyzer(), Analyzer)


def test_a_flat_navy_landscape_is_blue_dark_and_an_illustration():
    labels = labels_of(Image.new("RGB", (300, 200), "navy"))

    assert labels["Landscape"] == 1.0
    assert labels["Blue"] == pytest.approx(1.0)
    assert labels["Dark"] > 0.8
    assert labels["Illustration"] == 1.0
    assert "Photo" not in labels and "Bright" not in labels


def test_orientation_is_a_fact_of_the_size():
    assert "Portrait" in labels_of(Image.new("RGB", (100, 300), "white"))
    assert "Square" in labels_of(Image.new("RGB", (300, 295), "white"))


def test_colour_confidence_is_the_share_of_pixels():
    im = Image.new("RGB", (200, 200), "red")
    im.paste(Image.new("RGB", (200, 50), "yellow"), (0, 0))

    labels = labels_of(im)

    assert labels["Red"] == pytest.approx(0.75, abs=0.02)
    assert labels["Yellow"] == pytest.approx(0.25, abs=0.02)


def test_a_white_page_is_bright_white_and_black_and_white():
    labels = labels_of(Image.new("RGB", (120, 120), (250, 250, 250)))

    assert labels["White"] == pytest.approx(1.0)
    assert labels["Bright"] > 0.9
    assert labels["Black and white"] > 0.9


def test_transparent_pixels_are_labelled_and_not_counted_as_colours():
    im = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    im.paste(Image.new("RGBA", (100, 50), (0, 160, 0, 255)), (0, 0))

    labels = labels_of(im)

    assert labels["Transparent"] == 1.0
    assert labels["Green"] == pytest.approx(1.0)  # of the opaque pixels
    assert "Black" not in labels


def test_noise_reads_as_a_photo():
    rng = np.random.default_rng(1)
    labels = labels_of(Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)))

    assert labels["Photo"] > 0.9
    assert "Illustration" not in labels


def test_labels_come_most_confident_first():
    labels = BuiltinAnalyzer().analyze(encoded(Image.new("RGB", (300, 200), "navy")), content_type="image/png")

    confidences = [label.confidence for label in labels]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0 <= c <= 1 for c in confidences)


def test_bytes_that_are_not_an_image_are_a_permanent_error():
    with pytest.raises(AnalysisError) as caught:
        BuiltinAnalyzer().analyze(b"not an image", content_type="image/png")

    assert caught.value.permanent
