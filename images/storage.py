"""Where image files live and the URLs they are served from.

Everything goes through Django's storage API, so the same code writes local
files (embedded default) or S3 objects (``IMAGE_S3_BUCKET``). Keys are
deterministic, so a job that is run again overwrites its own files instead of
leaving strays, and they say who may see a file:

- ``public/<user>/<image>/<name>``: published images (public, not hidden,
  ready), the only prefix the CDN serves;
- ``private/<user>/<image>-<secret>/<name>``: everything else; ``<secret>`` is
  an HMAC of the image id keyed with ``SECRET_KEY``, so nothing a user sees
  (ids in public lists, sibling outputs of a generation) leads to the key.

``images/<user>/<image>/<name>`` is the layout before that split: rows may
still point there until ``manage.py storage_relayout`` has moved them.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlencode

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.crypto import salted_hmac

from imagegen.signing import expiring_signature_valid

# Signed local URLs expire on these boundaries, so a URL stays the same for a
# while and browsers can cache the image.
_URL_BUCKET_SECONDS = 300
# What quote() leaves as it is (its default safe "/" included).
_URL_SAFE_KEY = re.compile(r"[A-Za-z0-9_.~/-]*")

# Direct uploads land under here, one random key per attempt (see images/services/uploads.py).
UPLOAD_STAGING_PREFIX = "uploads/"


PUBLIC_PREFIX = "public/"
PRIVATE_PREFIX = "private/"
LEGACY_PREFIX = "images/"
KEY_PREFIXES = (PUBLIC_PREFIX, PRIVATE_PREFIX, LEGACY_PREFIX)
_SECRET_LENGTH = 32  # hex digits: 128 bits


def private_folder_secret(image_id: object) -> str:
    """The part of a non-public image's keys that cannot be derived from its id."""
    digest = salted_hmac("imagegen.storage.private-folder", str(image_id), algorithm="sha256").hexdigest()
    return digest[:_SECRET_LENGTH]


def image_key(*, user_id: object, image_id: object, name: str, public: bool = False) -> str:
    """Where file ``name`` of an image is stored: under ``public/`` only when asked for."""
    if public:
        return f"{PUBLIC_PREFIX}{user_id}/{image_id}/{name}"
    return f"{PRIVATE_PREFIX}{user_id}/{image_id}-{private_folder_secret(image_id)}/{name}"


def key_name(key: str) -> str:
    """The file name of a key (``original.png``), whatever its folder."""
    return key.rsplit("/", 1)[-1]


def is_public_key(key: str) -> bool:
    return key.startswith(PUBLIC_PREFIX)


def is_image_key(key: str) -> bool:
    """Whether ``key`` is one of our image files' keys (and nothing that climbs out of them)."""
    return key.startswith(KEY_PREFIXES) and ".." not in key.split("/")


def upload_staging_key(*, user_id: object, image_id: object) -> str:
    """A fresh key for one direct upload attempt; never served, and dead once the upload is completed."""
    return f"{UPLOAD_STAGING_PREFIX}{user_id}/{image_id}/{secrets.token_urlsafe(16)}"


def is_s3() -> bool:
    return bool(settings.IMAGE_S3_BUCKET)


def store_bytes(key: str, data: bytes) -> None:
    """Write ``data`` at exactly ``key``, replacing what is there."""
    if is_s3():
        # One PUT replaces an S3 object atomically, and file_overwrite keeps the key as given:
        # no HEAD requests first (they were two of the three requests per file).
        default_storage.save(key, ContentFile(data))
        return
    if default_storage.exists(key):
        default_storage.delete(key)
    saved = default_storage.save(key, ContentFile(data))
    if saved != key:  # another writer raced us to the key: keep ours, drop theirs
        default_storage.delete(saved)
        raise RuntimeError(f"storage wrote {saved!r} instead of {key!r}")


# Writers shared by the jobs of one process: on S3 each thread keeps its own client (django-storages
# holds connections per thread), so the threads outlive a job and their clients are reused.
_WRITERS: tuple[int, ThreadPoolExecutor] | None = None
_WRITERS_LOCK = threading.Lock()
WRITER_THREADS = 4


def _writers() -> ThreadPoolExecutor:
    global _WRITERS
    with _WRITERS_LOCK:
        # A forked child (Celery's prefork pool) inherits the object but none of its threads.
        if _WRITERS is None or _WRITERS[0] != os.getpid():
            _WRITERS = (os.getpid(), ThreadPoolExecutor(WRITER_THREADS, thread_name_prefix="storage-writer"))
        return _WRITERS[1]


def store_many(files: dict[str, bytes], *, write: Callable[[str, bytes], None] = store_bytes) -> None:
    """``write`` (``store_bytes``) each file at its key; on S3 side by side (about one PUT's time for all).

    Raises the first error once every write has ended (some files may then be written).
    """
    if not is_s3() or len(files) < 2:
        for key, data in files.items():
            write(key, data)
        return
    writes = [_writers().submit(write, key, data) for key, data in files.items()]
    errors = [exc for exc in (w.exception() for w in writes) if exc is not None]
    if errors:
        raise errors[0]


def read_bytes(key: str) -> bytes:
    with default_storage.open(key, "rb") as handle:
        return handle.read()


def key_exists(key: str) -> bool:
    return default_storage.exists(key)


