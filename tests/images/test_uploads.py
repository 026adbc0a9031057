"""POST /api/v1/images (multipart): what is accepted, and that a refused upload stores nothing.

The image builders at the top are shared by the other upload tests.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image as PILImage
from PIL import ImageFile

from images.models import Image, Tag
from images.services.quotas import day_start
from images.storage import image_key
from tests.images.factories import ImageFactory

URL = "/api/v1/images"
GPS_IFD = 0x8825


def png_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_bytes(size: tuple[int, int] = (640, 480), *, gps: bool = False) -> bytes:
    """A JPEG photo; with ``gps``, EXIF that says where it was taken (and with which camera)."""
    image = PILImage.new("RGB", size, (30, 120, 200))
    for x in range(0, size[0], 16):  # some detail, so it is not one flat colour
        image.paste((240, 200, 20), (x, 0, x + 8, size[1]))
    exif = PILImage.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0110] = "Model 1"  # Model
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (52.0, 22.0, 12.0), 3: "E", 4: (4.0, 53.0, 30.0)}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif)
    return buffer.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG claiming ``width`` x ``height`` pixels: one decode would take gigabytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + b"\x00" * (width // 8)  # filter byte + one 1-bit row
    idat = zlib.compress(row * 64, 9)  # the first rows only: enough to look like the start of an image
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


@functools.cache
def png_of_zeros(width: int = 7071, height: int = 7071) -> bytes:
    """A complete, valid RGBA PNG of transparent pixels: about 0.2 MB that decodes to ~190 MiB at 7071x7071."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + width * 4)  # filter byte + the row's pixels
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def forbid_decoding(monkeypatch) -> None:
    """Make any decode of pixels in this process fail the test."""

    def decode(self, *args, **kwargs):
        raise AssertionError("pixels were decoded in the web request")

    monkeypatch.setattr(ImageFile.ImageFile, "load", decode)
    monkeypatch.setattr(PILImage.Image, "load", decode)


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'


