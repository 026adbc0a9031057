"""The images API on S3 (a real moto server): uploads land in the bucket, direct uploads, downloads, deletes."""

from __future__ import annotations

import io

import requests
from PIL import Image as PILImage

from images.models import Image
from images.services.retention import upload_staging_sweep
from images.services.uploads import direct_uploads_expire
from tests.images.conftest import BUCKET, keys_in
from tests.images.test_uploads import jpeg_bytes, png_bytes, upload_file

URL = "/api/v1/images"


def process(image_id: str, django_capture_on_commit_callbacks) -> Image:
    from images.tasks import process_image

    with django_capture_on_commit_callbacks(execute=True):
        assert process_image.apply(args=[image_id]).get() == "ready"
    return Image.objects.get(pk=image_id)


def test_a_multipart_upload_lands_in_the_bucket_and_is_processed_there(api, s3, django_capture_on_commit_callbacks):
    data = jpeg_bytes()
    response = api.post(URL, {"files": [upload_file("photo.jpg", data, "image/jpeg")]}, format="multipart")
    assert response.status_code == 201, response.json()
    image = Image.objects.get(pk=response.json()["images"][0]["id"])
    assert keys_in(s3) == {image.storage_key}
    assert s3.get_object(Bucket=BUCKET, Key=image.storage_key)["Body"].read() == data

    image = process(str(image.pk), django_capture_on_commit_callbacks)
    assert keys_in(s3) == set(image.storage_keys())  # the raw upload is gone, derivatives are there
    assert image.storage_key.endswith("/original.jpg")
    url = api.get(f"{URL}/{image.pk}").json()["url"]
    assert url.startswith(s3.meta.endpoint_url) and "X-Amz-Signature" in url
    assert requests.get(url, timeout=10).content[:3] == b"\xff\xd8\xff"


def test_a_presigned_direct_upload_then_complete(api, s3, django_capture_on_commit_callbacks):
    data = png_bytes((300, 200))
    response = api.post(
        f"{URL}/upload-url", {"filename": "shot.png", "content_type": "image/png", "bytes": len(data)}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    upload = body["upload"]
    assert upload["method"] == "POST" and upload["url"].startswith(s3.meta.endpoint_url)
    assert upload["fields"]["Content-Type"] == "image/png" and upload["fields"]["key"].startswith("uploads/")

    missing = api.post(f"{URL}/{body['image_id']}/complete")
    assert missing.status_code == 409 and missing.json()["error"]["code"] == "upload_missing"

    sent = requests.post(upload["url"], data=upload["fields"], files={"file": ("shot.png", data)}, timeout=10)
    assert sent.status_code in (200, 201, 204), sent.text
    key = upload["fields"]["key"]
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data

    with django_capture_on_commit_callbacks(execute=True):
        completed = api.post(f"{URL}/{body['image_id']}/complete")
    assert completed.status_code == 202, completed.json()
    assert completed.json()["width"] == 300 and completed.json()["processing"] == "pending"
    assert keys_in(s3) == {Image.objects.get(pk=body["image_id"]).storage_key}  # moved off the staging key
    assert api.post(f"{URL}/{body['image_id']}/complete").status_code == 200

    image = process(body["image_id"], django_capture_on_commit_callbacks)
    assert keys_in(s3) == set(image.storage_keys())


def test_a_direct_upload_of_something_else_is_refused_at_complete(api, s3):
    body = api.post(
        f"{URL}/upload-url", {"filename": "x.png", "content_type": "image/png", "bytes": 100}, format="json"
    ).json()
    upload = body["upload"]
    sent = requests.post(
        upload["url"], data=upload["fields"], files={"file": ("x.png", b"<html>hi</html>")}, timeout=10
    )
    assert sent.status_code in (200, 201, 204)
    response = api.post(f"{URL}/{body['image_id']}/complete")
    assert response.status_code == 400 and response.json()["error"]["code"] == "not_an_image"
    assert keys_in(s3) == set()


def test_download_redirects_to_a_presigned_url_that_serves_the_bytes(api, s3, django_capture_on_commit_callbacks):
    response = api.post(URL, {"files": [upload_file("cat.png", png_bytes())], "title": "My cat"}, format="multipart")
    image = process(response.json()["images"][0]["id"], django_capture_on_commit_callbacks)
    redirect = api.get(f"{URL}/{image.pk}/download")
    assert redirect.status_code == 302
    location = redirect["Location"]
    assert location.startswith(s3.meta.endpoint_url) and "X-Amz-Signature" in location
    assert "response-content-disposition" in location
    served = requests.get(location, timeout=10)
    assert served.status_code == 200
    assert served.content == s3.get_object(Bucket=BUCKET, Key=image.storage_key)["Body"].read()
    assert served.headers["Content-Disposition"] == 'attachment; filename="My-cat.png"'

    thumb = api.get(f"{URL}/{image.pk}/download", {"variant": "thumb_256"})
    assert requests.get(thumb["Location"], timeout=10).content[:4] == b"RIFF"  # a WebP


def test_delete_removes_every_object(api, s3, django_capture_on_commit_callbacks):
    response = api.post(URL, {"files": [upload_file("cat.png", png_bytes())]}, format="multipart")
    image = process(response.json()["images"][0]["id"], django_capture_on_commit_callbacks)
    assert len(keys_in(s3)) == len(image.storage_keys()) >= 4
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"{URL}/{image.pk}").status_code == 204
    assert keys_in(s3) == set()


