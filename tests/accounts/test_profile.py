"""A profile carries what other apps register about its user (accounts/profile.py)."""

from __future__ import annotations

import pytest

from accounts import profile
from images.services.usage import profile_figures
from tests.factories import UserFactory
from tests.images.factories import ImageFactory


@pytest.mark.django_db
def test_the_images_app_adds_the_image_count_and_the_quota_at_start_up():
    user = UserFactory()
    ImageFactory.create_batch(2, user=user)

    shown = profile.profile_for_user(user=user)

    assert profile_figures in profile._sources  # registered once by ImagesConfig.ready
    assert shown.image_count == 2
    assert shown.quota.used_today == 0


def test_a_source_is_registered_once_and_its_figures_set_on_the_user(monkeypatch):
    monkeypatch.setattr(profile, "_sources", [])
    source = lambda user: {"favourites": 3}  # noqa: E731

    profile.add_profile_figures(source)
    profile.add_profile_figures(source)
    user = UserFactory.build()

    assert profile._sources == [source]
    assert profile.profile_for_user(user=user).favourites == 3
