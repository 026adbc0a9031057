"""Input and output shapes of the accounts API."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import ApiKey, User
from imagegen.api.strict import RejectUnknownFields, StrictTypes

# Long enough for any passphrase, short enough that hashing it costs nothing extra.
PASSWORD_MAX_LENGTH = 1024


def _password(**kwargs: object) -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        trim_whitespace=False,
        max_length=PASSWORD_MAX_LENGTH,
        style={"input_type": "password"},
        **kwargs,
    )


# --- Input -------------------------------------------------------------------------


class SignupInputSerializer(StrictTypes):
    email = serializers.EmailField(max_length=254)
    password = _password()
    name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")


class SignInInputSerializer(StrictTypes):
    email = serializers.EmailField(max_length=254)
    password = _password()


class RefreshInputSerializer(StrictTypes):
    refresh = serializers.CharField(max_length=4096)


class VerifyInputSerializer(StrictTypes):
    token = serializers.CharField(max_length=4096)


class ProfileUpdateInputSerializer(RejectUnknownFields):
    name = serializers.CharField(max_length=150, allow_blank=True)

    def tolerated_fields(self) -> set[str]:
        return set(ProfileSerializer().fields)


class PasswordChangeInputSerializer(StrictTypes):
    current_password = _password()
    new_password = _password()
    revoke_api_keys = serializers.BooleanField(
        required=False, default=True, help_text="Also revoke every API key of the account (the default)."
    )


class ApiKeyCreateInputSerializer(StrictTypes):
    name = serializers.CharField(max_length=100)


# --- Output ------------------------------------------------------------------------


class QuotaSerializer(serializers.Serializer):
    daily_limit = serializers.IntegerField(allow_null=True, help_text="Images per UTC day; null when unlimited.")
    used_today = serializers.IntegerField()
    remaining = serializers.IntegerField(allow_null=True)
    resets_at = serializers.DateTimeField(help_text="The next 00:00 UTC.")


class ProfileSerializer(serializers.ModelSerializer):
    image_count = serializers.IntegerField(read_only=True)
    quota = QuotaSerializer(read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "name", "tier", "date_joined", "image_count", "webhook_secret", "quota"]
        read_only_fields = fields


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class SignupOutputSerializer(TokenPairSerializer):
    user = ProfileSerializer()


class TokenVerifyOutputSerializer(serializers.Serializer):
    token_type = serializers.CharField()
    expires_at = serializers.DateTimeField()


class PasswordChangedSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="What the change ended, in one sentence.")
    api_keys_revoked = serializers.IntegerField()
    api_keys_kept = serializers.IntegerField(help_text="Live API keys left working (revoke_api_keys: false).")


class WebhookSecretSerializer(serializers.Serializer):
    webhook_secret = serializers.CharField(help_text="The new secret; deliveries are signed with it from now on.")
    previous_secret_expires_at = serializers.DateTimeField(
        help_text="Until then deliveries carry a second signature, made with the previous secret."
    )


class ApiKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "created_at", "last_used_at"]
        read_only_fields = fields


class ApiKeyCreatedSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True, help_text="The whole key. Shown only in this response.")

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "key", "created_at"]
        read_only_fields = fields
