"""Examples of the images API's requests and answers, shown in /api/docs and sent by schemathesis' examples phase."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

BASE = "https://imagegen.example.com"
GENERATION_ID = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"
IMAGE_ID = "0b6d8f2a-1c3e-4a5b-9d7f-2e4c6a8b0d1f"

IMAGE = {
    "id": IMAGE_ID,
    "source": "generated",
    "generation": GENERATION_ID,
    "title": "",
    "prompt": "a lighthouse at dusk, watercolor",
    "width": 1024,
    "height": 1024,
    "format": "PNG",
    "content_type": "image/png",
    "bytes": 1482213,
    "sha256": "9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f",
    "url": f"{BASE}/media/private/u/{IMAGE_ID}/original.png?expires=1764547200&sig=Zm9v",
    "thumbnail_url": f"{BASE}/media/private/u/{IMAGE_ID}/thumb_256.webp?expires=1764547200&sig=YmFy",
    "variants": {
        "thumb_256": {
            "url": f"{BASE}/media/private/u/{IMAGE_ID}/thumb_256.webp?expires=1764547200&sig=YmFy",
            "width": 256,
            "height": 256,
            "format": "WEBP",
            "bytes": 9120,
        },
    },
    "dominant_color": "#3a5f8c",
    "exif": {},
    "tags": ["lighthouse", "sea"],
    "category": "landscapes",
    "visibility": "private",
    "favorite": False,
    "processing": "ready",
    "created_at": "2026-11-30T09:15:02.481Z",
    "labels": [{"name": "Square", "confidence": 1.0}, {"name": "Blue", "confidence": 0.82}],
    "moderation": {"status": "ok", "categories": [], "reason": None, "appealed": False},
}

GENERATION = {
    "id": GENERATION_ID,
    "status": "succeeded",
    "progress": 100,
    "prompt": "a lighthouse at dusk",
    "negative_prompt": "",
    "style": "watercolor",
    "width": 1024,
    "height": 1024,
    "n": 1,
    "seed": 42,
    "provider": "builtin",
    "model": "builtin-v1",
    "quality": "",
    "strength": None,
    "reference_images": [],
    "reference_image_urls": [],
    "images": [IMAGE],
    "error": None,
    "metadata": {"order": "A-1001"},
    "webhook_url": "",
    "webhook_events": [],
    "queue_position": None,
    "created_at": "2026-11-30T09:15:00.102Z",
    "started_at": "2026-11-30T09:15:00.350Z",
    "finished_at": "2026-11-30T09:15:02.490Z",
    "duration_ms": 2140,
}

QUEUED = {
    **GENERATION,
    "status": "queued",
    "progress": 0,
    "images": [],
    "queue_position": 1,
    "started_at": None,
    "finished_at": None,
    "duration_ms": None,
}


def answer(value: object, *, status: str = "200", name: str = "Answer") -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[status])


def request(value: object, *, name: str = "Request") -> OpenApiExample:
    return OpenApiExample(name, value=value, request_only=True)


GENERATION_CREATE = [
    request(
        {
            "prompt": "a lighthouse at dusk",
            "style": "watercolor",
            "size": "1024x1024",
            "seed": 42,
            "metadata": {"order": "A-1001"},
        },
    ),
    answer(QUEUED, status="202", name="Queued"),
    answer(GENERATION, name="Ended (Prefer: wait)"),
]
GENERATION_LIST = [answer(GENERATION)]
GENERATION_DETAIL = [answer(GENERATION)]
GENERATION_CANCEL = [
    answer({**QUEUED, "status": "canceled", "queue_position": None, "finished_at": QUEUED["created_at"]})
]

IMAGE_LIST = [answer(IMAGE)]
IMAGE_DETAIL = [answer(IMAGE)]
IMAGE_UPLOAD = [answer({"images": [{**IMAGE, "source": "uploaded", "generation": None, "prompt": ""}]}, status="201")]
IMAGE_UPDATE = [
    request({"title": "Dusk", "tags": ["lighthouse", "sea"], "visibility": "unlisted"}),
    answer({**IMAGE, "title": "Dusk", "visibility": "unlisted"}),
]
IMAGE_COMPLETE = [
    answer(
        {
            **IMAGE,
            "source": "uploaded",
            "generation": None,
            "processing": "pending",
            "url": None,
            "thumbnail_url": None,
            "variants": {},
        },
        status="202",
    ),
    answer({**IMAGE, "source": "uploaded", "generation": None}),
]
DIRECT_UPLOAD = [
    request({"filename": "harbour.jpg", "content_type": "image/jpeg", "bytes": 2481034}),
    answer(
        {
            "image_id": IMAGE_ID,
            "upload": {
                "url": f"{BASE}/uploads/{IMAGE_ID}?expires=1764547200&sig=cXV4",
                "method": "PUT",
                "headers": {"Content-Type": "image/jpeg"},
            },
            "expires_in": 900,
        },
        status="201",
    ),
]
APPEAL = [
    request({"message": "It is an anatomy plate for a medical course, not a photograph of a person."}),
    answer(
        {
            **IMAGE,
            "moderation": {
                "status": "pending_review",
                "categories": ["violence/graphic"],
                "reason": "Graphic injuries are not allowed here.",
                "appealed": True,
            },
        }
    ),
]
BULK_DELETE = [
    request({"ids": [IMAGE_ID, GENERATION_ID]}),
    answer({"deleted": [IMAGE_ID], "not_found": [GENERATION_ID]}),
]
STATS = [
    answer(
        {
            "images": {"total": 12, "generated": 9, "uploaded": 3, "public": 2},
            "generations": {"total": 10, "queued": 0, "running": 1, "succeeded": 8, "failed": 1, "canceled": 0},
            "storage_bytes": 18234112,
            "this_month": {"since": "2026-11-01T00:00:00Z", "generations": 10, "images_requested": 11, "images": 12},
            "mean_generation_seconds": 2.4,
            "quota": {"daily_limit": 50, "used_today": 4, "remaining": 46, "resets_at": "2026-12-01T00:00:00Z"},
        }
    )
]

MODEL = {"id": "builtin-v1", "object": "model", "created": 0, "owned_by": "imagegen:builtin"}
_OPENAI_IMAGES = {
    "created": 1764493502,
    "data": [{"url": IMAGE["url"], "revised_prompt": "a lighthouse at dusk"}],
    "size": "1024x1024",
    "quality": "medium",
    "background": "opaque",
    "output_format": "png",
    "usage": {
        "input_tokens": 5,
        "input_tokens_details": {"text_tokens": 5, "image_tokens": 0},
        "output_tokens": 1056,
        "total_tokens": 1061,
        "estimated": True,
    },
}
OPENAI_GENERATE = [
    request({"prompt": "a lighthouse at dusk", "model": "builtin-v1", "size": "1024x1024", "response_format": "url"}),
    answer(_OPENAI_IMAGES),
]
OPENAI_EDIT = [answer(_OPENAI_IMAGES)]
OPENAI_MODELS = [answer({"object": "list", "data": [MODEL]})]
OPENAI_MODEL = [answer(MODEL)]

ALBUM_ID = "8c4e2a6b-5d7f-4e9a-8b1c-3d5f7a9b1c2d"
SHARE_ID = "1a3c5e7b-9d2f-4a6c-8e1b-5d7f9a2c4e6b"
TOKEN = "q4Zr7uT2yW9aB3cD6eF8gH1jK5mN0pS"  # noqa: S105 - an example, not a secret
ALBUM = {
    "id": ALBUM_ID,
    "title": "Lighthouses",
    "description": "Coasts at dusk",
    "cover": IMAGE,
    "image_count": 12,
    "created_at": "2026-11-30T09:20:00Z",
    "updated_at": "2026-11-30T09:25:00Z",
}
ALBUM_LIST = [answer(ALBUM)]
ALBUM_DETAIL = [answer(ALBUM)]
ALBUM_CREATE = [
    request({"title": "Lighthouses", "description": "Coasts at dusk"}),
    answer({**ALBUM, "cover": None, "image_count": 0}, status="201"),
]
ALBUM_UPDATE = [
    request({"title": "Lighthouses at dusk", "cover": IMAGE_ID}),
    answer({**ALBUM, "title": "Lighthouses at dusk"}),
]
ALBUM_ADD = [request({"ids": [IMAGE_ID, GENERATION_ID]}), answer({"added": [IMAGE_ID], "not_found": [GENERATION_ID]})]
ALBUM_REMOVE = [request({"ids": [IMAGE_ID]}), answer({"removed": [IMAGE_ID], "not_found": []})]
DOWNLOAD_ZIP = [request({"ids": [IMAGE_ID], "variant": "original"})]
SHARE_LINK = {
    "id": SHARE_ID,
    "token": TOKEN,
    "url": f"{BASE}/s/{TOKEN}",
    "kind": "album",
    "image": None,
    "album": ALBUM_ID,
    "expires_at": "2026-12-30T09:30:00Z",
    "has_password": True,
    "allow_download": True,
    "view_count": 3,
    "created_at": "2026-11-30T09:30:00Z",
}
SHARE_LINKS = [answer(SHARE_LINK)]
SHARE_LINK_CREATE = [
    request({"album": ALBUM_ID, "expires_in": 2592000, "password": "tide-pool", "allow_download": True}),
    answer({**SHARE_LINK, "view_count": 0}, status="201"),
]
SHARED_IMAGE = {key: IMAGE[key] for key in (
    "id", "title", "prompt", "width", "height", "format", "content_type", "bytes", "url", "thumbnail_url",
    "variants", "dominant_color", "tags", "created_at",
)}  # fmt: skip
SHARED = [
    answer(
        {
            "kind": "album",
            "allow_download": True,
            "download_url": f"{BASE}/api/v1/shared/{TOKEN}/download",
            "album": {
                "id": ALBUM_ID,
                "title": "Lighthouses",
                "description": "Coasts at dusk",
                "image_count": 1,
                "images": [SHARED_IMAGE],
            },
        }
    )
]
PUBLIC_IMAGE = [answer({**IMAGE, "visibility": "public"})]
