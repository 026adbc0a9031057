"""A user's profile with the figures other apps keep about them (images: how many, today's quota).

Accounts know users, not what users make: an app that keeps something per user
adds it to the profile by registering a source at start-up
(``images.apps.ImagesConfig.ready``), so the dependency runs from that app to
this one, never back.
"""

from __future__ import annotations

from collections.abc import Callable

from accounts.models import User

ProfileFigures = Callable[[User], dict[str, object]]

_sources: list[ProfileFigures] = []


def add_profile_figures(source: ProfileFigures) -> None:
    """Register ``source``: called with a user, it returns attributes to set on the profile."""
    if source not in _sources:
        _sources.append(source)


def profile_for_user(*, user: User) -> User:
    """The user with every registered app's figures attached, as the profile serializer reads them."""
    for source in _sources:
        for name, value in source(user).items():
            setattr(user, name, value)
    return user