def upload_file(name: str, data: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def stored_files(media_root: Path) -> list[Path]:
    return [path for path in media_root.rglob("*") if path.is_file()] if media_root.exists() else []


def post(api, files: list, **fields):
    return api.post(URL, {"files": files, **fields}, format="multipart")


# --- Accepted -------------------------------------------------------------------------


def test_it_stores_uploads_pending_and_queues_their_processing(
    api, user, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(
            api,
            [upload_file("cat.png", png_bytes()), upload_file("photo.jpg", jpeg_bytes(), "image/jpeg")],
            title="Holiday",
            category="trips",
            tags="Beach, sun ",
            visibility="unlisted",
        )
    assert response.status_code == 201, response.json()
    images = response.json()["images"]
    assert len(images) == 2
    assert len(callbacks) == 2  # one process_image per image, after the commit
    by_format = {item["format"]: item for item in images}
    png, jpeg = by_format["PNG"], by_format["JPEG"]
    assert (png["width"], png["height"], png["content_type"]) == (64, 48, "image/png")
    assert (jpeg["width"], jpeg["height"], jpeg["content_type"]) == (640, 480, "image/jpeg")
    for item in images:
        assert item["source"] == "uploaded" and item["processing"] == "pending"
        assert item["title"] == "Holiday" and item["category"] == "trips" and item["visibility"] == "unlisted"
        assert item["tags"] == ["beach", "sun"]
        assert item["url"] is None  # the raw upload is never served
        row = Image.objects.get(pk=item["id"])
        assert row.user == user
        name = f"upload.{'png' if item['format'] == 'PNG' else 'jpg'}"
        assert row.storage_key == image_key(user_id=user.pk, image_id=row.pk, name=name)
        assert (media_root / row.storage_key).read_bytes()[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1")
        assert len(row.sha256) == 64 and row.bytes == (media_root / row.storage_key).stat().st_size
    assert Image.objects.get(pk=png["id"]).original_filename == "cat.png"


def test_tags_may_be_repeated_fields(api):
    response = post(api, [upload_file("a.png", png_bytes())], tags=["one", "Two,three", " one "])
    assert response.status_code == 201
    assert response.json()["images"][0]["tags"] == ["one", "three", "two"]
    assert set(Tag.objects.values_list("name", flat=True)) == {"one", "two", "three"}


def test_the_type_comes_from_the_content_not_the_name(api, media_root):
    response = post(api, [upload_file("really-a-png.gif", png_bytes(), "image/gif")])
    assert response.status_code == 201
    item = response.json()["images"][0]
    assert item["format"] == "PNG" and item["content_type"] == "image/png"
    assert Image.objects.get(pk=item["id"]).storage_key.endswith("/upload.png")


def test_twenty_files_are_accepted(api):
    response = post(api, [upload_file(f"{i}.png", png_bytes((8, 8))) for i in range(20)])
    assert response.status_code == 201
    assert Image.objects.count() == 20


# --- Refused: nothing stored ----------------------------------------------------------


def truncated_jpeg() -> bytes:
    data = jpeg_bytes()
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("name", "data", "content_type", "codes"),
    [
        ("notes.png", b"just some text, not an image\n" * 10, "image/png", {"not_an_image"}),
        ("setup.jpg", ELF, "image/jpeg", {"not_an_image"}),
        ("logo.svg", SVG, "image/svg+xml", {"unsupported_format"}),
        ("bomb.png", png_bomb(), "image/png", {"too_many_pixels"}),
    ],
)
def test_it_refuses_what_is_not_an_acceptable_image_and_stores_nothing(
    api, media_root, name, data, content_type, codes
):
    good = upload_file("good.png", png_bytes())
    response = post(api, [good, upload_file(name, data, content_type)])
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] in codes
    assert error["field"] == "files"
    assert name in error["message"]  # names the offending file
    assert Image.objects.count() == 0
    assert stored_files(media_root) == []


def test_a_file_over_the_byte_limit_is_413_and_nothing_is_stored(api, settings, media_root):
    settings.MAX_UPLOAD_BYTES = 2048
    big = jpeg_bytes((800, 600))
    assert len(big) > 2048
    response = post(api, [upload_file("small.png", png_bytes((8, 8))), upload_file("big.jpg", big, "image/jpeg")])
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    assert "big.jpg" in response.json()["error"]["message"]
    assert Image.objects.count() == 0 and stored_files(media_root) == []


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(api, settings):
    settings.MAX_UPLOAD_BYTES = 1024
    response = post(api, [upload_file(f"{i}.jpg", jpeg_bytes(), "image/jpeg") for i in range(3)])
    assert response.status_code == 413


def test_21_files_are_too_many(api, media_root):
    response = post(api, [upload_file(f"{i}.png", png_bytes((8, 8))) for i in range(21)])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_files"
    assert response.json()["error"]["field"] == "files"
    assert Image.objects.count() == 0 and stored_files(media_root) == []


def test_pixels_over_the_limit_are_refused(api, settings, media_root):
    settings.MAX_IMAGE_PIXELS = 10_000
    response = post(api, [upload_file("wide.png", png_bytes((200, 100)))])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_pixels"
    assert stored_files(media_root) == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "files"),
        ({"visibility": "secret"}, "visibility"),
        ({"title": "x" * 201}, "title"),
        ({"category": "x" * 65}, "category"),
        ({"tags": "x" * 65}, "tags"),
        ({"tags": ",".join(f"t{i}" for i in range(21))}, "tags"),
    ],
)
def test_it_refuses_bad_fields_and_stores_nothing(api, media_root, fields, field):
    files = [] if field == "files" else [upload_file("a.png", png_bytes())]
    response = api.post(URL, {"files": files, **fields} if files else fields, format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert Image.objects.count() == 0 and stored_files(media_root) == []


def test_an_empty_file_is_refused(api, media_root):
    response = post(api, [upload_file("empty.png", b"")])
    assert response.status_code == 400
    assert response.json()["error"]["field"].startswith("files")
    assert stored_files(media_root) == []


def test_a_json_body_is_415(api):
    response = api.post(URL, {"files": ["x"]}, format="json")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_files_already_stored_are_removed_when_a_later_write_fails(api, media_root, monkeypatch):
    from images.services import uploads

    real_store, calls = uploads.store_bytes, []

    def failing_second_store(key: str, data: bytes) -> None:
        calls.append(key)
        if len(calls) == 2:
            raise OSError("disk full")
        real_store(key, data)

    monkeypatch.setattr(uploads, "store_bytes", failing_second_store)
    with pytest.raises(OSError):
        post(api, [upload_file("a.png", png_bytes()), upload_file("b.png", png_bytes())])
    assert len(calls) == 2
    assert Image.objects.count() == 0 and stored_files(media_root) == []


# --- Headers only in the web request; quotas ----------------------------------------------


def test_the_request_reads_headers_only_and_never_decodes_the_pixels(api, monkeypatch, media_root):
    data = png_of_zeros()
    assert len(data) < 300_000  # ~190 MiB once decoded
    forbid_decoding(monkeypatch)
    response = post(api, [upload_file("huge.png", data)])
    assert response.status_code == 201, response.json()
    item = response.json()["images"][0]
    assert (item["width"], item["height"], item["processing"]) == (7071, 7071, "pending")
    assert (media_root / Image.objects.get(pk=item["id"]).storage_key).read_bytes() == data


def test_a_file_broken_past_its_header_is_accepted_for_the_worker_to_fail(api, django_capture_on_commit_callbacks):
    from images.tasks import process_image

    response = post(api, [upload_file("broken.jpg", truncated_jpeg(), "image/jpeg")])
    assert response.status_code == 201, response.json()
    image = Image.objects.get(pk=response.json()["images"][0]["id"])
    with django_capture_on_commit_callbacks(execute=True):
        assert process_image.apply(args=[str(image.pk)]).get() == "failed"
    image.refresh_from_db()
    assert image.processing_error.split(":")[0] in ("truncated", "corrupt")


def test_uploads_past_the_daily_quota_are_429_and_a_delete_gives_none_back(api, user, settings, media_root):
    settings.TIER_UPLOAD_QUOTAS = {"free": 3}
    assert post(api, [upload_file("a.png", png_bytes()), upload_file("b.png", png_bytes())]).status_code == 201
    too_many = post(api, [upload_file("c.png", png_bytes()), upload_file("d.png", png_bytes())])
    assert too_many.status_code == 429
    error = too_many.json()["error"]
    assert error["code"] == "upload_quota_exceeded"
    assert "1 of 3 left today" in error["message"] and "resets at" in error["message"]
    seconds_to_midnight = (day_start() + dt.timedelta(days=1) - timezone.now()).total_seconds()
    assert abs(int(too_many["Retry-After"]) - seconds_to_midnight) <= 5
    assert Image.objects.count() == 2 and len(stored_files(media_root)) == 2

    assert post(api, [upload_file("c.png", png_bytes())]).status_code == 201
    Image.objects.filter(user=user).delete()
    assert post(api, [upload_file("d.png", png_bytes())]).status_code == 429

    settings.TIER_UPLOAD_QUOTAS = {"free": 3, "enterprise": 0}
    user.tier = "enterprise"
    user.save(update_fields=["tier"])
    assert post(api, [upload_file("d.png", png_bytes())]).status_code == 201  # unlimited


def test_uploads_past_the_storage_quota_are_413_and_nothing_is_stored(api, user, settings, media_root):
    data = png_bytes()
    settings.TIER_STORAGE_QUOTAS = {"free": 10_000 + 2 * len(data)}
    ImageFactory(user=user, bytes=10_000)  # generated or uploaded, every original counts
    ImageFactory(bytes=10**9)  # someone else's does not
    too_big = post(api, [upload_file(f"{i}.png", data) for i in range(3)])
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "storage_quota_exceeded"
    assert "delete some images" in too_big.json()["error"]["message"]
    assert Image.objects.filter(user=user).count() == 1 and stored_files(media_root) == []
    assert post(api, [upload_file(f"{i}.png", data) for i in range(2)]).status_code == 201
