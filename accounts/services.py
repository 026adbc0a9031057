"""Account rules: sign-up, sign-in, JWT pairs, password changes, the webhook secret and API keys.

The REST API and the gallery pages call these; neither repeats a rule. Input
problems raise Django's ``ValidationError`` keyed by field (forms and the API's
error format both understand it); credentials refused raise ``Unauthenticated``
and other refusals the domain's errors (``imagegen.errors``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, Token, UntypedToken
from rest_framework_simplejwt.utils import datetime_from_epoch, get_md5_hash_password

from accounts.models import API_KEY_PREFIX, ApiKey, RefreshTokenFamily, User, new_webhook_secret
from imagegen.errors import Conflict, NotFound, Unauthenticated

INVALID_CREDENTIALS = "Email or password is incorrect."
MAX_ACTIVE_API_KEYS = 50
# last_used_at is a hint for people tidying their keys, not an audit log:
# writing it on every request would turn each API call into a write.
API_KEY_TOUCH_INTERVAL = dt.timedelta(minutes=1)

# --- Users -------------------------------------------------------------------------


def user_signup(*, email: str, password: str, name: str = "") -> User:
    """Create an account; the email must be new (compared case-insensitively) and the password strong."""
    email = User.objects.normalize_email(email)
    name = (name or "").strip()
    candidate = User(email=email, name=name)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise ValidationError({"password": exc.error_list}) from None
    taken = ValidationError(
        {"email": ValidationError("An account with this email already exists.", code="email_taken")}
    )
    if User.objects.filter(email__iexact=email).exists():
        raise taken
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, name=name)
    except IntegrityError:
        raise taken from None  # a concurrent sign-up with the same email won the insert


def user_authenticate(*, request: HttpRequest | None, email: str, password: str) -> User:
    """The active user with these credentials, else 401 with the same message whatever was wrong.

    Unknown email, wrong password and inactive account answer alike, so the
    response reveals nothing about which accounts exist.
    """
    user = authenticate(request, email=User.objects.normalize_email(email), password=password)
    if user is None:
        raise Unauthenticated("authentication_failed", INVALID_CREDENTIALS)
    update_last_login(None, user)
    return user


def user_update(*, user: User, name: str) -> User:
    """Change the profile fields a user may edit themselves."""
    user.name = name.strip()
    user.clean_fields(exclude=[field.name for field in User._meta.fields if field.name != "name"])
    user.save(update_fields=["name"])
    return user


@dataclass(frozen=True)
class PasswordChange:
    """What a password change ended: the API keys revoked, or kept when the user asked to keep them."""

    api_keys_revoked: int
    api_keys_kept: int

    def message(self, *, session_kept: bool) -> str:
        """The one sentence the settings page and the API answer with."""
        signed_out = (
            "every other session and sign-in token was signed out"
            if session_kept
            else "every session and sign-in token was signed out (sign in again with the new password)"
        )
        if self.api_keys_revoked:
            keys = f"{_api_keys(self.api_keys_revoked)} {'was' if self.api_keys_revoked == 1 else 'were'} revoked."
        elif self.api_keys_kept:
            keys = f"API keys kept: {_api_keys(self.api_keys_kept)} still work{'s' if self.api_keys_kept == 1 else ''}."
        else:
            keys = "You had no API keys."
        return f"Password changed; {signed_out}. {keys}"


def _api_keys(count: int) -> str:
    return f"{count} API key{'' if count == 1 else 's'}"


def user_change_password(
    *, user: User, current_password: str, new_password: str, revoke_api_keys: bool = True
) -> PasswordChange:
    """Set a new password and end every other way in: refresh tokens and, through their
    password claim, access tokens issued before; the API keys too unless ``revoke_api_keys``
    is false (a password change after a leak must not leave a key behind by default)."""
    if not user.check_password(current_password):
        raise ValidationError(
            {"current_password": ValidationError("The current password is incorrect.", code="invalid")}
        )
    try:
        validate_password(new_password, user=user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.error_list}) from None
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        user_refresh_tokens_revoke(user=user)
        live_keys = ApiKey.objects.filter(user=user, revoked_at__isnull=True)
        if revoke_api_keys:
            return PasswordChange(api_keys_revoked=live_keys.update(revoked_at=timezone.now()), api_keys_kept=0)
        return PasswordChange(api_keys_revoked=0, api_keys_kept=live_keys.count())


def webhook_secret_rotate(*, user: User) -> User:
    """Give the user a new webhook secret; the previous one keeps signing (alongside) for
    ``WEBHOOK_SECRET_OVERLAP`` so receivers can switch over. A second rotation within that
    window drops the oldest secret."""
    with transaction.atomic():
        # Locked: of two rotations racing, the second must keep the first's new secret as "previous".
        locked = User.objects.select_for_update().get(pk=user.pk)
        user.previous_webhook_secret = locked.webhook_secret
        user.webhook_secret = new_webhook_secret()
        user.webhook_secret_rotated_at = timezone.now()
        user.save(update_fields=["webhook_secret", "previous_webhook_secret", "webhook_secret_rotated_at"])
    return user


def user_refresh_tokens_revoke(*, user: User) -> int:
    """Blacklist every refresh token of the user that is not already, and end their families; returns how many."""
    live = OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True)
    revoked = [BlacklistedToken(token=token) for token in live]
    BlacklistedToken.objects.bulk_create(revoked, ignore_conflicts=True)
    RefreshTokenFamily.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    return len(revoked)


# --- JWT ---------------------------------------------------------------------------

# The claim naming a refresh token's family (its sign-in); rotation copies it to the new token.
FAMILY_CLAIM = "fam"


class RefreshTokenReused(Unauthenticated):
    """A refresh token presented again after it was used: its family is revoked."""


def tokens_for_user(*, user: User, family: RefreshTokenFamily | None = None) -> dict[str, str]:
    """A new access and refresh token pair; the refresh token is recorded so it can be revoked.

    It belongs to ``family`` when it replaces a rotated token, else to a new
    family: a sign-in starts one.
    """
    if family is None:
        family = RefreshTokenFamily.objects.create(user=user)
    refresh = RefreshToken.for_user(user)  # records the token, without the claim yet
    refresh[FAMILY_CLAIM] = str(family.pk)
    OutstandingToken.objects.filter(jti=refresh[jwt_settings.JTI_CLAIM]).update(token=str(refresh))
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def token_family_revoke(*, family_id: str | None) -> bool:
    """End a sign-in: no refresh token of the family works from then on. Returns whether it was live."""
    if not family_id:
        return False  # a token from before families: nothing links it to its successors
    try:
        return bool(
            RefreshTokenFamily.objects.filter(pk=family_id, revoked_at__isnull=True).update(revoked_at=timezone.now())
        )
    except ValidationError:
        return False  # not a UUID: not one of ours


def _token_user(token: Token) -> User:
    # The checks JWTAuthentication makes on every request, for tokens presented
    # to the token endpoints themselves.
    user = User.objects.filter(pk=token.get(jwt_settings.USER_ID_CLAIM)).first()
    if user is None or not user.is_active:
        raise Unauthenticated("user_inactive", "The account of this token is inactive or gone.")
    if jwt_settings.CHECK_REVOKE_TOKEN and token.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(
        user.password
    ):
        raise Unauthenticated("password_changed", "The password has changed since this token was issued.")
    return user


def _refresh_token(raw: str) -> RefreshToken:
    """``raw`` as a refresh token that may still be used; presenting a used one revokes its family."""
    try:
        token = RefreshToken(raw)  # signature, expiry, type and blacklist
    except TokenError as exc:
        if (used := _used_refresh_token(raw)) is not None:
            token_family_revoke(family_id=used.get(FAMILY_CLAIM))
        raise Unauthenticated("token_not_valid", f"Refresh token rejected: {exc}") from None
    return token


def _used_refresh_token(raw: str) -> Token | None:
    """``raw`` if it is a genuine, unexpired refresh token that is blacklisted (rotated or signed out)."""
    try:
        token = UntypedToken(raw)  # signature and expiry only
    except TokenError:
        return None
    if token.get(jwt_settings.TOKEN_TYPE_CLAIM) != RefreshToken.token_type:
        return None
    if not BlacklistedToken.objects.filter(token__jti=token.get(jwt_settings.JTI_CLAIM)).exists():
        return None
    return token


def _live_family(token: Token) -> RefreshTokenFamily | None:
    """The token's family, or 401 when it was revoked; None for a token from before families."""
    family_id = token.get(FAMILY_CLAIM)
    if family_id is None:
        return None
    try:
        family = RefreshTokenFamily.objects.filter(pk=family_id).first()
    except ValidationError:
        family = None
    if family is None or family.revoked_at is not None:
        raise Unauthenticated(
            "token_not_valid",
            "Refresh token rejected: its sign-in was revoked (a used refresh token was presented again, "
            "the account signed out, or the password changed); sign in again.",
        )
    return family


