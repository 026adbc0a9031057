"""The hand-written representations say exactly what DRF's declared fields would."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory

from images.api.serializers import IMAGE_ROW_FIELDS, GenerationSerializer, ImageSerializer
from images.models import Generation, Image, Tag
from images.services.generations import generation_get, generation_queryset
from images.services.library import image_get, image_queryset
from tests.images.factories import GenerationFactory, ImageFactory

pytestmark = pytest.mark.django_db


def rendered(data: object) -> object:
    return json.loads(JSONRenderer().render(data))


def context() -> dict:
    return {"request": APIRequestFactory().get("/")}


def by_drf(serializer: serializers.ModelSerializer, obj: object) -> object:
    """What DRF's generic field-by-field path gives for ``obj``."""
    return rendered(serializers.ModelSerializer.to_representation(serializer, obj))


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"processing": Image.Processing.PENDING, "width": None, "height": None},
        {"visibility": Image.Visibility.PUBLIC, "title": "Dusk", "exif": {"Make": "X"}, "category": "sea"},
        {"generation": None, "source": Image.Source.UPLOADED, "index": None},
    ],
    ids=["generated", "unprocessed upload", "public with details", "upload"],
)
def test_an_image_is_rendered_as_by_its_declared_fields(user, fields):
    if "generation" not in fields:
        fields = {"generation": GenerationFactory(user=user), **fields}
    image = ImageFactory(user=user, **fields)
    image.tags.add(Tag.objects.create(name="b"), Tag.objects.create(name="a"))
    serializer = ImageSerializer(context=context())

    for loaded in (image_get(user=user, image_id=image.pk), Image.objects.get(pk=image.pk)):
        assert rendered(serializer.to_representation(loaded)) == by_drf(serializer, loaded)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"processing": Image.Processing.PENDING, "width": None, "height": None},
        {"visibility": Image.Visibility.PUBLIC, "title": "Dusk", "exif": {"Make": "X"}, "category": "sea"},
        {"visibility": Image.Visibility.PUBLIC, "is_hidden": True},
        {"generation": None, "source": Image.Source.UPLOADED, "index": None},
    ],
    ids=["generated", "unprocessed upload", "public with details", "hidden by staff", "upload"],
)
def test_a_list_row_is_rendered_as_its_model_instance(user, settings, fields):
    settings.CDN_URL = "https://cdn.example"  # published and unpublished images get different URLs
    if "generation" not in fields:
        fields = {"generation": GenerationFactory(user=user), **fields}
    image = ImageFactory(user=user, **fields)
    image.tags.add(Tag.objects.create(name="b"), Tag.objects.create(name="a"))
    untagged = ImageFactory(user=user, **fields)
    serializer = ImageSerializer(context=context())

    for each in (image, untagged):
        row = image_queryset(user=user).filter(pk=each.pk).values(*IMAGE_ROW_FIELDS).get()
        assert rendered(serializer.to_representation(row)) == by_drf(serializer, image_get(user=user, image_id=each.pk))


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"status": Generation.Status.RUNNING, "progress": 40, "strength": 0.25, "quality": "high"},
        {"status": Generation.Status.FAILED, "error_code": "provider_failed", "error_message": "no"},
        {"status": Generation.Status.SUCCEEDED, "metadata": {"k": [1, 2]}, "webhook_url": "https://h.example/x",
         "webhook_events": ["completed"], "reference_image_urls": ["https://h.example/r.png"]},
    ],
    ids=["queued", "running", "failed", "succeeded"],
)  # fmt: skip
def test_a_generation_is_rendered_as_by_its_declared_fields(user, fields):
    now = timezone.now()
    generation = GenerationFactory(user=user, started_at=now - timedelta(seconds=3), finished_at=now, **fields)
    ImageFactory(user=user, generation=generation, index=0)
    serializer = GenerationSerializer(context=context())

    for loaded in (generation_get(user=user, generation_id=generation.pk), generation_queryset(user=user).get()):
        assert rendered(serializer.to_representation(loaded)) == by_drf(serializer, loaded)
        assert len(rendered(serializer.to_representation(loaded))["images"]) == 1
