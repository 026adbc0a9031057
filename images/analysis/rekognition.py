"""AWS Rekognition ``DetectLabels``: objects, scenes and concepts, with its own confidences.

The client honours ``AWS_ENDPOINT_URL`` (moto in the tests, a VPC endpoint in
production) and ``AWS_REGION``; credentials come from boto3's usual chain (the
task role on ECS).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from images.analysis.base import AnalysisError, Label, sendable

# Rekognition reads JPEG and PNG of at most 5 MB sent as bytes.
MAX_BYTES = 5 * 1024 * 1024


def rekognition_client() -> Any:
    """A boto3 Rekognition client with bounded timeouts and retries (a slow call only delays labels)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "rekognition",
        region_name=settings.AWS_REGION,
        endpoint_url=settings.AWS_ENDPOINT_URL or None,
        config=Config(
            connect_timeout=5,
            read_timeout=settings.ANALYSIS_TIMEOUT,
            retries={"max_attempts": 2, "mode": "standard"},
        ),
    )


def aws_error(exc: Exception, what: str) -> AnalysisError:
    """A botocore failure as an ``AnalysisError``: a bad image is permanent, the rest is retried."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        permanent = code in ("InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException")
        return AnalysisError(f"{what}: {code}: {exc}", permanent=permanent)
    return AnalysisError(f"{what}: {exc}")


class RekognitionAnalyzer:
    name = "rekognition"

    def analyze(self, data: bytes, *, content_type: str) -> list[Label]:
        """``DetectLabels`` with ``ANALYSIS_MAX_LABELS`` and ``ANALYSIS_MIN_CONFIDENCE``; confidences as 0..1."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = rekognition_client().detect_labels(
                Image={"Bytes": sendable(data, content_type, max_bytes=MAX_BYTES)},
                MaxLabels=settings.ANALYSIS_MAX_LABELS,
                MinConfidence=float(settings.ANALYSIS_MIN_CONFIDENCE),
            )
        except (BotoCoreError, ClientError) as exc:
            raise aws_error(exc, "DetectLabels") from exc
        labels = [
            Label(str(item["Name"]), min(1.0, float(item.get("Confidence", 0)) / 100))
            for item in answer.get("Labels", [])
            if item.get("Name")
        ]
        return sorted(labels, key=lambda label: -label.confidence)