def _use_once(token: RefreshToken) -> None:
    """Blacklist ``token``, or fail if it already was: of two requests racing with it, one wins."""
    outstanding, _ = OutstandingToken.objects.get_or_create(
        jti=token[jwt_settings.JTI_CLAIM],
        defaults={
            "user_id": token.get(jwt_settings.USER_ID_CLAIM),
            "token": str(token),
            "created_at": token.current_time,
            "expires_at": datetime_from_epoch(token["exp"]),
        },
    )
    _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
    if not created:
        raise RefreshTokenReused("token_not_valid", "Refresh token rejected: Token is blacklisted")


@contextmanager
def _spending(token: RefreshToken) -> Iterator[None]:
    """Run the block in one transaction with ``token`` used up (``_use_once``).

    The loser of a race is a reuse like any other: the family is revoked after
    the block's transaction rolled back, so the revocation stays although the
    request fails (this relies on requests not being wrapped in a transaction).
    """
    try:
        with transaction.atomic():
            _use_once(token)
            yield
    except RefreshTokenReused:
        token_family_revoke(family_id=token.get(FAMILY_CLAIM))
        raise


def token_refresh(*, refresh: str) -> dict[str, str]:
    """Trade a refresh token for a new pair of the same family; the one presented can never be used again.

    Presenting a token that was already used revokes its whole family (see ``RefreshTokenFamily``).
    """
    token = _refresh_token(refresh)
    family = _live_family(token)
    user = _token_user(token)
    with _spending(token):
        return tokens_for_user(user=user, family=family)


