"""The ``kie`` provider: KIE's asynchronous image task API (origin 001).

A job is: create a task, poll its record until it succeeds or fails, then
download the result URLs. KIE has two task APIs and ``KIE_MODEL`` picks one:

* ``flux-kontext-pro`` / ``flux-kontext-max`` (any ``flux-kontext-*``): the
  Flux Kontext API. ``POST /api/v1/flux/kontext/generate`` with
  ``{prompt, model, aspectRatio, outputFormat, inputImage?}`` answers
  ``{code, msg, data: {taskId}}``; ``GET /api/v1/flux/kontext/record-info?taskId=``
  answers ``data.successFlag`` (0 generating, 1 success, 2/3 failed),
  ``data.response.resultImageUrl`` and ``data.errorMessage``. It takes one
  reference image.
* any other model, e.g. ``flux-2/pro-image-to-image`` (the model of origin
  001): the market API. ``POST /api/v1/jobs/createTask`` with
  ``{model, input: {prompt, aspect_ratio, resolution, input_urls?}}``;
  ``GET /api/v1/jobs/recordInfo?taskId=`` answers ``data.state``
  (waiting/queuing/generating/success/fail), ``data.resultJson`` (a JSON string
  with ``resultUrls``) and ``data.failMsg``.

Each task makes one image, so ``n`` images are ``n`` tasks polled together.
``seed`` and ``strength`` have no equivalent in these APIs and are not sent.
References are passed as URLs KIE fetches itself (``ReferenceImage.url``, a
presigned URL of our storage), so they must be reachable from the internet.
KIE answers errors both as HTTP statuses and as a ``code`` in a 200 body; both
are read. Result downloads go through :mod:`images.fetch`'s SSRF guard.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any, ClassVar
from urllib.parse import urlencode

from django.conf import settings

from images.fetch import DEFAULT_POLICY, AddressPolicy
from images.providers.base import (
    CancelCheck,
    GeneratedImage,
    GenerationCanceled,
    ProgressCallback,
    ProviderError,
    RenderRequest,
)
from images.providers.results import download_provider_image, generated_image_from_bytes
from images.styles import styled_prompt

logger = logging.getLogger(__name__)

KNOWN_MODELS = ["flux-kontext-pro", "flux-kontext-max", "flux-2/pro-text-to-image", "flux-2/pro-image-to-image"]
REQUEST_TIMEOUT = 30  # seconds for one API call; the task itself is bounded by KIE_TIMEOUT
_MAX_ANSWER_BYTES = 1024 * 1024
_PENDING, _SUCCESS, _FAILED = "pending", "success", "failed"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # urllib would forward the Authorization header to wherever a redirect points.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


@dataclass(frozen=True)
class _Api:
    create_path: str
    record_path: str
    ratios: tuple[str, ...]
    max_references: int


_KONTEXT = _Api(
    "/api/v1/flux/kontext/generate",
    "/api/v1/flux/kontext/record-info",
    ("21:9", "16:9", "4:3", "1:1", "3:4", "9:16"),
    1,
)
_MARKET = _Api(
    "/api/v1/jobs/createTask", "/api/v1/jobs/recordInfo", ("1:1", "4:3", "3:4", "16:9", "9:16", "3:2", "2:3"), 8
)


def nearest_aspect_ratio(width: int, height: int, ratios: tuple[str, ...]) -> str:
    """The ratio in ``ratios`` ("W:H") closest to width/height, compared on a log scale."""
    target = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = (int(part) for part in ratio.split(":"))
        return abs(math.log(w / h) - target)

    return min(ratios, key=distance)


class KieProvider:
    """Images from KIE (``KIE_API_KEY``, ``KIE_BASE_URL``, ``KIE_MODEL``, ``KIE_POLL_INTERVAL``, ``KIE_TIMEOUT``)."""

    name: ClassVar[str] = "kie"

    def __init__(self, *, fetch_policy: AddressPolicy = DEFAULT_POLICY) -> None:
        # Which hosts result URLs may be downloaded from; tests allow loopback here.
        self.fetch_policy = fetch_policy

    def is_configured(self) -> bool:
        return bool(settings.KIE_API_KEY)

    def models(self) -> list[str]:
        return list(dict.fromkeys([settings.KIE_MODEL, *KNOWN_MODELS]))

    def generate(
        self, request: RenderRequest, *, on_progress: ProgressCallback, should_cancel: CancelCheck
    ) -> list[GeneratedImage]:
        """Create ``request.n`` tasks, poll them every ``KIE_POLL_INTERVAL`` s, download the results.

        5xx, 429 and network trouble while creating raise a retryable
        ``ProviderError``; 4xx, failed tasks and unreadable answers a permanent
        one with KIE's message. A task still unfinished after ``KIE_TIMEOUT``
        raises a permanent ``provider_timeout``: a stuck task is not retried
        forever. Transient errors while polling are tolerated until then.
        """
        model = request.model or settings.KIE_MODEL
        api = _KONTEXT if model.startswith("flux-kontext") else _MARKET
        body = self._task_body(request, model, api)
        if should_cancel():
            raise GenerationCanceled()
        started = time.monotonic()
        task_ids = [self._create(api, body) for _ in range(request.n)]
        on_progress(10)
        urls = self._wait(api, task_ids, started, on_progress, should_cancel)
        images = []
        for url in urls[: request.n]:
            if should_cancel():
                raise GenerationCanceled()
            policy = self.fetch_policy.trusting(settings.KIE_BASE_URL)
            fetched = download_provider_image(url, policy=policy, provider="KIE")
            images.append(generated_image_from_bytes(fetched.data, provider="KIE"))
            on_progress(90 + 10 * len(images) // request.n)
        return images

    # -- requests ------------------------------------------------------------------
    def _task_body(self, request: RenderRequest, model: str, api: _Api) -> dict[str, Any]:
        prompt = styled_prompt(request.prompt, request.style)
        if request.negative_prompt.strip():
            prompt = f"{prompt}. Avoid: {request.negative_prompt.strip()}"
        urls = []
        for reference in request.references:
            if not reference.url:
                raise ProviderError(
                    "KIE fetches reference images by URL and this reference has none "
                    "(KIE needs storage it can reach, such as S3 with presigned URLs)",
                    code="reference_url_required",
                    permanent=True,
                )
            urls.append(reference.url)
        if len(urls) > api.max_references:
            raise ProviderError(
                f"{model} takes at most {api.max_references} reference image(s), got {len(urls)}",
                code="too_many_references",
                permanent=True,
            )
        ratio = nearest_aspect_ratio(request.width, request.height, api.ratios)
        if api is _KONTEXT:
            body: dict[str, Any] = {"prompt": prompt, "model": model, "aspectRatio": ratio, "outputFormat": "png"}
            if urls:
                body["inputImage"] = urls[0]
            return body
        task_input: dict[str, Any] = {
            "prompt": prompt,
            "aspect_ratio": ratio,
            "resolution": "2K" if max(request.width, request.height) > 1024 else "1K",
        }
        if urls:
            task_input["input_urls"] = urls
        return {"model": model, "input": task_input}

    def _create(self, api: _Api, body: dict[str, Any]) -> str:
        data = self._call("POST", api.create_path, body=body)
        task_id = data.get("taskId")
        if not isinstance(task_id, str) or not task_id:
            raise ProviderError("KIE created a task without a taskId", code="invalid_response", permanent=True)
        return task_id

    def _call(self, method: str, path: str, *, body: dict | None = None, query: dict | None = None) -> dict[str, Any]:
        url = settings.KIE_BASE_URL.rstrip("/") + path + (f"?{urlencode(query)}" if query else "")
        req = urllib.request.Request(  # noqa: S310 (KIE_BASE_URL is operator configuration, http(s) only)
            url,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Authorization": f"Bearer {settings.KIE_API_KEY}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": "Imagegen/1.0",
            },
        )
        try:
            with _opener.open(req, timeout=REQUEST_TIMEOUT) as response:
                status, raw = response.status, response.read(_MAX_ANSWER_BYTES)
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read(_MAX_ANSWER_BYTES)
            exc.close()
        except TimeoutError:
            raise ProviderError(
                f"KIE did not answer within {REQUEST_TIMEOUT} s", code="provider_timeout", permanent=False
            ) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise ProviderError(
                    f"KIE did not answer within {REQUEST_TIMEOUT} s", code="provider_timeout", permanent=False
                ) from None
            raise ProviderError(f"could not reach KIE: {exc.reason}", code="provider_unavailable") from None
        except (HTTPException, OSError) as exc:
            raise ProviderError(f"could not reach KIE: {exc}", code="provider_unavailable") from None
        try:
            payload = json.loads(raw)
        except ValueError:
            if status != 200:
                raise _error(status, f"KIE answered HTTP {status}") from None
            raise ProviderError(
                "KIE answered with something that is not JSON", code="invalid_response", permanent=True
            ) from None
        if not isinstance(payload, dict):
            raise ProviderError("KIE answered with unexpected JSON", code="invalid_response", permanent=True)
        message = str(payload.get("msg") or payload.get("message") or f"KIE answered HTTP {status}")
        code = _int(payload.get("code"), default=status)
        if status != 200 or code != 200:
            raise _error(status if status != 200 else code, message)
        data = payload.get("data")
        if not isinstance(data, dict):
            raise ProviderError("KIE's answer has no data object", code="invalid_response", permanent=True)
        return data

    # -- polling -------------------------------------------------------------------
    def _wait(
        self,
        api: _Api,
        task_ids: list[str],
        started: float,
        on_progress: ProgressCallback,
        should_cancel: CancelCheck,
    ) -> list[str]:
        deadline = started + settings.KIE_TIMEOUT
        results: dict[str, list[str]] = {}
        last_error = ""
        while True:
            for task_id in task_ids:
                if task_id in results:
                    continue
                if should_cancel():
                    raise GenerationCanceled()
                try:
                    record = self._call("GET", api.record_path, query={"taskId": task_id})
                except ProviderError as exc:
                    if exc.permanent:
                        raise
                    # The task keeps running at KIE; a blip while asking about it is not a failure.
                    logger.warning("kie poll failed, will retry", extra={"task_id": task_id, "error": exc.message})
                    last_error = f" (last status check: {exc.message})"
                    continue
                state, urls, message = (_kontext_state if api is _KONTEXT else _market_state)(record)
                if state == _FAILED:
                    code = "moderation_blocked" if is_content_refusal(message) else "provider_failed"
                    raise ProviderError(f"KIE task failed: {message}", code=code, permanent=True)
                if state == _SUCCESS:
                    if not urls:
                        raise ProviderError(
                            "KIE reported success without result URLs", code="invalid_response", permanent=True
                        )
                    results[task_id] = urls
            if len(results) == len(task_ids):
                return [url for task_id in task_ids for url in results[task_id]]
            now = time.monotonic()
            if now >= deadline:
                raise ProviderError(
                    f"KIE did not finish the task within {settings.KIE_TIMEOUT} s{last_error}",
                    code="provider_timeout",
                    permanent=True,
                )
            # Rises quickly at first, then slowly towards 90: KIE does not report progress.
            on_progress(10 + int(80 * (1 - math.exp(-(now - started) / 60))))
            time.sleep(min(settings.KIE_POLL_INTERVAL, max(deadline - now, 0)))
            if should_cancel():
                raise GenerationCanceled()


def _kontext_state(record: dict[str, Any]) -> tuple[str, list[str], str]:
    flag = _int(record.get("successFlag"), default=-1)
    if flag == 0:
        return _PENDING, [], ""
    if flag == 1:
        response = record.get("response") if isinstance(record.get("response"), dict) else {}
        url = response.get("resultImageUrl")
        return _SUCCESS, [url] if isinstance(url, str) and url else [], ""
    if flag in (2, 3):
        message = record.get("errorMessage") or record.get("errorCode") or "no reason given"
        return _FAILED, [], str(message)
    raise ProviderError(f"KIE sent an unknown task state {flag!r}", code="invalid_response", permanent=True)


def _market_state(record: dict[str, Any]) -> tuple[str, list[str], str]:
    state = str(record.get("state") or "").lower()
    if state in ("waiting", "queuing", "generating", "pending", "processing"):
        return _PENDING, [], ""
    if state == "success":
        result = record.get("resultJson")
        try:
            parsed = json.loads(result) if isinstance(result, str) else result
        except ValueError:
            raise ProviderError("KIE's resultJson is not JSON", code="invalid_response", permanent=True) from None
        urls = parsed.get("resultUrls") if isinstance(parsed, dict) else None
        return _SUCCESS, [u for u in urls or [] if isinstance(u, str) and u], ""
    if state == "fail":
        return _FAILED, [], str(record.get("failMsg") or record.get("failCode") or "no reason given")
    raise ProviderError(f"KIE sent an unknown task state {state!r}", code="invalid_response", permanent=True)


def _int(value: object, *, default: int) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def _error(code: int, message: str) -> ProviderError:
    """A KIE error code (HTTP status or the body's ``code``) as a provider error."""
    if code == 429:
        return ProviderError(message, code="provider_rate_limited", permanent=False)
    if code == 455 or (code >= 500 and code != 501):  # 455: KIE's "service unavailable / maintenance"
        return ProviderError(message, code="provider_unavailable", permanent=False)
    if code in (401, 403):
        return ProviderError(message, code="provider_auth", permanent=True)
    if code == 402:
        return ProviderError(message, code="provider_quota", permanent=True)
    if is_content_refusal(message):
        return ProviderError(message, code="moderation_blocked", permanent=True)
    return ProviderError(message, code="provider_rejected", permanent=True)


# KIE has no error code of its own for a content refusal: its messages say so in words.
_REFUSAL_WORDS = re.compile(
    r"content polic|sensitive|nsfw|moderation|prohibited|inappropriate|violat\w* .*polic|flagged|safety",
    re.IGNORECASE,
)


def is_content_refusal(message: str) -> bool:
    """Whether a KIE error or failure message is a content-policy refusal (→ ``moderation_blocked``)."""
    return bool(_REFUSAL_WORDS.search(message or ""))
