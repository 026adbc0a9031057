"""The upload page: files become images in your gallery; what is not an image is refused by the field."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from images.models import Image
from images.services.uploads import image_process
from tests.ui.conftest import csrf_post, jpeg_bytes, text

pytestmark = pytest.mark.django_db


def test_uploading_a_jpeg_adds_it_to_your_gallery(browser, user):
    upload = SimpleUploadedFile("beach.jpg", jpeg_bytes(), content_type="image/jpeg")
    response = csrf_post(
        browser,
        "/upload",
        {
            "files": [upload],
            "title": "Beach",
            "category": "travel",
            "tags": "sea, sun",
            "visibility": "unlisted",
        },
    )
    image = Image.objects.get(user=user)
    assert response.status_code == 302 and response["Location"] == f"/images/{image.pk}"
    assert (image.source, image.title, image.visibility, image.processing) == (
        "uploaded",
        "Beach",
        "unlisted",
        "pending",
    )
    assert "Processing" in text(browser.get(f"/images/{image.pk}"))
    image_process(image_id=str(image.pk))
    html = text(browser.get("/gallery"))
    assert "Beach" in html and 'loading="lazy"' in html


def test_several_files_at_once_go_to_the_gallery(browser, user):
    files = [SimpleUploadedFile(f"{i}.jpg", jpeg_bytes(), content_type="image/jpeg") for i in range(3)]
    response = csrf_post(browser, "/upload", {"files": files, "visibility": "private"})
    assert response.status_code == 302 and response["Location"] == "/gallery"
    assert Image.objects.filter(user=user).count() == 3


def test_an_upload_that_is_not_an_image_is_refused_next_to_the_field(browser, user):
    upload = SimpleUploadedFile("notes.jpg", b"plain text, not a picture", content_type="image/jpeg")
    response = csrf_post(browser, "/upload", {"files": [upload], "visibility": "private"})
    assert response.status_code == 400
    assert re.search(r'id="id_files_error"[^>]*>\s*<li>notes.jpg', text(response))
    assert not Image.objects.exists()


def test_an_upload_without_a_file_asks_for_one(browser):
    response = csrf_post(browser, "/upload", {"visibility": "private"})
    assert response.status_code == 400 and re.search(r'id="id_files_error"', text(response))
