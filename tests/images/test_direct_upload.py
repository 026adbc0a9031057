"""Direct uploads on local storage: POST /images/upload-url, the signed PUT, POST /images/{id}/complete, expiry."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from images.models import Image
from images.services.retention import upload_staging_sweep
from images.services.uploads import direct_uploads_expire
from images.storage import image_key
from images.tasks import sweep_upload_staging
from tests.images.factories import ImageFactory
from tests.images.test_uploads import forbid_decoding, jpeg_bytes, png_bytes, png_of_zeros

URL = "/api/v1/images"


def start(api, *, filename: str = "cat.png", content_type: str = "image/png", size: int = 1000) -> dict:
    response = api.post(
        f"{URL}/upload-url", {"filename": filename, "content_type": content_type, "bytes": size}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def put(client, target: dict, data: bytes, content_type: str | None = None):
    url = urlsplit(target["url"])
    assert url.scheme == "http" and url.netloc == "testserver"
    return client.put(
        f"{url.path}?{url.query}", data=data, content_type=content_type or target["headers"]["Content-Type"]
    )


def test_upload_url_creates_an_awaiting_row_and_a_signed_put(api, user):
    body = start(api, size=1234)
    assert set(body) == {"image_id", "upload", "expires_in"}
    assert body["upload"]["method"] == "PUT"
    assert body["upload"]["headers"] == {"Content-Type": "image/png"}
    assert body["expires_in"] > 0
    assert {"expires", "signature"} <= set(parse_qs(urlsplit(body["upload"]["url"]).query))
    image = Image.objects.get(pk=body["image_id"])
    assert image.user == user and image.processing == "awaiting_upload"
    assert image.storage_key.startswith(f"uploads/{user.pk}/{image.pk}/")  # a staging key of this attempt
    assert start(api)["image_id"] != body["image_id"]
    assert image.original_filename == "cat.png" and image.bytes == 1234


def test_the_whole_flow_ends_in_a_pending_image_that_is_then_listed(
    api, client, media_root, django_capture_on_commit_callbacks
):
    data = jpeg_bytes()
    body = start(api, filename="photo.jpg", content_type="image/jpeg", size=len(data))
    assert api.get(URL).json()["results"] == []  # not listed while awaiting its file
    uploaded = put(client, body["upload"], data)
    assert uploaded.status_code == 200, uploaded.json()
    staging = Image.objects.get(pk=body["image_id"]).storage_key
    assert (media_root / staging).read_bytes() == data
    with django_capture_on_commit_callbacks() as callbacks:
        completed = api.post(f"{URL}/{body['image_id']}/complete")
    assert completed.status_code == 202, completed.json()
    assert len(callbacks) == 2  # after the commit: the staging file deleted, processing queued
    image = Image.objects.get(pk=body["image_id"])
    assert image.storage_key == image_key(user_id=image.user_id, image_id=image.pk, name="upload.jpg")
    assert (media_root / image.storage_key).read_bytes() == data
    item = completed.json()
    assert item["processing"] == "pending" and item["format"] == "JPEG" and item["width"] == 640
    assert item["bytes"] == len(data) and item["url"] is None
    assert [i["id"] for i in api.get(URL).json()["results"]] == [body["image_id"]]

    with django_capture_on_commit_callbacks() as callbacks:
        again = api.post(f"{URL}/{body['image_id']}/complete")
    assert again.status_code == 200 and again.json()["id"] == body["image_id"]
    assert callbacks == []  # idempotent: nothing queued twice


def test_complete_without_an_upload_is_409(api):
    body = start(api)
    response = api.post(f"{URL}/{body['image_id']}/complete")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "upload_missing"
    assert Image.objects.get(pk=body["image_id"]).processing == "awaiting_upload"


def test_complete_of_another_users_upload_is_404(api, other_user):
    image = Image.objects.create(
        user=other_user, source="uploaded", storage_key="images/x/y/upload.png", processing="awaiting_upload"
    )
    assert api.post(f"{URL}/{image.pk}/complete").status_code == 404


def test_complete_refuses_an_uploaded_file_that_is_not_an_image_and_deletes_it(api, client):
    body = start(api)
    assert put(client, body["upload"], b"MZ\x90\x00 this is a windows program").status_code == 200
    key = Image.objects.get(pk=body["image_id"]).storage_key
    response = api.post(f"{URL}/{body['image_id']}/complete")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_an_image"
    assert "cat.png" in response.json()["error"]["message"]
    assert not default_storage.exists(key)  # the client may upload again
    assert Image.objects.get(pk=body["image_id"]).processing == "awaiting_upload"


def test_complete_refuses_a_file_grown_past_the_limit(api, settings):
    body = start(api)
    image = Image.objects.get(pk=body["image_id"])
    settings.MAX_UPLOAD_BYTES = 1024
    default_storage.save(image.storage_key, ContentFile(jpeg_bytes()))  # as if written straight to storage
    response = api.post(f"{URL}/{body['image_id']}/complete")
    assert response.status_code == 413
    assert not default_storage.exists(image.storage_key)


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"filename": "a.svg", "content_type": "image/svg+xml", "bytes": 10}, "content_type", 400),
        ({"filename": "a.exe", "content_type": "application/octet-stream", "bytes": 10}, "content_type", 400),
        ({"filename": "a.png", "content_type": "image/png", "bytes": 0}, "bytes", 400),
        ({"filename": "a.png", "content_type": "image/png", "bytes": 10**12}, "bytes", 413),
        ({"filename": "a.png", "content_type": "image/png"}, "bytes", 400),
        ({"content_type": "image/png", "bytes": 10}, "filename", 400),
    ],
)
def test_upload_url_refuses_bad_requests(api, body, field, status):
    response = api.post(f"{URL}/upload-url", body, format="json")
    assert response.status_code == status
    assert response.json()["error"]["field"] == field
    assert not Image.objects.exists()


def test_a_tampered_or_expired_upload_url_is_refused(api, client, media_root):
    body = start(api)
    url = urlsplit(body["upload"]["url"])
    query = parse_qs(url.query)
    tampered = f"{url.path}?{urlencode({'expires': query['expires'][0], 'signature': '0' * 64})}"
    assert client.put(tampered, data=png_bytes(), content_type="image/png").status_code == 403
    expired = int(time.time()) - 10
    from images.services.uploads import upload_signature

    image = Image.objects.get(pk=body["image_id"])
    old = upload_signature(image_id=image.pk, key=image.storage_key, expires=expired)
    response = client.put(
        f"{url.path}?{urlencode({'expires': expired, 'signature': old})}", data=png_bytes(), content_type="image/png"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_signature"
    # A URL signed for one image does not open another.
    other = start(api)
    other_path = urlsplit(other["upload"]["url"]).path
    assert client.put(f"{other_path}?{url.query}", data=png_bytes(), content_type="image/png").status_code == 403
    assert not any(path.is_file() for path in media_root.rglob("*"))


def test_the_put_enforces_the_size_limit_and_the_content_type(api, client, settings, media_root):
    settings.MAX_UPLOAD_BYTES = 2048
    body = start(api, size=100)
    too_big = put(client, body["upload"], b"\x89PNG" + b"\x00" * 4096)
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "file_too_large"
    wrong_type = put(client, body["upload"], png_bytes(), content_type="text/html")
    assert wrong_type.status_code == 400
    assert wrong_type.json()["error"]["field"] == "Content-Type"
    assert not default_storage.exists(Image.objects.get(pk=body["image_id"]).storage_key)


def test_only_put_is_accepted_and_a_completed_upload_cannot_be_overwritten(api, client):
    body = start(api)
    url = urlsplit(body["upload"]["url"])
    assert client.get(f"{url.path}?{url.query}").status_code == 405
    assert put(client, body["upload"], png_bytes()).status_code == 200
    assert api.post(f"{URL}/{body['image_id']}/complete").status_code == 202
    again = put(client, body["upload"], png_bytes((10, 10)))
    assert again.status_code == 403  # the URL was signed for the staging key, which the image has left
    assert again.json()["error"]["code"] == "invalid_signature"


def test_expiry_deletes_old_uncompleted_uploads_and_their_files(api, client, user):
    stale, fresh = start(api), start(api)
    assert put(client, stale["upload"], png_bytes()).status_code == 200
    completed = start(api)
    put(client, completed["upload"], png_bytes())
    api.post(f"{URL}/{completed['image_id']}/complete")
    hour_ago = timezone.now() - timedelta(hours=1)
    Image.objects.filter(pk__in=[stale["image_id"], completed["image_id"]]).update(created_at=hour_ago)
    stale_key = Image.objects.get(pk=stale["image_id"]).storage_key

    assert direct_uploads_expire(older_than=timedelta(minutes=30)) == 1
    assert not Image.objects.filter(pk=stale["image_id"]).exists()
    assert not default_storage.exists(stale_key)
    assert Image.objects.filter(pk__in=[fresh["image_id"], completed["image_id"]]).count() == 2
    assert direct_uploads_expire(older_than=timezone.now() + timedelta(seconds=1)) == 1  # a cutoff time works too
    assert not Image.objects.filter(pk=fresh["image_id"]).exists()


def test_an_awaiting_upload_can_be_read_and_deleted_by_its_owner(api, django_capture_on_commit_callbacks):
    body = start(api)
    assert api.get(f"{URL}/{body['image_id']}").json()["processing"] == "awaiting_upload"
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"{URL}/{body['image_id']}").status_code == 204
    assert not Image.objects.exists()


def test_the_body_is_cut_off_at_the_limit_even_when_content_length_is_absent(api, settings):
    import io

    from imagegen.errors import TooLarge
    from images.services.uploads import direct_upload_receive

    settings.MAX_UPLOAD_BYTES = 100_000
    body = start(api)
    with pytest.raises(TooLarge) as refused:
        direct_upload_receive(
            image_id=body["image_id"], stream=io.BytesIO(b"x" * 100_001), content_type="image/png", length=None
        )
    assert refused.value.code == "file_too_large"
    assert not default_storage.exists(Image.objects.get(pk=body["image_id"]).storage_key)


# --- Staging keys, headers only, quotas -----------------------------------------------------


def test_complete_moves_the_file_off_its_staging_key_and_the_sweep_removes_later_strays(
    api, client, media_root, django_capture_on_commit_callbacks
):
    first = start(api)
    put(client, first["upload"], png_bytes())
    staging = Image.objects.get(pk=first["image_id"]).storage_key
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"{URL}/{first['image_id']}/complete").status_code == 202
    assert not default_storage.exists(staging)
    awaiting = start(api)
    put(client, awaiting["upload"], png_bytes())
    awaiting_key = Image.objects.get(pk=awaiting["image_id"]).storage_key
    default_storage.save(staging, ContentFile(png_bytes((9, 9))))  # written by the old URL after all

    assert sweep_upload_staging() == 1  # the periodic task
    assert not default_storage.exists(staging)
    assert default_storage.exists(awaiting_key)  # its client may still complete it
    assert default_storage.exists(Image.objects.get(pk=first["image_id"]).storage_key)


def test_the_sweep_has_nothing_to_do_before_the_first_direct_upload(db, media_root):
    assert upload_staging_sweep() == 0


def test_complete_reads_headers_only_and_never_decodes_the_pixels(api, client, monkeypatch):
    data = png_of_zeros()
    body = start(api, filename="huge.png", size=len(data))
    assert put(client, body["upload"], data).status_code == 200
    forbid_decoding(monkeypatch)
    completed = api.post(f"{URL}/{body['image_id']}/complete")
    assert completed.status_code == 202, completed.json()
    assert (completed.json()["width"], completed.json()["height"]) == (7071, 7071)


def test_upload_url_is_refused_past_the_daily_upload_quota(api, settings):
    settings.TIER_UPLOAD_QUOTAS = {"free": 2}
    start(api)
    start(api)  # never completed: an upload URL handed out counts
    response = api.post(
        f"{URL}/upload-url", {"filename": "a.png", "content_type": "image/png", "bytes": 10}, format="json"
    )
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "upload_quota_exceeded"
    assert int(response["Retry-After"]) > 0
    assert Image.objects.count() == 2


def test_upload_url_is_refused_when_the_announced_size_does_not_fit_the_storage_quota(api, user, settings):
    settings.TIER_STORAGE_QUOTAS = {"free": 5000}
    ImageFactory(user=user, bytes=4000)
    start(api, size=1000)  # exactly fits, and is reserved until completed or expired
    response = api.post(
        f"{URL}/upload-url", {"filename": "a.png", "content_type": "image/png", "bytes": 1}, format="json"
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "storage_quota_exceeded"
    assert response.json()["error"]["field"] == "bytes"


def test_complete_checks_the_storage_quota_again_with_the_real_size(api, client, user, settings):
    data = jpeg_bytes()
    settings.TIER_STORAGE_QUOTAS = {"free": 1000 + len(data) - 1}
    ImageFactory(user=user, bytes=1000)
    body = start(api, filename="photo.jpg", content_type="image/jpeg", size=100)  # announces less than it sends
    assert put(client, body["upload"], data).status_code == 200
    staging = Image.objects.get(pk=body["image_id"]).storage_key
    response = api.post(f"{URL}/{body['image_id']}/complete")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "storage_quota_exceeded"
    assert not default_storage.exists(staging)
    assert Image.objects.get(pk=body["image_id"]).processing == "awaiting_upload"

    settings.TIER_STORAGE_QUOTAS = {"free": 1000 + len(data)}  # its own announced size is not counted twice
    assert put(client, body["upload"], data).status_code == 200
    assert api.post(f"{URL}/{body['image_id']}/complete").status_code == 202
