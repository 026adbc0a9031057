"""The process_image task: an upload becomes servable (derivatives, no GPS), or failed with nothing served."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from images.models import Image
from images.services import uploads
from images.storage import image_key, read_bytes
from images.tasks import process_image
from tests.images.test_uploads import GPS_IFD, jpeg_bytes, png_bytes, upload_file

URL = "/api/v1/images"


def upload(api, name: str, data: bytes, content_type: str) -> Image:
    response = api.post(URL, {"files": [upload_file(name, data, content_type)]}, format="multipart")
    assert response.status_code == 201, response.json()
    return Image.objects.get(pk=response.json()["images"][0]["id"])


def run(image: Image, django_capture_on_commit_callbacks) -> str:
    with django_capture_on_commit_callbacks(execute=True):
        outcome = process_image.apply(args=[str(image.pk)]).get()
    image.refresh_from_db()
    return outcome


def test_it_makes_an_upload_servable_and_drops_the_raw_file(api, user, django_capture_on_commit_callbacks):
    image = upload(api, "photo.jpg", jpeg_bytes((1600, 1200)), "image/jpeg")
    raw_key = image.storage_key
    assert run(image, django_capture_on_commit_callbacks) == "ready"
    assert image.processing == "ready" and image.processing_error == ""
    assert image.storage_key == image_key(user_id=user.pk, image_id=image.pk, name="original.jpg")
    assert not default_storage.exists(raw_key)
    assert {"thumb_256", "thumb_768", "webp"} <= set(image.variants)
    for key in image.storage_keys():
        assert default_storage.exists(key)
    thumb = image.variants["thumb_256"]
    assert max(thumb["width"], thumb["height"]) == 256
    assert (image.width, image.height) == (1600, 1200)
    body = api.get(f"{URL}/{image.pk}").json()
    assert body["url"] and body["thumbnail_url"] and body["variants"]["webp"]["url"]


def test_served_files_of_a_photo_with_gps_carry_no_gps(api, user, django_capture_on_commit_callbacks):
    original = jpeg_bytes(gps=True)
    assert GPS_IFD in PILImage.open(io.BytesIO(original)).getexif()  # the test photo does have GPS
    image = upload(api, "gps.jpg", original, "image/jpeg")
    assert run(image, django_capture_on_commit_callbacks) == "ready"
    for key in image.storage_keys():
        served = PILImage.open(io.BytesIO(read_bytes(key)))
        exif = served.getexif()
        assert GPS_IFD not in exif, key
        assert not exif.get_ifd(GPS_IFD), key
        assert b"GPS" not in (served.info.get("exif") or b""), key
    assert "GPSInfo" not in image.exif and str(GPS_IFD) not in image.exif
    assert not any("gps" in str(name).lower() for name in image.exif)


def test_a_file_that_cannot_be_decoded_fails_with_nothing_served(api, django_capture_on_commit_callbacks):
    image = upload(api, "a.png", png_bytes(), "image/png")
    default_storage.delete(image.storage_key)
    default_storage.save(image.storage_key, io.BytesIO(b"not an image any more"))
    assert run(image, django_capture_on_commit_callbacks) == "failed"
    assert image.processing == "failed"
    assert image.processing_error.startswith("not_an_image")
    assert image.variants == {}
    body = api.get(f"{URL}/{image.pk}").json()
    assert body["processing"] == "failed" and body["url"] is None and body["variants"] == {}
    assert api.get(f"{URL}/{image.pk}/download").status_code == 409


def test_a_second_run_changes_nothing(api, django_capture_on_commit_callbacks):
    image = upload(api, "a.png", png_bytes(), "image/png")
    run(image, django_capture_on_commit_callbacks)
    before = (image.storage_key, image.variants, image.updated_at)
    assert run(image, django_capture_on_commit_callbacks) == "ready"
    assert (image.storage_key, image.variants, image.updated_at) == before


def test_an_image_deleted_while_it_was_processed_leaves_no_files(api, media_root, monkeypatch):
    image = upload(api, "a.png", png_bytes(), "image/png")
    real_derive = uploads.derive_image

    def derive_then_lose_the_row(data: bytes):
        derived = real_derive(data)
        Image.objects.filter(pk=image.pk).delete()  # the owner deletes it meanwhile
        return derived

    monkeypatch.setattr(uploads, "derive_image", derive_then_lose_the_row)
    assert uploads.image_process(image_id=str(image.pk)) == "missing"
    leftovers = [p.name for p in media_root.rglob("*") if p.is_file()]
    assert leftovers == ["upload.png"]  # only the raw upload, which the row's delete removes on commit


def test_storage_errors_are_retried_then_the_image_is_failed(api, monkeypatch):
    image = upload(api, "a.png", png_bytes(), "image/png")
    attempts = []

    def unreachable(key: str) -> bytes:
        attempts.append(key)
        raise OSError("storage unreachable")

    monkeypatch.setattr(uploads, "read_bytes", unreachable)
    # Eager retries run inline; the countdown is not waited for.
    result = process_image.apply(args=[str(image.pk)], retries=process_image.max_retries)
    assert result.get() == "failed"
    image.refresh_from_db()
    assert image.processing == "failed" and "storage unreachable" in image.processing_error
    assert attempts == [image.storage_key]


def test_a_transient_error_is_retried(api, monkeypatch):
    image = upload(api, "a.png", png_bytes(), "image/png")
    monkeypatch.setattr(uploads, "read_bytes", lambda key: (_ for _ in ()).throw(OSError("blip")))
    retried = []
    monkeypatch.setattr(process_image, "retry", lambda **kwargs: retried.append(kwargs) or RuntimeError("retry"))
    with pytest.raises(RuntimeError, match="retry"):
        process_image.apply(args=[str(image.pk)], throw=True).get()
    assert retried and retried[0]["countdown"] == 5
    image.refresh_from_db()
    assert image.processing == "pending"


def test_a_missing_image_is_left_alone(db):
    assert uploads.image_process(image_id="00000000-0000-0000-0000-000000000000") == "missing"
