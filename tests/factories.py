"""Factories shared by every app's tests."""

from __future__ import annotations

import secrets

import factory

from accounts.models import API_KEY_PREFIX, ApiKey, User
from accounts.services import hash_api_key

DEFAULT_PASSWORD = "correct-horse-battery-staple-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save(update_fields=["password"])


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """An API key; the whole key (never stored) is on ``.raw_key``."""

    class Meta:
        model = ApiKey

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"key {n}")
    raw_key = factory.LazyFunction(lambda: API_KEY_PREFIX + secrets.token_urlsafe(32))

    @classmethod
    def _create(cls, model_class, *args, raw_key, **kwargs):
        key = super()._create(model_class, *args, prefix=raw_key[:12], key_hash=hash_api_key(raw_key), **kwargs)
        key.raw_key = raw_key
        return key
