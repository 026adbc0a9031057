"""PostgreSQL (in CI) + SQS + S3 through moto's server: the production shape over the real wire protocols."""

from __future__ import annotations

import io
import urllib.request

import pytest
from PIL import Image as PILImage
from rest_framework_simplejwt.tokens import RefreshToken

from images.storage import image_key
from tests.support.http import call
from tests.support.moto import aws_env, boto3_client
from tests.support.processes import celery_worker, child_env, web_server
from tests.support.waiting import poll

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BUCKET = "imagegen-e2e"
QUEUE = "imagegen-e2e"


def test_a_generation_runs_over_sqs_and_lands_in_s3_with_a_working_presigned_url(moto_url, user, tmp_path):
    s3 = boto3_client("s3", moto_url)
    s3.create_bucket(Bucket=BUCKET)
    sqs = boto3_client("sqs", moto_url)
    sqs.create_queue(QueueName=QUEUE)
    env = child_env(
        **aws_env(moto_url),
        CELERY_BROKER_URL="sqs://",
        SQS_QUEUE_NAME=QUEUE,
        IMAGE_S3_BUCKET=BUCKET,
        IMAGEGEN_VAR_DIR=str(tmp_path),
    )
    token = str(RefreshToken.for_user(user).access_token)
    with celery_worker(tmp_path / "worker.log", env=env), web_server(tmp_path / "web.log", env=env) as base:
        _, body = call("POST", f"{base}/api/v1/generations", token,
                            {"prompt": "teal lighthouse, calm sea", "size": "512x512", "seed": 5},
                            Prefer="wait=60")  # fmt: skip
        url = f"{base}/api/v1/generations/{body['id']}"
        body = poll(lambda: call("GET", url, token)[1], until=lambda b: b["status"] not in ("queued", "running"),
                    timeout=60, interval=0.5)  # fmt: skip
    assert body["status"] == "succeeded", (body, (tmp_path / "worker.log").read_text()[-4000:])
    image = body["images"][0]
    key = image_key(user_id=user.pk, image_id=image["id"], name="original.png")
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == image["bytes"]
    assert image["url"].startswith(f"{moto_url}/{BUCKET}/{key}?")
    assert "X-Amz-Signature=" in image["url"] and "X-Amz-Expires=" in image["url"]
    with urllib.request.urlopen(image["url"], timeout=10) as response:
        png = PILImage.open(io.BytesIO(response.read()))
        assert png.format == "PNG" and png.size == (512, 512)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=key.rsplit("/", 1)[0] + "/")
    assert {o["Key"].rsplit("/", 1)[1] for o in listed["Contents"]} == {
        "original.png", "thumb_256.webp", "thumb_768.webp", "full.webp"}  # fmt: skip
