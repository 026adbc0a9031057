"""manage.py storage_relayout: every image's files moved to public/ or private/, on local storage and on S3 (moto)."""

from __future__ import annotations

from io import StringIO

import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from images.models import Image
from images.storage import image_key
from tests.images.conftest import BUCKET, keys_in
from tests.images.factories import ImageFactory

pytestmark = pytest.mark.django_db

NAMES = ("original.png", "thumb_256.webp", "thumb_768.webp", "full.webp")
VARIANTS = {"thumb_256": "thumb_256.webp", "thumb_768": "thumb_768.webp", "webp": "full.webp"}


def legacy_image(user, **fields) -> Image:
    """An image as the old layout stored it: every file under images/<user>/<image>/, with its bytes stored."""
    return image_with_files(user, folder=lambda image: f"images/{user.pk}/{image.pk}", **fields)


def image_with_files(user, *, folder, **fields) -> Image:
    image = ImageFactory.build(user=user, **fields)
    image.storage_key = f"{folder(image)}/original.png"
    image.variants = {
        name: {"key": f"{folder(image)}/{file}", "width": 256, "height": 256, "format": "WEBP",
               "content_type": "image/webp"}
        for name, file in VARIANTS.items()
    }  # fmt: skip
    image.save()
    for key in image.storage_keys():
        default_storage.save(key, ContentFile(body(image, key)))
    return image


def body(image: Image, key: str) -> bytes:
    return f"{image.pk} {key.rsplit('/', 1)[-1]}".encode()


def relayout(*args: str, callbacks) -> str:
    out = StringIO()
    with callbacks(execute=True):
        call_command("storage_relayout", *args, stdout=out, stderr=out)
    return out.getvalue()


def assert_files_at(image: Image, *, public: bool) -> None:
    image.refresh_from_db()
    expected = {image_key(user_id=image.user_id, image_id=image.pk, name=name, public=public) for name in NAMES}
    assert set(image.storage_keys()) == expected
    for key in image.storage_keys():
        with default_storage.open(key, "rb") as handle:
            assert handle.read() == body(image, key)


def test_it_moves_every_image_from_the_old_layout_to_its_prefix(user, django_capture_on_commit_callbacks):
    published = legacy_image(user, visibility=Image.Visibility.PUBLIC)
    private = legacy_image(user)
    hidden = legacy_image(user, visibility=Image.Visibility.PUBLIC, is_hidden=True)
    failed = legacy_image(user, visibility=Image.Visibility.PUBLIC, processing=Image.Processing.FAILED)
    old_keys = [key for image in (published, private, hidden, failed) for key in image.storage_keys()]

    output = relayout(callbacks=django_capture_on_commit_callbacks)

    assert_files_at(published, public=True)
    for image in (private, hidden, failed):
        assert_files_at(image, public=False)
    assert not any(default_storage.exists(key) for key in old_keys)
    assert "4 image(s) checked: 4 moved (16 file(s))" in output


def test_a_second_run_moves_nothing(user, django_capture_on_commit_callbacks):
    image = legacy_image(user, visibility=Image.Visibility.PUBLIC)
    relayout(callbacks=django_capture_on_commit_callbacks)
    image.refresh_from_db()
    keys = image.storage_keys()

    output = relayout(callbacks=django_capture_on_commit_callbacks)

    image.refresh_from_db()
    assert set(image.storage_keys()) == set(keys)
    assert "1 image(s) checked: 0 moved (0 file(s)), 0 public leftover(s) deleted" in output


def test_a_dry_run_reports_and_changes_nothing(user, django_capture_on_commit_callbacks):
    image = legacy_image(user)
    keys = image.storage_keys()

    output = relayout("--dry-run", "-v", "2", callbacks=django_capture_on_commit_callbacks)

    image.refresh_from_db()
    assert set(image.storage_keys()) == set(keys) and all(default_storage.exists(key) for key in keys)
    assert f"{image.pk}: would move 4 file(s)" in output
    assert f"{image.storage_key} -> {image_key(user_id=user.pk, image_id=image.pk, name='original.png')}" in output


def test_uploads_in_flight_are_left_to_their_worker(user, django_capture_on_commit_callbacks):
    pending = legacy_image(user, processing=Image.Processing.PENDING)
    keys = pending.storage_keys()

    output = relayout(callbacks=django_capture_on_commit_callbacks)

    pending.refresh_from_db()
    assert set(pending.storage_keys()) == set(keys)
    assert "1 skipped" in output


