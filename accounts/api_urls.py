"""Routes under /api/v1/ owned by the accounts app (auth, /me, API keys)."""

urlpatterns: list = []
