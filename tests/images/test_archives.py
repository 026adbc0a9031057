"""ZIP downloads: a selection, an album, a share link; names, the size cap, S3, and constant memory."""

from __future__ import annotations

import io
import os
import tracemalloc
import uuid
import zipfile

import pytest
from rest_framework.test import APIClient

from images.models import Album, ShareLink
from images.storage import store_bytes
from tests.images.factories import ImageFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/images/download-zip"


def stored(user, data: bytes | None = None, **fields: object):
    """An image whose original (and WebP) really are in storage."""
    data = os.urandom(2000) if data is None else data
    image = ImageFactory(user=user, bytes=len(data), **fields)
    store_bytes(image.storage_key, data)
    webp_key = image.storage_key.replace("original.png", "display.webp")
    store_bytes(webp_key, b"RIFF" + data[:100])
    image.variants = {**image.variants, "webp": {"key": webp_key, "bytes": 104, "format": "WEBP",
                                                  "content_type": "image/webp"}}  # fmt: skip
    image.save()
    return image, data


def archive(response) -> zipfile.ZipFile:
    assert response.status_code == 200, getattr(response, "content", b"")[:300]
    assert response["Content-Type"] == "application/zip" and "attachment" in response["Content-Disposition"]
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_a_selection_downloads_with_named_and_numbered_entries(api, user):
    first, first_data = stored(user, title="Sunset")
    second, second_data = stored(user, title="Sunset")
    untitled, _ = stored(user)
    response = api.post(URL, {"ids": [str(first.pk), str(second.pk), str(untitled.pk)]}, format="json")
    zf = archive(response)
    assert zf.namelist() == ["Sunset.png", "Sunset-2.png", f"{untitled.pk}.png"]
    assert zf.read("Sunset.png") == first_data and zf.read("Sunset-2.png") == second_data
    assert zf.testzip() is None


def test_the_webp_variant_gives_webp_entries(api, user):
    image, data = stored(user, title="Wave")
    zf = archive(api.post(URL, {"ids": [str(image.pk)], "variant": "webp"}, format="json"))
    assert zf.namelist() == ["Wave.webp"] and zf.read("Wave.webp") == b"RIFF" + data[:100]


@pytest.mark.parametrize(("ids", "field"), [([], "ids"), ([str(uuid.uuid4()) for _ in range(501)], "ids")])
def test_zero_or_501_ids_are_a_400(api, ids, field):
    response = api.post(URL, {"ids": ids}, format="json")
    assert response.status_code == 400 and response.json()["error"]["field"] == field


