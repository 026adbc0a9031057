"""What a user reads when a job fails: a stable code and a plain message per code.

The detail (exception text, resolver output, the provider's raw answer) goes
to the log with the generation id and request id, never into
``Generation.error_message``, which the API, the pages and webhooks show. A
provider's own words are kept only for codes where they are written for the
person who asked: refusals and explanations of a bad request.
"""

from __future__ import annotations

# The most of an error text kept on a row (a job's, an image's, a delivery's) or in one log field.
MAX_ERROR_TEXT = 2000


def clipped(text: str) -> str:
    """``text`` cut to what a row keeps."""
    return text[:MAX_ERROR_TEXT]


# Codes whose provider message explains the refusal or the bad request to the user.
USER_FACING_CODES = frozenset(
    {
        "moderation_blocked",
        "content_policy",
        "provider_rejected",
        "provider_failed",  # KIE's failMsg: the task's own reason, mostly moderation
        "invalid_style",
        "invalid_model",
        "invalid_size",
        "invalid_n",
        "invalid_strength",
        "too_many_references",
    }
)

PLAIN_MESSAGES: dict[str, str] = {
    # The job itself.
    "internal_error": "Something went wrong on our side while making the images.",
    "timeout": "The job or one of its downloads took too long.",
    "too_many_attempts": "The job failed on every attempt.",
    "worker_lost": "The worker running this job stopped answering.",
    "empty_response": "The image provider returned no images.",
    # The provider.
    "provider_error": "The image provider could not make the images.",
    "provider_timeout": "The image provider did not answer in time.",
    "provider_unavailable": "The image provider is unavailable at the moment.",
    "provider_rate_limited": "The image provider is busy at the moment.",
    "provider_auth": "This service's access to the image provider is not working.",
    "provider_quota": "This service's quota at the image provider is used up.",
    "provider_failed": "The image provider could not make the images.",
    "provider_rejected": "The image provider rejected the request.",
    "content_policy": "The image provider refused this request under its content policy.",
    "moderation_blocked": "The request was refused under the content policy.",
    "invalid_response": "The image provider sent an answer that could not be used.",
    "invalid_reference": "A reference image could not be read as an image.",
    "reference_url_required": "This provider can only use reference images from storage it can reach.",
    # Downloads: reference image URLs and images a provider returns as URLs (images.fetch codes).
    "invalid_url": "An image URL is not valid.",
    "scheme_not_allowed": "An image URL does not use https.",
    "forbidden_address": "An image URL points at an address that is not allowed.",
    "dns_failure": "An image URL's host name could not be resolved.",
    "connection_failed": "An image URL's server could not be reached.",
    "too_many_redirects": "An image URL redirected too many times.",
    "too_large": "An image is larger than the size limit.",
    "http_error": "An image URL's server answered with an error.",
    "not_an_image": "An image URL does not point at an image.",
}
DEFAULT_MESSAGE = "The images could not be made."


def plain_message(code: str) -> str:
    """The fixed message users see for ``code``."""
    return PLAIN_MESSAGES.get(code, DEFAULT_MESSAGE)


def user_message(code: str, provider_message: str = "") -> str:
    """What a failed job tells its owner: the provider's words where meant for users, else the plain message."""
    if code in USER_FACING_CODES and provider_message.strip():
        return provider_message.strip()
    return plain_message(code)


def reference_fetch_message(code: str) -> str:
    """What users see when one of their reference image URLs could not be fetched (an images.fetch code)."""
    plain = plain_message(code)
    return f"A reference image could not be fetched: {plain[0].lower()}{plain[1:]}"
