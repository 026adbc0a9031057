from __future__ import annotations

import base64
import datetime as dt
import secrets
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


def default_tier() -> str:
    return settings.DEFAULT_TIER


WEBHOOK_SECRET_OVERLAP = dt.timedelta(hours=24)


def new_webhook_secret() -> str:
    # Standard Webhooks secrets: "whsec_" + base64 of random bytes.
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        # Emails are compared case-insensitively everywhere: store them lower-cased.
        return (email or "").strip().lower()

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=self.normalize_email(username))

    def _create(self, email: str, password: str | None, **extra: object) -> User:
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person or app owner; signs in with an email address."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("email address", max_length=254, unique=True)
    name = models.CharField(max_length=150, blank=True)
    tier = models.CharField(max_length=32, default=default_tier, db_index=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    webhook_secret = models.CharField(max_length=64, default=new_webhook_secret)
    # After a rotation the old secret still signs for WEBHOOK_SECRET_OVERLAP, so receivers can switch without a gap.
    previous_webhook_secret = models.CharField(max_length=64, blank=True, default="")
    webhook_secret_rotated_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["-date_joined"]
        constraints = [models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = type(self).objects.normalize_email(self.email)

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name or self.email.split("@")[0]


API_KEY_PREFIX = "igk_"


class ApiKey(models.Model):
    """A long-lived credential for server apps: ``igk_`` + random text, stored only as a SHA-256.

    The key holds 32 random bytes, so a plain SHA-256 is as strong as a slow
    hash here and lets every request look its key up by an index. ``prefix``
    (the first 12 characters) is not secret: it tells keys apart in lists.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"
        indexes = [models.Index(fields=["user", "-created_at"], name="apikey_user_created")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class RefreshTokenFamily(models.Model):
    """The refresh tokens descended by rotation from one sign-in; each carries the family's id in a claim.

    simplejwt blacklists a token once it is rotated. Someone presenting a
    blacklisted member again means two parties hold the chain (one stole it), so
    the whole family is revoked: the live token, whoever holds it, stops working.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="refresh_token_families")
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "refresh token family"
        verbose_name_plural = "refresh token families"

    def __str__(self) -> str:
        return f"sign-in {self.pk} of {self.user_id}"