def test_expiry_deletes_objects_sent_to_uncompleted_uploads(api, s3):
    body = api.post(
        f"{URL}/upload-url", {"filename": "x.png", "content_type": "image/png", "bytes": 100}, format="json"
    ).json()
    upload = body["upload"]
    requests.post(upload["url"], data=upload["fields"], files={"file": ("x.png", png_bytes())}, timeout=10)
    assert keys_in(s3) == {upload["fields"]["key"]}
    from django.utils import timezone

    assert direct_uploads_expire(older_than=timezone.now()) == 1
    assert keys_in(s3) == set()


def test_storing_a_file_is_one_put_that_replaces_what_was_there(s3):
    from django.core.files.storage import default_storage

    from images.storage import store_bytes

    calls: list[str] = []
    events = default_storage.connection.meta.client.meta.events
    events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    key = "images/u/i/original.png"

    store_bytes(key, b"first")
    store_bytes(key, b"second")

    assert calls == ["PutObject", "PutObject"]  # no HEAD requests first
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"second"
    assert keys_in(s3) == {key}


def test_after_complete_the_presigned_upload_changes_nothing_served_and_the_sweep_removes_it(
    api, s3, django_capture_on_commit_callbacks
):
    data = png_bytes((300, 200), color=(10, 200, 10))
    body = api.post(
        f"{URL}/upload-url", {"filename": "a.png", "content_type": "image/png", "bytes": len(data)}, format="json"
    ).json()
    upload = body["upload"]
    requests.post(upload["url"], data=upload["fields"], files={"file": ("a.png", data)}, timeout=10)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"{URL}/{body['image_id']}/complete").status_code == 202

    other = png_bytes((300, 200), color=(200, 10, 10))
    again = requests.post(upload["url"], data=upload["fields"], files={"file": ("a.png", other)}, timeout=10)
    assert again.status_code in (200, 201, 204)  # S3 takes it (the URL has not expired), but it goes nowhere
    image = process(body["image_id"], django_capture_on_commit_callbacks)
    served = requests.get(api.get(f"{URL}/{image.pk}").json()["url"], timeout=10).content
    assert PILImage.open(io.BytesIO(served)).getpixel((0, 0)) == (10, 200, 10)
    assert keys_in(s3) == set(image.storage_keys()) | {upload["fields"]["key"]}

    assert upload_staging_sweep() == 1
    assert keys_in(s3) == set(image.storage_keys())
