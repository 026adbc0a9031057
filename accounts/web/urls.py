"""The account pages (SPEC §3); the API's routes are in ``accounts/api/urls.py``."""

from django.urls import path

from accounts.web import views

urlpatterns = [
    path("accounts/signup", views.signup, name="signup"),
    path("accounts/login", views.login_view, name="login"),
    path("accounts/logout", views.logout_view, name="logout"),
    path("settings", views.settings_view, name="settings"),
    path("settings/api-keys/<uuid:key_id>/revoke", views.api_key_revoke, name="api-key-revoke"),
]
