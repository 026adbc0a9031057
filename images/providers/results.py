"""Turning what a provider hands back (URLs or bytes) into GeneratedImage, within limits."""

from __future__ import annotations

from images.fetch import AddressPolicy, FetchedImage, FetchError, fetch_image
from images.providers.base import GeneratedImage


def download_provider_image(url: str, *, policy: AddressPolicy, provider: str) -> FetchedImage:
    """Fetch a result image a provider returned as a URL, with the provider download limits.

    Raises ``ProviderError``: transient for network trouble and 5xx/429 (the job is
    retried), permanent for everything else (refused address, too large, not an image).
    """
    from django.conf import settings

    from images.providers.base import ProviderError

    try:
        return fetch_image(
            url,
            max_bytes=settings.PROVIDER_DOWNLOAD_MAX_BYTES,
            timeout=settings.PROVIDER_DOWNLOAD_TIMEOUT,
            allow_http=settings.DEBUG,
            policy=policy,
        )
    except FetchError as exc:
        raise ProviderError(
            f"could not download the image {provider} returned: {exc.message}",
            code=exc.code,
            permanent=not exc.retryable,
        ) from None


# Kept as sent; anything else Pillow reads is re-encoded to PNG.
_KEPT_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def generated_image_from_bytes(data: bytes, *, provider: str, revised_prompt: str | None = None) -> GeneratedImage:
    """Check with Pillow that a provider's bytes are a whole image, and describe them.

    PNG, JPEG and WebP are returned as sent (the pipeline re-encodes its own
    renditions anyway); any other format Pillow reads becomes PNG. Raises a
    permanent ``ProviderError(code="invalid_response")`` for bytes that are not
    an image or that exceed ``MAX_IMAGE_PIXELS``.
    """
    import io
    import warnings

    from django.conf import settings
    from PIL import Image, UnidentifiedImageError

    from images.providers.base import GeneratedImage, ProviderError

    def invalid(why: str) -> ProviderError:
        return ProviderError(f"{provider} returned an unusable image: {why}", code="invalid_response", permanent=True)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
                if width * height > settings.MAX_IMAGE_PIXELS:
                    raise invalid(f"{width}x{height} is more than {settings.MAX_IMAGE_PIXELS} pixels")
                im.load()
                fmt = im.format or ""
                if fmt in _KEPT_FORMATS:
                    return GeneratedImage(
                        data=data,
                        content_type=_KEPT_FORMATS[fmt],
                        width=width,
                        height=height,
                        revised_prompt=revised_prompt,
                    )
                converted = im.convert("RGBA" if "A" in im.getbands() or "transparency" in im.info else "RGB")
                out = io.BytesIO()
                # The pipeline re-encodes its renditions; favour speed over size here.
                converted.save(out, format="PNG", compress_level=1)
    except ProviderError:
        raise
    except UnidentifiedImageError:
        raise invalid("the data is not an image Pillow can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise invalid(str(exc)) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise invalid(f"the image data is damaged ({exc})") from None
    return GeneratedImage(
        data=out.getvalue(), content_type="image/png", width=width, height=height, revised_prompt=revised_prompt
    )
