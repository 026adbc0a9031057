"""The OpenAI-compatible routes, mounted at /v1/ (clients use base_url=<server>/v1)."""

from django.urls import path

from images.api import openai, openai_edits

urlpatterns = [
    path("images/generations", openai.ImagesGenerationsView.as_view(), name="openai-images-generations"),
    path("images/edits", openai_edits.ImagesEditsView.as_view(), name="openai-images-edits"),
    path("models", openai.ModelsView.as_view(), name="openai-models"),
    path("models/<str:model>", openai.ModelDetailView.as_view(), name="openai-model"),
]
