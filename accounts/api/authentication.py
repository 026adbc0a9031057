"""DRF authentication: API keys (``Bearer igk_...`` or ``X-API-Key``) and JWTs.

Both classes look at ``Authorization: Bearer``; the ``igk_`` prefix tells an
API key from a JWT, so each class leaves the other's credentials alone and the
order in ``DEFAULT_AUTHENTICATION_CLASSES`` does not matter for correctness.
"""

from __future__ import annotations

from rest_framework import authentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication as _SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow, get_md5_hash_password

from accounts.models import API_KEY_PREFIX, ApiKey, User
from accounts.selectors import user_by_id
from accounts.services import api_key_authenticate
from imagegen.bounded import BoundedStore

API_KEY_HEADER = "X-API-Key"
# One realm for every 401: clients answer it the same way (send a token or a key).
WWW_AUTHENTICATE = 'Bearer realm="api"'


def _bearer(request: Request) -> str | None:
    parts = authentication.get_authorization_header(request).split()
    if len(parts) == 2 and parts[0].lower() == b"bearer":
        return parts[1].decode("latin-1")
    return None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``X-API-Key: igk_...`` or ``Authorization: Bearer igk_...``; ``request.auth`` is the ApiKey."""

    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        raw = request.headers.get(API_KEY_HEADER)
        if raw is None:
            raw = _bearer(request)
            if raw is None or not raw.startswith(API_KEY_PREFIX):
                return None  # not ours: a JWT, or no credentials at all
        key = api_key_authenticate(raw_key=raw.strip())
        if key is None:
            raise AuthenticationFailed("API key is invalid or revoked.", code="authentication_failed")
        if not key.user.is_active:
            raise AuthenticationFailed("The account of this API key is inactive.", code="user_inactive")
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        # Without a header DRF turns 401 into 403; this class comes first in the list.
        return WWW_AUTHENTICATE


class VerifiedTokens:
    """Access tokens whose signature and claims were checked, by their text: a client polling with one
    token is verified once, not on every request (a tenth of a status poll's CPU).

    Only what the token's text decides is kept: each use checks the expiry again, and the account
    checks (active, password unchanged) read the user every time, as before. Bounded: past
    ``size`` tokens the oldest go.
    """

    def __init__(self, size: int = 4096) -> None:
        self._tokens: BoundedStore[Token] = BoundedStore(size)

    def get(self, raw: bytes) -> Token | None:
        token = self._tokens.get(raw)
        if token is None:
            return None
        try:
            token.check_exp(current_time=aware_utcnow())
        except TokenError:
            self._tokens.discard(raw)
            return None  # verified again, for simplejwt's own error
        # Each request its own, as simplejwt gives (copy.copy took a third of a kept token's use).
        fresh = object.__new__(type(token))
        fresh.__dict__.update(token.__dict__)
        fresh.payload = dict(token.payload)
        return fresh

    def add(self, raw: bytes, token: Token) -> None:
        self._tokens.put(raw, token)

    def clear(self) -> None:
        self._tokens.clear()


VERIFIED_TOKENS = VerifiedTokens()


class JWTAuthentication(_SimpleJWTAuthentication):
    """simplejwt's access-token authentication, stepping aside for API keys."""

    www_authenticate_realm = "api"

    def get_validated_token(self, raw_token: bytes) -> Token:
        token = VERIFIED_TOKENS.get(raw_token)
        if token is None:
            token = super().get_validated_token(raw_token)
            VERIFIED_TOKENS.add(raw_token, token)
        return token

    def authenticate(self, request: Request) -> tuple[User, object] | None:
        raw = _bearer(request)
        if raw is not None and raw.startswith(API_KEY_PREFIX):
            return None
        return super().authenticate(request)

    def get_user(self, validated_token: Token) -> User:
        # simplejwt's checks, in its order and with its codes; only the lookup differs
        # (compiled once per connection: see accounts.selectors.user_by_id).
        try:
            user_id = validated_token[jwt_settings.USER_ID_CLAIM]
        except KeyError:
            raise InvalidToken("Token contained no recognizable user identification") from None
        user = user_by_id(user_id)
        if user is None:
            raise AuthenticationFailed("User not found", code="user_not_found")
        if jwt_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        if jwt_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            jwt_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed("The user's password has been changed.", code="password_changed")
        return user