def test_it_deletes_public_copies_a_non_public_image_left_behind(user, django_capture_on_commit_callbacks):
    image = ImageFactory(user=user)  # already in its private folder
    default_storage.save(image.storage_key, ContentFile(b"private"))
    leftover = image_key(user_id=user.pk, image_id=image.pk, name="original.png", public=True)
    default_storage.save(leftover, ContentFile(b"a copy a failed delete left"))

    output = relayout(callbacks=django_capture_on_commit_callbacks)

    assert not default_storage.exists(leftover) and default_storage.exists(image.storage_key)
    assert "1 public leftover(s) deleted" in output


def test_a_missing_file_is_reported_and_its_key_left_alone(user, django_capture_on_commit_callbacks):
    image = legacy_image(user)
    lost = image.variants["thumb_768"]["key"]
    default_storage.delete(lost)

    output = relayout(callbacks=django_capture_on_commit_callbacks)

    image.refresh_from_db()
    assert image.variants["thumb_768"]["key"] == lost
    assert image.storage_key.startswith(f"private/{user.pk}/{image.pk}-")  # the others moved
    assert f"missing from storage, left as it is: {lost}" in output and "1 file(s) missing" in output


# --- S3 (moto) ------------------------------------------------------------------------


def put(client, key: str, data: bytes, content_type: str) -> None:
    client.put_object(Bucket=BUCKET, Key=key, Body=data, ContentType=content_type)


def test_on_s3_it_moves_objects_inside_the_bucket(api, user, s3, settings, django_capture_on_commit_callbacks):
    settings.CDN_URL = "https://cdn.example.com"
    published = ImageFactory.build(user=user, visibility=Image.Visibility.PUBLIC)
    private = ImageFactory.build(user=user)
    for image in (published, private):
        folder = f"images/{user.pk}/{image.pk}"
        image.storage_key = f"{folder}/original.png"
        image.variants = {"thumb_256": {"key": f"{folder}/thumb_256.webp", "content_type": "image/webp"}}
        image.save()
        put(s3, image.storage_key, body(image, image.storage_key), "image/png")
        put(s3, f"{folder}/thumb_256.webp", body(image, "thumb_256.webp"), "image/webp")

    output = relayout(callbacks=django_capture_on_commit_callbacks)

    published.refresh_from_db()
    private.refresh_from_db()
    assert keys_in(s3) == set(published.storage_keys()) | set(private.storage_keys())
    assert published.storage_key == f"public/{user.pk}/{published.pk}/original.png"
    assert private.variants["thumb_256"]["key"].startswith(f"private/{user.pk}/{private.pk}-")
    thumb = s3.get_object(Bucket=BUCKET, Key=private.variants["thumb_256"]["key"])
    assert thumb["ContentType"] == "image/webp" and thumb["Body"].read() == body(private, "thumb_256.webp")
    assert "2 moved (4 file(s))" in output

    listed = {item["id"]: item for item in api.get("/api/v1/images").json()["results"]}
    assert listed[str(published.pk)]["url"] == f"https://cdn.example.com/{published.storage_key}"
    presigned = listed[str(private.pk)]["thumbnail_url"]
    assert "X-Amz-Signature" in presigned
    assert requests.get(presigned, timeout=10).content == body(private, "thumb_256.webp")
    assert "0 moved" in relayout(callbacks=django_capture_on_commit_callbacks)


def test_on_s3_a_visibility_change_moves_the_original_and_every_variant(
    api,
    user,
    s3,
    django_capture_on_commit_callbacks,
):
    def private_folder(image: Image) -> str:
        return image_key(user_id=user.pk, image_id=image.pk, name="").rstrip("/")

    image = image_with_files(user, folder=private_folder)  # stored through django-storages: in the bucket
    private_keys = set(image.storage_keys())
    assert keys_in(s3) == private_keys

    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(f"/api/v1/images/{image.pk}", {"visibility": "public"}, format="json")
    assert response.status_code == 200, response.json()

    image.refresh_from_db()
    public_keys = {f"public/{user.pk}/{image.pk}/{name}" for name in NAMES}
    assert set(image.storage_keys()) == public_keys and keys_in(s3) == public_keys
    for name, variant in image.variants.items():
        assert variant["key"] == f"public/{user.pk}/{image.pk}/{VARIANTS[name]}"
        data = s3.get_object(Bucket=BUCKET, Key=variant["key"])["Body"].read()
        assert data == body(image, variant["key"])
    assert requests.get(response.json()["url"], timeout=10).content == body(image, image.storage_key)
