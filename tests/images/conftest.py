"""Fixtures for the images app's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from tests.support.moto import aws_env, boto3_client, moto_server, reset_moto

BUCKET = "imagegen-test-images"


@pytest.fixture
def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture(autouse=True)
def media_root(own_media_folder):
    """Each test stores files in its own folder."""
    return own_media_folder


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A moto server (S3, SQS) for the test module that asks for it; its endpoint URL."""
    with moto_server() as url:
        yield url


@pytest.fixture
def s3(moto_url, settings, monkeypatch, media_root):
    """Settings as ``IMAGE_S3_BUCKET`` makes them, pointed at moto; yields a boto3 client on the bucket."""
    reset_moto(moto_url)
    for name, value in aws_env(moto_url).items():
        monkeypatch.setenv(name, value)
    client = boto3_client("s3", moto_url)
    client.create_bucket(Bucket=BUCKET)
    settings.IMAGE_S3_BUCKET = BUCKET
    settings.AWS_ENDPOINT_URL = moto_url
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "region_name": "us-east-1",
                "endpoint_url": moto_url,
                "addressing_style": "path",
                "signature_version": "s3v4",
                "default_acl": None,
                "querystring_auth": True,
                "querystring_expire": 600,
                "file_overwrite": True,
            },
        },
    }
    return client


def keys_in(client) -> set[str]:
    return {item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


@pytest.fixture
def sent_jobs(monkeypatch) -> list[str]:
    """Generation ids sent to the broker, in order, instead of sending them."""
    ids: list[str] = []
    monkeypatch.setattr("images.tasks.run_generation.delay", lambda generation_id: ids.append(generation_id))
    return ids