def token_revoke(*, refresh: str) -> None:
    """Sign out: the refresh token is blacklisted and its family ended (its access tokens expire on their own, soon)."""
    token = _refresh_token(refresh)
    family = _live_family(token)
    with _spending(token):
        if family is not None:
            token_family_revoke(family_id=str(family.pk))


def token_verify(*, token: str) -> Token:
    """Check an access or refresh token as the API would; 401 if it would be refused."""
    try:
        parsed = UntypedToken(token)
    except TokenError as exc:
        raise Unauthenticated("token_not_valid", f"Token rejected: {exc}") from None
    if parsed.get(jwt_settings.TOKEN_TYPE_CLAIM) == RefreshToken.token_type:
        jti = parsed.get(jwt_settings.JTI_CLAIM)
        if BlacklistedToken.objects.filter(token__jti=jti).exists():
            raise Unauthenticated("token_not_valid", "Token rejected: Token is blacklisted")
        _live_family(parsed)
    _token_user(parsed)
    return parsed


# --- API keys ----------------------------------------------------------------------


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_create(*, user: User, name: str) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the key itself, which is never stored or shown again."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": ValidationError("Give the key a name.", code="blank")})
    if ApiKey.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_ACTIVE_API_KEYS:
        # 409: the request is fine, the account's state refuses it until a key is revoked.
        raise Conflict(
            "too_many_api_keys", f"At most {MAX_ACTIVE_API_KEYS} active API keys; revoke one first.", field="name"
        )
    raw_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(user=user, name=name, prefix=raw_key[:12], key_hash=hash_api_key(raw_key))
    return key, raw_key


def api_key_revoke(*, user: User, key_id: uuid.UUID | str) -> None:
    """Revoke one of the user's keys at once; another user's (or an already revoked) key is 404."""
    revoked = ApiKey.objects.filter(pk=key_id, user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if not revoked:
        raise NotFound("not_found", "No such API key.")


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The live key (with its user) for ``raw_key``, or None; notes when it was last used."""
    if not raw_key.startswith(API_KEY_PREFIX):
        return None
    key = ApiKey.objects.select_related("user").filter(key_hash=hash_api_key(raw_key), revoked_at__isnull=True).first()
    if key is None:
        return None
    api_key_touch(key=key)
    return key


def api_key_touch(*, key: ApiKey, now: dt.datetime | None = None) -> bool:
    """Record a use of ``key`` unless one was recorded within the last minute.

    The UPDATE is conditional: of many requests racing with a stale key, one
    writes and the others match no row. Returns whether this call wrote.
    """
    now = now or timezone.now()
    stale = now - API_KEY_TOUCH_INTERVAL
    if key.last_used_at is not None and key.last_used_at > stale:
        return False  # known fresh: no query at all
    touched = (
        ApiKey.objects.filter(pk=key.pk)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale))
        .update(last_used_at=now)
    )
    if touched:
        key.last_used_at = now
    return bool(touched)
