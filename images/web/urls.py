"""The gallery's pages (SPEC §3); the API's routes are in ``images/api/urls.py``."""

from django.urls import path

from images.web import moderation, organize, views

urlpatterns = [
    path("", views.home, name="home"),
    path("public", views.public_gallery, name="public-gallery"),
    path("gallery", views.gallery, name="gallery"),
    path("gallery/delete", views.gallery_delete, name="gallery-delete"),
    path("gallery/add-to-album", organize.gallery_add_to_album, name="gallery-add-to-album"),
    path("albums", organize.albums_page, name="albums"),
    path("albums/<uuid:pk>", organize.album_page, name="album"),
    path("albums/<uuid:pk>/delete", organize.album_delete_view, name="album-delete"),
    path("albums/<uuid:pk>/remove", organize.album_remove_view, name="album-remove"),
    path("albums/<uuid:pk>/share", organize.album_share, name="album-share"),
    path("albums/<uuid:pk>/download", organize.album_download, name="album-download-page"),
    path("gallery/download-zip", organize.gallery_download_zip, name="gallery-download-zip"),
    path("s/<str:token>/download", organize.share_download, name="share-download-page"),
    path("images/<uuid:pk>/share", organize.image_share, name="image-share"),
    path("share-links/<uuid:pk>/revoke", organize.share_revoke, name="share-revoke"),
    path("s/<str:token>", organize.share_page, name="share-page"),
    path("create", views.create, name="create"),
    path("generations/<uuid:pk>", views.generation_detail, name="generation"),
    path("generations/<uuid:pk>/cancel", views.generation_cancel_view, name="generation-cancel-page"),
    path("images/<uuid:pk>", views.image_detail, name="image"),
    path("images/<uuid:pk>/delete", views.image_delete_view, name="image-delete"),
    path("images/<uuid:pk>/favorite", organize.image_favorite, name="image-favorite"),
    path("images/<uuid:pk>/appeal", moderation.image_appeal_view, name="image-appeal-page"),
    path("upload", views.upload, name="upload"),
    path("stats", views.stats_view, name="stats"),
]
