"""Routes under /api/v1/ owned by the images app (generations, images, usage)."""

from django.urls import path

from images.api import albums, archives, generations, images, links, moderation, sharing, usage

urlpatterns = [
    path("generations", generations.GenerationListCreateView.as_view(), name="generation-list"),
    path("generations/<str:pk>", generations.GenerationDetailView.as_view(), name="generation-detail"),
    path("generations/<str:pk>/cancel", generations.GenerationCancelView.as_view(), name="generation-cancel"),
    path("images", images.ImageListCreateView.as_view(), name="image-list"),
    path("images/upload-url", images.ImageUploadUrlView.as_view(), name="image-upload-url"),
    path("images/bulk-delete", images.ImageBulkDeleteView.as_view(), name="image-bulk-delete"),
    path("images/download-zip", archives.ImagesDownloadZipView.as_view(), name="image-download-zip"),
    path("images/<uuid:pk>", images.ImageDetailView.as_view(), name="image-detail"),
    path("images/<uuid:pk>/complete", images.ImageCompleteView.as_view(), name="image-complete"),
    path("images/<uuid:pk>/download", images.ImageDownloadView.as_view(), name="image-download"),
    path("images/<uuid:pk>/appeal", moderation.ImageAppealView.as_view(), name="image-appeal"),
    path("public/images", images.PublicImageListView.as_view(), name="public-image-list"),
    path("public/images/<uuid:pk>", links.PublicImageDetailView.as_view(), name="public-image-detail"),
    path("albums", albums.AlbumListCreateView.as_view(), name="album-list"),
    path("albums/<uuid:pk>", albums.AlbumDetailView.as_view(), name="album-detail"),
    path("albums/<uuid:pk>/images", albums.AlbumImagesAddView.as_view(), name="album-images-add"),
    path("albums/<uuid:pk>/images/remove", albums.AlbumImagesRemoveView.as_view(), name="album-images-remove"),
    path("albums/<uuid:pk>/download", archives.AlbumDownloadView.as_view(), name="album-download"),
    path("share-links", sharing.ShareLinkListCreateView.as_view(), name="share-link-list"),
    path("share-links/<uuid:pk>", sharing.ShareLinkDetailView.as_view(), name="share-link-detail"),
    path("shared/<str:token>", sharing.SharedView.as_view(), name="shared"),
    path("shared/<str:token>/download", archives.SharedDownloadView.as_view(), name="shared-download"),
    path("me/stats", usage.StatsView.as_view(), name="api-me-stats"),
]
