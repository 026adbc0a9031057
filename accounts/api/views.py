"""The accounts API under /api/v1/: sign-up and tokens, the profile, the webhook secret, statistics and API keys.

Each view validates its input with a serializer, calls one service (or
selector) and serializes the result.
"""

from __future__ import annotations

from django.contrib.auth import update_session_auth_hash
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts import services
from accounts.api import examples
from accounts.api.authentication import WWW_AUTHENTICATE
from accounts.api.permissions import NotWithApiKey
from accounts.api.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateInputSerializer,
    ApiKeySerializer,
    PasswordChangedSerializer,
    PasswordChangeInputSerializer,
    ProfileSerializer,
    ProfileUpdateInputSerializer,
    RefreshInputSerializer,
    SignInInputSerializer,
    SignupInputSerializer,
    SignupOutputSerializer,
    TokenPairSerializer,
    TokenVerifyOutputSerializer,
    VerifyInputSerializer,
    WebhookSecretSerializer,
)
from accounts.api.throttles import AccountRateThrottle, AnonRateThrottle, AuthRateThrottle
from accounts.models import WEBHOOK_SECRET_OVERLAP, ApiKey
from accounts.profile import profile_for_user
from imagegen.api.errors import ErrorSerializer
from imagegen.api.schema import links

ERRORS = {code: ErrorSerializer for code in (400, 401, 429)}
ERRORS_SIGNED_IN = {**ERRORS, 403: ErrorSerializer}  # 403 key_not_allowed
# Account management takes a sign-in, never an API key (accounts.api.permissions).
SIGNED_IN_WITHOUT_API_KEY = [IsAuthenticated, NotWithApiKey]
SIGN_IN_AUTH = [{"jwtAuth": []}, {"cookieAuth": []}]
NO_CONTENT = OpenApiResponse(description="Done; no body.")


