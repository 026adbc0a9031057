"""The rekognition moderation provider, with botocore's Stubber (moto does not implement DetectModerationLabels)."""

from __future__ import annotations

import io

import boto3
import pytest
from botocore.stub import ANY, Stubber
from PIL import Image

from images.moderation import rekognition as module
from images.moderation.base import ModerationError
from images.moderation.rekognition import RekognitionModerator


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def stub(monkeypatch, settings):
    settings.MODERATION_MIN_CONFIDENCE = 60
    client = boto3.client("rekognition", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    monkeypatch.setattr(module, "rekognition_client", lambda: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_moderation_labels_hold_the_image_for_review_by_top_level_category(stub):
    stub.add_response(
        "detect_moderation_labels",
        {
            "ModerationLabels": [
                {"Name": "Explicit Nudity", "ParentName": "", "Confidence": 97.5, "TaxonomyLevel": 1},
                {"Name": "Exposed Male Genitalia", "ParentName": "Explicit Nudity", "Confidence": 95.0,
                 "TaxonomyLevel": 2},
                {"Name": "Graphic Violence", "ParentName": "Violence", "Confidence": 71.0, "TaxonomyLevel": 2},
            ]
        },
        {"Image": {"Bytes": ANY}, "MinConfidence": 60.0},
    )  # fmt: skip

    verdict = RekognitionModerator().check_image(png(), content_type="image/png")

    assert verdict.action == "review"
    assert verdict.categories == ("Explicit Nudity", "Violence")
    assert verdict.scores == {"Explicit Nudity": pytest.approx(0.975), "Violence": pytest.approx(0.71)}


def test_no_moderation_labels_is_allowed(stub):
    stub.add_response("detect_moderation_labels", {"ModerationLabels": []}, {"Image": {"Bytes": ANY},
                                                                             "MinConfidence": 60.0})  # fmt: skip

    assert RekognitionModerator().check_image(png(), content_type="image/png").action == "allow"


def test_an_aws_error_is_a_moderation_error(stub):
    stub.add_client_error("detect_moderation_labels", service_error_code="ThrottlingException", http_status_code=400)

    with pytest.raises(ModerationError, match="ThrottlingException"):
        RekognitionModerator().check_image(png(), content_type="image/png")


def test_prompts_pass_rekognition_has_no_text_moderation():
    assert RekognitionModerator().check_text("anything").action == "allow"
