"""Routes under /api/v1/ owned by the images app (generations, images)."""

urlpatterns: list = []
