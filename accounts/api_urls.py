"""Routes under /api/v1/ owned by the accounts app (auth, /me, API keys)."""

from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/signup", api.SignupView.as_view(), name="api-signup"),
    path("auth/token", api.TokenObtainView.as_view(), name="api-token"),
    path("auth/token/refresh", api.TokenRefreshView.as_view(), name="api-token-refresh"),
    path("auth/token/verify", api.TokenVerifyView.as_view(), name="api-token-verify"),
    path("auth/logout", api.LogoutView.as_view(), name="api-logout"),
    path("me", api.MeView.as_view(), name="api-me"),
    path("me/password", api.PasswordChangeView.as_view(), name="api-me-password"),
    path("me/webhook-secret/rotate", api.WebhookSecretRotateView.as_view(), name="api-me-webhook-secret-rotate"),
    path("me/stats", api.StatsView.as_view(), name="api-me-stats"),
    path("me/api-keys", api.ApiKeyListView.as_view(), name="api-keys"),
    path("me/api-keys/<uuid:key_id>", api.ApiKeyDetailView.as_view(), name="api-key-detail"),
]
