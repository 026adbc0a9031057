"""The OpenAI-compatible routes, mounted at /v1/ (clients use base_url=<server>/v1)."""

from django.urls import path

from images import openai_api

urlpatterns = [
    path("images/generations", openai_api.ImagesGenerationsView.as_view(), name="openai-images-generations"),
    path("models", openai_api.ModelsView.as_view(), name="openai-models"),
    path("models/<str:model>", openai_api.ModelDetailView.as_view(), name="openai-model"),
]
