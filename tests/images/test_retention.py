from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from images.models import Image
from images.tasks import expire_direct_uploads, expire_old_images
from tests.images.factories import ImageFactory

pytestmark = pytest.mark.django_db(transaction=True)


def aged(days: float, **fields) -> Image:
    image = ImageFactory(**fields)
    Image.objects.filter(pk=image.pk).update(created_at=timezone.now() - timedelta(days=days))
    for key in image.storage_keys():
        default_storage.save(key, ContentFile(b"x"))
    return image


def test_retention_is_off_by_default(media_root):
    aged(400)
    assert expire_old_images() == 0
    assert Image.objects.count() == 1


def test_retention_deletes_old_images_and_their_files(media_root, settings):
    settings.IMAGE_RETENTION_DAYS = 30
    old, recent = aged(31), aged(29)
    assert expire_old_images() == 1
    assert list(Image.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not any(default_storage.exists(k) for k in old.storage_keys())
    assert all(default_storage.exists(k) for k in recent.storage_keys())


def test_direct_uploads_never_completed_are_expired(media_root, settings):
    settings.DIRECT_UPLOAD_EXPIRY_SECONDS = 3600
    stale = aged(1, processing=Image.Processing.AWAITING_UPLOAD)
    waiting = ImageFactory(processing=Image.Processing.AWAITING_UPLOAD)
    ready = aged(1)
    assert expire_direct_uploads() == 1
    assert set(Image.objects.values_list("pk", flat=True)) == {waiting.pk, ready.pk}
    assert not default_storage.exists(stale.storage_key)
