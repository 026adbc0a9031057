from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from images.storage import signed_local_url


@pytest.fixture
def stored(media_root):
    key = "images/u/i/original.png"
    default_storage.save(key, ContentFile(b"\x89PNG fake"))
    return key


def test_a_signed_url_serves_the_file(client, stored):
    response = client.get(signed_local_url(stored))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\x89PNG fake"
    assert response["Content-Type"] == "image/png"


def test_a_tampered_signature_is_404(client, stored):
    url = signed_local_url(stored)
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")  # always a different signature
    assert client.get(tampered).status_code == 404
    assert client.get(f"/media/{stored}").status_code == 404


def test_a_signature_with_non_ascii_characters_is_404(client, stored):
    url = signed_local_url(stored)
    response = client.get(url.split("signature=")[0] + "signature=%C3%A9" + "0" * 30)
    assert response.status_code == 404


def test_an_expired_url_is_404(client, stored):
    url = signed_local_url(stored, ttl=60, now=time.time() - 3600)
    assert client.get(url).status_code == 404


def test_a_url_for_another_key_does_not_open_this_one(client, stored):
    other = signed_local_url("images/u/j/original.png")
    assert client.get(other.replace("images/u/j/", "images/u/i/")).status_code == 404


def test_signed_urls_stay_the_same_for_a_while_so_browsers_can_cache(stored):
    now = 1_000_000_000.0
    assert signed_local_url(stored, now=now) == signed_local_url(stored, now=now + 10)


def test_an_attachment_url_downloads_under_its_signed_name(client, stored):
    url = signed_local_url(stored, attachment="sunset-webp.webp")
    response = client.get(url)
    assert response["Content-Disposition"] == 'attachment; filename="sunset-webp.webp"'
    assert client.get(url.replace("sunset-webp", "payload")).status_code == 404


def test_a_plain_url_shows_the_file_inline(client, stored):
    assert client.get(signed_local_url(stored))["Content-Disposition"].startswith("inline")


def test_a_signature_is_the_hmac_of_key_and_expiry_so_links_outlive_a_deploy(stored, settings):
    query = dict(pair.split("=", 1) for pair in signed_local_url(stored).split("?", 1)[1].split("&"))
    message = f"{stored}:{query['expires']}".encode()
    assert query["signature"] == hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:32]
