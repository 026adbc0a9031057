"""Staff clients for the admin's permission tests."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.test import Client

from tests.factories import UserFactory


def staff_with(*codenames: str) -> Client:
    """A signed-in client of a staff member (not a superuser) holding exactly these model permissions."""
    member = UserFactory(is_staff=True)
    member.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(member)
    return client
