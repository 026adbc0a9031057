"""Fixtures for the web UI's tests: signed-in clients, stored images and a media folder of their own."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from PIL import Image as PILImage

from images.models import Generation, Image
from images.services.pipeline import generation_run
from tests.images.factories import GenerationFactory


@pytest.fixture(autouse=True)
def media_root(own_media_folder):
    """Each test stores files in its own folder."""
    return own_media_folder


@pytest.fixture
def browser(user) -> Client:
    """A browser signed in as ``user`` (session cookie), with CSRF checks on as in real life."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf_post(client: Client, path: str, data: dict | None = None, **extra: object):
    """POST like a browser does: fetch a page to get the CSRF cookie, then send its token."""
    if "csrftoken" not in client.cookies:
        client.get("/accounts/login" if not client.session.get("_auth_user_id") else "/settings")
    token = client.cookies["csrftoken"].value
    return client.post(path, {**(data or {}), "csrfmiddlewaretoken": token}, **extra)


def text(response) -> str:
    return response.content.decode()


def generated(user, *, prompt: str = "a quiet harbour", n: int = 1, **fields: object) -> Generation:
    """A finished generation with real stored images (the fake provider, run in-process)."""
    generation = GenerationFactory(user=user, provider="fake", model="fake-1", prompt=prompt, n=n, **fields)
    generation_run(generation_id=str(generation.pk))
    generation.refresh_from_db()
    assert generation.status == Generation.Status.SUCCEEDED, generation.error_message
    return generation


def image_of(generation: Generation) -> Image:
    return generation.images.order_by("index").first()


def jpeg_bytes(size: tuple[int, int] = (320, 240)) -> bytes:
    image = PILImage.new("RGB", size, (30, 120, 200))
    for x in range(0, size[0], 16):
        image.paste((240, 200, 20), (x, 0, x + 8, size[1]))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()