class _PublicView(APIView):
    """Token endpoints: the credentials are in the body, so no header is read (a stale
    token sent out of habit must not block signing in)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle]

    def get_authenticate_header(self, request: Request) -> str:
        # A refused credential is a 401 (DRF makes it 403 when no class offers a header).
        return WWW_AUTHENTICATE


class _PasswordView(_PublicView):
    # Passwords can be guessed here: the stricter per-IP scope applies on top.
    throttle_classes = [AnonRateThrottle, AuthRateThrottle]


class SignupView(_PasswordView):
    @extend_schema(
        request=SignupInputSerializer,
        responses={201: SignupOutputSerializer, **ERRORS},
        tags=["auth"],
        examples=examples.SIGNUP,
    )
    def post(self, request: Request) -> Response:
        data = _valid(SignupInputSerializer, request)
        user = services.user_signup(email=data["email"], password=data["password"], name=data["name"])
        body = {"user": ProfileSerializer(profile_for_user(user=user)).data}
        body.update(services.tokens_for_user(user=user))
        return Response(body, status=status.HTTP_201_CREATED)


class TokenObtainView(_PasswordView):
    throttle_classes = [*_PasswordView.throttle_classes, AccountRateThrottle]

    @extend_schema(
        request=SignInInputSerializer,
        responses={200: TokenPairSerializer, **ERRORS},
        tags=["auth"],
        examples=examples.SIGN_IN,
    )
    def post(self, request: Request) -> Response:
        data = _valid(SignInInputSerializer, request)
        user = services.user_authenticate(request=request, email=data["email"], password=data["password"])
        return Response(services.tokens_for_user(user=user))


class TokenRefreshView(_PublicView):
    @extend_schema(
        request=RefreshInputSerializer,
        responses={200: TokenPairSerializer, **ERRORS},
        tags=["auth"],
        examples=examples.REFRESH_TOKENS,
    )
    def post(self, request: Request) -> Response:
        data = _valid(RefreshInputSerializer, request)
        return Response(services.token_refresh(refresh=data["refresh"]))


class TokenVerifyView(_PublicView):
    @extend_schema(
        request=VerifyInputSerializer,
        responses={200: TokenVerifyOutputSerializer, **ERRORS},
        tags=["auth"],
        examples=examples.VERIFY,
    )
    def post(self, request: Request) -> Response:
        data = _valid(VerifyInputSerializer, request)
        token = services.token_verify(token=data["token"])
        body = {"token_type": token.get(jwt_settings.TOKEN_TYPE_CLAIM), "expires_at": datetime_from_epoch(token["exp"])}
        return Response(TokenVerifyOutputSerializer(body).data)


class LogoutView(_PublicView):
    @extend_schema(
        request=RefreshInputSerializer, responses={204: NO_CONTENT, **ERRORS}, tags=["auth"], examples=examples.LOGOUT
    )
    def post(self, request: Request) -> Response:
        data = _valid(RefreshInputSerializer, request)
        services.token_revoke(refresh=data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses={200: ProfileSerializer}, tags=["me"], examples=examples.ME)
    def get(self, request: Request) -> Response:
        return Response(ProfileSerializer(profile_for_user(user=request.user)).data)

    @extend_schema(
        request=ProfileUpdateInputSerializer,
        responses={200: ProfileSerializer, **ERRORS},
        tags=["me"],
        examples=examples.ME_UPDATE,
    )
    def patch(self, request: Request) -> Response:
        data = _valid(ProfileUpdateInputSerializer, request, partial=True)
        user = request.user
        if "name" in data:
            user = services.user_update(user=user, name=data["name"])
        return Response(ProfileSerializer(profile_for_user(user=user)).data)


class PasswordChangeView(APIView):
    permission_classes = SIGNED_IN_WITHOUT_API_KEY
    throttle_classes = [*api_settings.DEFAULT_THROTTLE_CLASSES, AuthRateThrottle]

    @extend_schema(
        request=PasswordChangeInputSerializer,
        responses={200: PasswordChangedSerializer, **ERRORS_SIGNED_IN},
        examples=examples.PASSWORD,
        auth=SIGN_IN_AUTH,
        tags=["me"],
    )
    def post(self, request: Request) -> Response:
        data = _valid(PasswordChangeInputSerializer, request)
        change = services.user_change_password(
            user=request.user,
            current_password=data["current_password"],
            new_password=data["new_password"],
            revoke_api_keys=data["revoke_api_keys"],
        )
        session_kept = isinstance(request.successful_authenticator, SessionAuthentication)
        if session_kept:
            # A browser that changed its password stays signed in; every other session ends.
            update_session_auth_hash(request, request.user)
        body = {
            "message": change.message(session_kept=session_kept),
            "api_keys_revoked": change.api_keys_revoked,
            "api_keys_kept": change.api_keys_kept,
        }
        return Response(PasswordChangedSerializer(body).data)


class WebhookSecretRotateView(APIView):
    permission_classes = SIGNED_IN_WITHOUT_API_KEY

    @extend_schema(
        request=None,
        responses={200: WebhookSecretSerializer, **ERRORS_SIGNED_IN},
        auth=SIGN_IN_AUTH,
        tags=["me"],
        examples=examples.WEBHOOK_SECRET,
    )
    def post(self, request: Request) -> Response:
        user = services.webhook_secret_rotate(user=request.user)
        body = {
            "webhook_secret": user.webhook_secret,
            "previous_secret_expires_at": user.webhook_secret_rotated_at + WEBHOOK_SECRET_OVERLAP,
        }
        return Response(WebhookSecretSerializer(body).data)


class ApiKeyListView(GenericAPIView):
    serializer_class = ApiKeySerializer

    def get_permissions(self) -> list[BasePermission]:
        # Listing is harmless with a key (no secret is shown); creating one is not.
        if self.request.method == "POST":
            return [permission() for permission in SIGNED_IN_WITHOUT_API_KEY]
        return super().get_permissions()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return ApiKey.objects.none()
        return ApiKey.objects.filter(user=self.request.user, revoked_at__isnull=True)

    @extend_schema(responses={200: ApiKeySerializer(many=True)}, tags=["api keys"], examples=examples.API_KEYS)
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ApiKeySerializer(page, many=True).data)

    @extend_schema(
        request=ApiKeyCreateInputSerializer,
        responses={201: ApiKeyCreatedSerializer, **ERRORS_SIGNED_IN, 409: ErrorSerializer},
        examples=examples.API_KEY_CREATE,
        extensions=links(("201",), RevokeApiKey=("me_api_keys_destroy", {"key_id": "$response.body#/id"})),
        auth=SIGN_IN_AUTH,
        tags=["api keys"],
    )
    def post(self, request: Request) -> Response:
        data = _valid(ApiKeyCreateInputSerializer, request)
        key, raw_key = services.api_key_create(user=request.user, name=data["name"])
        key.key = raw_key
        return Response(ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    permission_classes = SIGNED_IN_WITHOUT_API_KEY

    @extend_schema(
        responses={204: NO_CONTENT, **ERRORS_SIGNED_IN, 404: ErrorSerializer}, auth=SIGN_IN_AUTH, tags=["api keys"]
    )
    def delete(self, request: Request, key_id: str) -> Response:
        services.api_key_revoke(user=request.user, key_id=key_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _valid(serializer_class: type, request: Request, **kwargs: object) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
