"""Fixtures for the images app's tests."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture(autouse=True)
def media_root(own_media_folder):
    """Each test stores files in its own folder."""
    return own_media_folder
