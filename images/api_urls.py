"""Routes under /api/v1/ owned by the images app (generations, images)."""

from django.urls import path

from images import api, image_api

urlpatterns = [
    path("generations", api.GenerationListCreateView.as_view(), name="generation-list"),
    path("generations/<str:pk>", api.GenerationDetailView.as_view(), name="generation-detail"),
    path("generations/<str:pk>/cancel", api.GenerationCancelView.as_view(), name="generation-cancel"),
    path("images", image_api.ImageListCreateView.as_view(), name="image-list"),
    path("images/upload-url", image_api.ImageUploadUrlView.as_view(), name="image-upload-url"),
    path("images/bulk-delete", image_api.ImageBulkDeleteView.as_view(), name="image-bulk-delete"),
    path("images/<uuid:pk>", image_api.ImageDetailView.as_view(), name="image-detail"),
    path("images/<uuid:pk>/complete", image_api.ImageCompleteView.as_view(), name="image-complete"),
    path("images/<uuid:pk>/download", image_api.ImageDownloadView.as_view(), name="image-download"),
    path("public/images", image_api.PublicImageListView.as_view(), name="public-image-list"),
]
