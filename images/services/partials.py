"""Intermediate frames of a running job, published by the worker for streams to send.

The worker stores each frame as a small file (``partials/<user>/<generation>/...``)
and lists it in ``Generation.partial_frames`` with a write conditional on still
owning the job. A stream (images/api/openai_stream.py) polls that one column
the way ``Prefer: wait`` polls the status, and reads the files it has not sent
yet: no web process waits on the worker, and the worker never waits on a client.
Frames are best effort: a storage or database hiccup loses a frame, never the job.
Their files are deleted by ``partial_frames_sweep`` once the job has been over
for a while (a stream that is still sending has finished long before); so are
edits' masks, a day after the edit ended.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from imagegen.database import DATABASE_ERRORS
from images.models import Generation
from images.processing import EXTENSIONS
from images.storage import delete_keys, store_bytes

logger = logging.getLogger(__name__)

PARTIALS_PREFIX = "partials/"
# How long after a job ends its frames are kept: streams end when the job does.
PARTIALS_KEPT = timedelta(minutes=10)
# An edit's mask (images/services/edits.py) is kept a day, for a staff retry of a failed edit.
MASKS_KEPT = timedelta(days=1)


def partial_key(*, user_id: object, generation_id: object, attempt: int, index: int, partial: int, ext: str) -> str:
    return f"{PARTIALS_PREFIX}{user_id}/{generation_id}/{attempt}-{index}-{partial}.{ext}"


class PartialPublisher:
    """The ``on_partial_image`` callback of one attempt: store the frame, then list it on the row."""

    def __init__(self, generation: Generation, attempt: int) -> None:
        self.generation = generation
        self.attempt = attempt
        self.frames: list[dict] = []

    def __call__(self, index: int, partial: int, data: bytes, content_type: str) -> None:
        generation = self.generation
        key = partial_key(
            user_id=generation.user_id,
            generation_id=generation.pk,
            attempt=self.attempt,
            index=index,
            partial=partial,
            ext=EXTENSIONS.get(content_type, "bin"),
        )
        try:
            store_bytes(key, data)
            frame = {"index": index, "partial_image_index": partial, "key": key, "content_type": content_type}
            frames = [*self.frames, frame]
            owned = Generation.objects.filter(pk=generation.pk, status=Generation.Status.RUNNING, attempts=self.attempt)
            if owned.update(partial_frames=frames):
                self.frames = frames
        except (OSError, *DATABASE_ERRORS):
            logger.warning("a partial image was not published", extra={"generation": str(generation.pk)}, exc_info=True)


def partial_frames_sweep(*, now=None) -> int:
    """Delete the frame files of jobs that ended more than PARTIALS_KEPT ago, and the masks of edits that
    ended more than MASKS_KEPT ago; returns how many jobs had files deleted."""
    now = now or timezone.now()
    return _frames_sweep(before=now - PARTIALS_KEPT) + _masks_sweep(before=now - MASKS_KEPT)


def _masks_sweep(*, before) -> int:
    ended = Generation.objects.filter(
        status__in=Generation.FINISHED, finished_at__lt=before, options__has_key="mask_key"
    )
    swept = 0
    for pk, options in ended.values_list("pk", "options")[:500]:
        delete_keys([options["mask_key"]])
        Generation.objects.filter(pk=pk).update(options={k: v for k, v in options.items() if k != "mask_key"})
        swept += 1
    return swept


def _frames_sweep(*, before) -> int:
    ended = (
        Generation.objects.filter(status__in=Generation.FINISHED, finished_at__lt=before)
        .exclude(partial_frames=[])
        .filter(~Q(partial_frames=None))
    )
    swept = 0
    for pk, frames in ended.values_list("pk", "partial_frames")[:500]:
        delete_keys([frame["key"] for frame in frames if isinstance(frame, dict) and frame.get("key")])
        Generation.objects.filter(pk=pk).update(partial_frames=[])
        swept += 1
    return swept