def test_a_bad_variant_is_a_400(api, user):
    image, _ = stored(user)
    response = api.post(URL, {"ids": [str(image.pk)], "variant": "thumb_256"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["field"] == "variant"


def test_someone_elses_or_unknown_ids_are_404_named_and_nothing_is_sent(api, user, other_user):
    mine, _ = stored(user)
    theirs, _ = stored(other_user)
    unknown = uuid.uuid4()
    response = api.post(URL, {"ids": [str(mine.pk), str(theirs.pk), str(unknown)]}, format="json")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["field"] == "ids" and str(theirs.pk) in error["message"] and str(unknown) in error["message"]
    assert str(mine.pk) not in error["message"]


def test_over_the_cap_is_a_413_before_the_first_byte(api, user, settings):
    settings.ZIP_MAX_BYTES = 5000
    images = [stored(user)[0] for _ in range(3)]  # 6,000 bytes of files
    response = api.post(URL, {"ids": [str(image.pk) for image in images]}, format="json")
    assert response.status_code == 413 and response.json()["error"]["code"] == "zip_too_large"


def test_an_album_downloads_as_a_zip_named_after_it(api, user, other_user):
    album = Album.objects.create(user=user, title="Road trip")
    image, data = stored(user, title="Mile 1")
    album.images.add(image)
    response = api.get(f"/api/v1/albums/{album.pk}/download")
    assert 'filename="Road-trip.zip"' in response["Content-Disposition"]
    assert archive(response).read("Mile-1.png") == data
    theirs = Album.objects.create(user=other_user, title="Theirs")
    assert api.get(f"/api/v1/albums/{theirs.pk}/download").status_code == 404


def test_an_album_zip_takes_empty_variant_and_format_as_not_sent(api, user):
    # The schema says so (allowEmptyValue): a form's empty fields must not turn a download into a 400.
    album = Album.objects.create(user=user, title="Road trip")
    image, data = stored(user, title="Mile 1")
    album.images.add(image)
    response = api.get(f"/api/v1/albums/{album.pk}/download", {"variant": "", "format": ""})
    assert response.status_code == 200 and archive(response).read("Mile-1.png") == data
    refused = api.get(f"/api/v1/albums/{album.pk}/download", {"variant": "thumb"})
    assert refused.status_code == 400, refused.content


def test_a_share_link_offers_the_zip_only_when_it_allows_downloads(user):
    album = Album.objects.create(user=user, title="Shared")
    image, data = stored(user, title="One")
    album.images.add(image)
    open_link = ShareLink.objects.create(user=user, album=album, token="z" * 32)
    closed = ShareLink.objects.create(user=user, album=album, token="q" * 32, allow_download=False)
    client = APIClient()
    assert client.get(f"/api/v1/shared/{open_link.token}").json()["download_url"].endswith("/download")
    assert archive(client.get(f"/api/v1/shared/{open_link.token}/download")).read("One.png") == data
    refused = client.get(f"/api/v1/shared/{closed.token}/download")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "download_not_allowed"
    assert client.get(f"/api/v1/shared/{closed.token}").json()["download_url"] is None


def test_a_password_share_needs_its_password_for_the_zip_too(user):
    from django.contrib.auth.hashers import make_password

    image, _ = stored(user)
    link = ShareLink.objects.create(user=user, image=image, token="p" * 32, password_hash=make_password("pw"))
    client = APIClient()
    assert client.get(f"/api/v1/shared/{link.token}/download").status_code == 401
    assert client.get(f"/api/v1/shared/{link.token}/download", HTTP_X_SHARE_PASSWORD="pw").status_code == 200


def test_a_zip_of_many_images_streams_in_constant_memory(api, user):
    size = 512 * 1024
    images = [stored(user, os.urandom(size), title=f"big-{i}")[0] for i in range(40)]  # 20 MiB of files
    response = api.post(URL, {"ids": [str(image.pk) for image in images]}, format="json")
    assert response.status_code == 200
    tracemalloc.start()
    try:
        total = sum(len(chunk) for chunk in response.streaming_content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 40 * size
    assert peak < total / 10, f"peak {peak} bytes while streaming {total}"


def test_it_streams_from_s3_in_constant_memory(api, user, s3, tmp_path):
    from django.core.files.storage import default_storage

    from tests.images.conftest import BUCKET

    size = 1024 * 1024
    images = []
    for index in range(16):
        image = ImageFactory(user=user, bytes=size, title=f"s3-{index}")
        s3.put_object(Bucket=BUCKET, Key=image.storage_key, Body=os.urandom(size))
        images.append(image)
    response = api.post(URL, {"ids": [str(image.pk) for image in images]}, format="json")
    assert response.status_code == 200
    default_storage.connection.meta.client.head_bucket(Bucket=BUCKET)  # botocore's models load once, before
    path = tmp_path / "out.zip"
    tracemalloc.start()
    try:
        with path.open("wb") as out:
            for chunk in response.streaming_content:
                out.write(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    zf = zipfile.ZipFile(path)
    expected = s3.get_object(Bucket=BUCKET, Key=images[3].storage_key)["Body"].read()
    assert len(zf.namelist()) == 16 and zf.read("s3-3.png") == expected
    assert peak < path.stat().st_size / 10, f"peak {peak} bytes while streaming {path.stat().st_size}"
