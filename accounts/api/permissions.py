"""DRF permissions of the accounts API: which credentials may manage the account itself."""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import ApiKey
from imagegen.api.errors import ApiError

KEY_NOT_ALLOWED_MESSAGE = (
    "An API key cannot manage the account's credentials; sign in and use an access token or the browser session."
)


class NotWithApiKey(BasePermission):
    """Refuses requests authenticated with an API key: 403 ``key_not_allowed``.

    A leaked key must not be able to mint more keys, revoke the owner's, change
    the password or read a new webhook secret: those need a sign-in (a JWT or the
    browser session). Put it after ``IsAuthenticated`` so no credentials stay 401.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        if isinstance(request.auth, ApiKey):
            raise ApiError(403, "key_not_allowed", KEY_NOT_ALLOWED_MESSAGE)
        return True
