"""Routes under /api/v1/ owned by the accounts app (auth, /me, API keys)."""

from django.urls import path

from accounts.api import views

urlpatterns = [
    path("auth/signup", views.SignupView.as_view(), name="api-signup"),
    path("auth/token", views.TokenObtainView.as_view(), name="api-token"),
    path("auth/token/refresh", views.TokenRefreshView.as_view(), name="api-token-refresh"),
    path("auth/token/verify", views.TokenVerifyView.as_view(), name="api-token-verify"),
    path("auth/logout", views.LogoutView.as_view(), name="api-logout"),
    path("me", views.MeView.as_view(), name="api-me"),
    path("me/password", views.PasswordChangeView.as_view(), name="api-me-password"),
    path("me/webhook-secret/rotate", views.WebhookSecretRotateView.as_view(), name="api-me-webhook-secret-rotate"),
    path("me/api-keys", views.ApiKeyListView.as_view(), name="api-keys"),
    path("me/api-keys/<uuid:key_id>", views.ApiKeyDetailView.as_view(), name="api-key-detail"),
]
