import pytest
from django.contrib.auth import authenticate, get_user_model
from django.db import IntegrityError

from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_emails_are_stored_lower_case():
    user = get_user_model().objects.create_user("Ann@Example.COM", "pw-123456789")
    assert user.email == "ann@example.com"


def test_two_users_cannot_share_an_email_in_different_case():
    UserFactory(email="bob@example.com")
    with pytest.raises(IntegrityError):
        get_user_model().objects.create(email="BOB@example.com")


def test_sign_in_by_email_ignores_case():
    user = UserFactory(email="carol@example.com")
    assert authenticate(username="Carol@Example.com", password=DEFAULT_PASSWORD) == user


def test_new_users_get_the_default_tier(settings):
    assert UserFactory().tier == settings.DEFAULT_TIER == "free"


def test_user_ids_are_uuids():
    assert len(str(UserFactory().pk)) == 36
