"""The rekognition analyzer against moto's server (DetectLabels), through boto3 and AWS_ENDPOINT_URL."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from images.analysis.base import AnalysisError, sendable
from images.analysis.rekognition import RekognitionAnalyzer
from tests.support.moto import aws_env, reset_moto
from tests.support.processes import free_port


def webp_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(buf, "WEBP")
    return buf.getvalue()


@pytest.fixture
def rekognition(moto_url, settings, monkeypatch):
    reset_moto(moto_url)
    for name, value in aws_env(moto_url).items():
        monkeypatch.setenv(name, value)
    settings.AWS_ENDPOINT_URL = moto_url
    settings.IMAGE_ANALYZER = "rekognition"
    return moto_url


def test_it_returns_rekognitions_labels_with_confidences_from_0_to_1(rekognition):
    labels = RekognitionAnalyzer().analyze(webp_bytes(), content_type="image/webp")

    assert labels, "moto answers DetectLabels with its canned labels"
    assert all(0 < label.confidence <= 1 for label in labels)
    # moto's canned answer: a mobile phone, 99.9 % sure.
    assert labels[0].name == "Mobile Phone" and labels[0].confidence == pytest.approx(0.999, abs=0.01)


def test_an_unreachable_endpoint_is_a_retryable_error(settings, monkeypatch):
    for name, value in aws_env("http://127.0.0.1:1").items():
        monkeypatch.setenv(name, value)
    settings.AWS_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    settings.ANALYSIS_TIMEOUT = 2

    with pytest.raises(AnalysisError) as caught:
        RekognitionAnalyzer().analyze(webp_bytes(), content_type="image/webp")

    assert not caught.value.permanent
    assert "DetectLabels" in caught.value.message


def test_formats_rekognition_cannot_read_are_sent_as_jpeg():
    sent = sendable(webp_bytes(), "image/webp", max_bytes=5_000_000)

    assert sent.startswith(b"\xff\xd8")  # JPEG
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, "PNG")
    assert sendable(png.getvalue(), "image/png", max_bytes=5_000_000) == png.getvalue()
