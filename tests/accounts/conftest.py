"""Fixtures for the accounts API tests."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.services import tokens_for_user


@pytest.fixture
def client_() -> APIClient:
    """An unauthenticated API client."""
    return APIClient()


@pytest.fixture
def tokens(user) -> dict[str, str]:
    return tokens_for_user(user=user)


@pytest.fixture
def api(user, tokens) -> APIClient:
    """A client signed in as ``user`` with a real access token (not force_authenticate:
    authentication itself is under test here)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return client
