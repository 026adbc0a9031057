from __future__ import annotations

import uuid

import factory

from images.models import Generation, Image
from images.storage import image_key
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
    # Where the app would store it: under public/ for a published image, private/ otherwise.
    storage_key = factory.LazyAttribute(
        lambda o: image_key(user_id=o.user.pk, image_id=o.id, name="original.png", public=_published(o))
    )
    variants = factory.LazyAttribute(
        lambda o: {"thumb_256": {"key": o.storage_key.replace("original.png", "thumb_256.webp"), "width": 256,
                                 "height": 256, "format": "WEBP", "bytes": 100}}
    )  # fmt: skip


def _published(o: object) -> bool:
    return (
        getattr(o, "visibility", Image.Visibility.PRIVATE) == Image.Visibility.PUBLIC
        and not getattr(o, "is_hidden", False)
        and o.processing == Image.Processing.READY
    )