def copy_key(source: str, target: str) -> bool:
    """Copy the object at ``source`` to ``target`` (replacing it); False when ``source`` does not exist.

    On S3 the copy happens inside the bucket (CopyObject keeps the content type), nothing goes through us.
    """
    if is_s3():
        from botocore.exceptions import ClientError

        client = default_storage.connection.meta.client
        bucket = settings.IMAGE_S3_BUCKET
        try:
            client.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": source})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
                return False
            raise
        return True
    try:
        data = read_bytes(source)
    except FileNotFoundError:
        return False
    store_bytes(target, data)
    return True


def delete_keys(keys: list[str]) -> None:
    """Delete stored objects; a missing one is not an error."""
    for key in keys:
        if key:
            default_storage.delete(key)


def _local_signature(key: str, expires: int, attachment: str = "") -> str:
    return _signature(settings.SECRET_KEY, key, expires, attachment)


@functools.lru_cache(maxsize=4)
def _keyed_hmac(secret: str) -> hmac.HMAC:
    # Preparing the key (its inner and outer pads) is half the cost of a short HMAC:
    # done once per secret, then copied for each message.
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def _signature(secret: str, key: str, expires: int, attachment: str) -> str:
    # The attachment name is signed too, so a link cannot be edited to save a file under another name.
    message = f"{key}:{expires}:{attachment}" if attachment else f"{key}:{expires}"
    mac = _keyed_hmac(secret).copy()
    mac.update(message.encode())
    return mac.hexdigest()[:32]


def url_epoch(*, ttl: int | None = None, now: float | None = None) -> int:
    """The period signed URLs made now belong to: they change when it does (every few minutes).

    Part of the ETags of API answers that carry URLs: an answer revalidated
    within one period holds URLs that are as valid as fresh ones.
    """
    ttl = ttl or settings.PRESIGNED_URL_TTL
    now = time.time() if now is None else now
    return math.ceil((now + ttl) / _URL_BUCKET_SECONDS)


def _expires(*, ttl: int | None = None, now: float | None = None) -> int:
    return url_epoch(ttl=ttl, now=now) * _URL_BUCKET_SECONDS


@functools.lru_cache(maxsize=32768)
def _signed_local_url(media_url: str, secret: str, key: str, expires: int, attachment: str = "") -> str:
    # Cached: a URL is the same for a whole period (url_epoch), and a gallery asks for the
    # same hundreds of them again and again.
    signature = _signature(secret, key, expires, attachment)
    # Keys we make need no quoting, and the query is two safe values, so the
    # general-purpose quoting is skipped unless a value needs it.
    path = key if _URL_SAFE_KEY.fullmatch(key) else quote(key)
    query = f"expires={expires}&signature={signature}"
    if attachment:
        query += "&" + urlencode({"attachment": attachment})
    return f"{media_url}{path}?{query}"


def signed_local_url(key: str, *, ttl: int | None = None, now: float | None = None, attachment: str = "") -> str:
    """A relative URL of our media view for ``key``; with ``attachment`` the file downloads under that name."""
    expires = _expires(ttl=ttl, now=now)
    return _signed_local_url(settings.MEDIA_URL, settings.SECRET_KEY, key, expires, attachment)


def verify_local_signature(
    key: str, expires: str, signature: str, *, attachment: str = "", now: float | None = None
) -> bool:
    return expiring_signature_valid(lambda at: _local_signature(key, at, attachment), expires, signature, now=now)


def file_url(key: str, *, public: bool = False) -> str:
    """A URL a client can fetch ``key`` from.

    Public images behind a CDN get its permanent URL, once their files are
    under ``public/`` (the only prefix the CDN serves); everything else a
    presigned S3 URL or a signed local URL, both expiring after
    ``PRESIGNED_URL_TTL``. Local URLs are relative: callers with a request
    make them absolute.
    """
    return FileUrls()(key, public=public)


class FileUrls:
    """``file_url`` for the many keys of one answer: what does not depend on the key is read once.

    The URLs of one answer share their expiry, even across a period's boundary.
    """

    def __init__(self, *, now: float | None = None) -> None:
        self._cdn = settings.CDN_URL
        self._s3 = is_s3()
        self._expires = _expires(now=now)
        self._media_url = settings.MEDIA_URL
        self._secret = settings.SECRET_KEY

    @property
    def fingerprint(self) -> tuple:
        """What the URLs made here depend on besides their keys: equal fingerprints, equal URLs.

        S3's presigned URLs are taken as alike within one signing period, as the answers' ETags
        take them (``url_epoch``).
        """
        storage = (settings.IMAGE_S3_BUCKET, settings.AWS_ENDPOINT_URL, settings.AWS_REGION) if self._s3 else ()
        return (self._cdn, self._media_url, self._secret, self._expires, storage)

    def __call__(self, key: str, *, public: bool = False) -> str:
        if public and self._cdn and is_public_key(key):
            return f"{self._cdn}/{quote(key)}"
        if self._s3:
            return default_storage.url(key)
        return _signed_local_url(self._media_url, self._secret, key, self._expires)


def iter_chunks(key: str, *, chunk_size: int = 256 * 1024) -> Iterator[bytes]:
    """The stored object at ``key`` as a stream of chunks, never whole in memory (S3: one streamed GET)."""
    if is_s3():
        client = default_storage.connection.meta.client
        body = client.get_object(Bucket=settings.IMAGE_S3_BUCKET, Key=key)["Body"]
        try:
            yield from body.iter_chunks(chunk_size)
        finally:
            body.close()
        return
    with default_storage.open(key, "rb") as handle:
        while chunk := handle.read(chunk_size):
            yield chunk
