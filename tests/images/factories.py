from __future__ import annotations

import uuid

import factory

from images.models import Generation, Image
from tests.factories import UserFactory


class GenerationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Generation

    user = factory.SubFactory(UserFactory)
    prompt = factory.Sequence(lambda n: f"a lighthouse in a storm #{n}")
    width = 512
    height = 512
    seed = factory.Sequence(int)
    provider = "builtin"
    model = "builtin-v1"


class ImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Image

    user = factory.SubFactory(UserFactory)
    source = Image.Source.GENERATED
    processing = Image.Processing.READY
    width = 512
    height = 512
    format = "PNG"
    content_type = "image/png"
    bytes = 1000
    id = factory.LazyFunction(uuid.uuid4)
    storage_key = factory.LazyAttribute(lambda o: f"images/{o.user.pk}/{o.id}/original.png")
    variants = factory.LazyAttribute(
        lambda o: {"thumb_256": {"key": o.storage_key.replace("original.png", "thumb_256.webp"), "width": 256,
                                 "height": 256, "format": "WEBP", "bytes": 100}}
    )  # fmt: skip
