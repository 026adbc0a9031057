"""OpenAPI schema post-processing (the errors every operation can answer with) and the docs page.


Views document their own success bodies and the errors particular to them
(``extend_schema(responses={409: ErrorSerializer})``); this hook adds the
errors any ``/api/`` operation can answer with (400 bad input, 401 missing
credentials, 404 unknown id, 429 throttled) where a view did not, so the
``Error`` component is on every 4xx. The OpenAI-compatible ``/v1/`` routes
answer in OpenAI's own error shape and are left alone.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from drf_spectacular.views import SpectacularSwaggerSplitView

from imagegen.api.errors import API_PREFIX, OPENAI_PREFIX
from imagegen.csp import build_policy

ERROR_COMPONENT = "Error"
OPENAI_ERROR_COMPONENT = "OpenAIError"
_STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.DOTALL)
_HTML_PAGE = {"text/html": {"schema": {"type": "string"}}}
_METHODS = ("get", "put", "post", "patch", "delete")
_DESCRIPTIONS = {
    "400": "Invalid input: `error.code` says what, `error.field` where.",
    "401": "Missing or invalid credentials.",
    "404": "No such object, or it belongs to someone else.",
    "403": "Not allowed: a browser session without its CSRF token, or an API key where a sign-in is needed.",
    "413": "The request body is over the limit.",
    "414": "The URL is over the web server's limit for a request line (4094 bytes).",
    "415": "The body's Content-Type is not one this operation takes.",
    "429": "Throttled or over quota: retry after `Retry-After` seconds.",
    "503": "The database is unreachable for a moment: retry after `Retry-After` seconds.",
}


def _error_schema() -> dict:
    """The error body, for a schema in which no view has used ``ErrorSerializer`` yet."""
    string = {"type": "string"}
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "field"],
                "properties": {
                    "code": string,
                    "message": string,
                    "field": {"type": "string", "nullable": True},
                    "details": {"type": "object", "additionalProperties": {"type": "array", "items": string}},
                },
            }
        },
    }


def _openai_error_schema() -> dict:
    """OpenAI's error body, which the ``/v1/`` routes answer with."""
    string = {"type": "string"}
    nullable = {"type": "string", "nullable": True}
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "param", "code"],
                "properties": {"message": string, "type": string, "param": nullable, "code": nullable},
            }
        },
    }


LINKS_EXTENSION = "x-links"


def links(codes: tuple[str, ...], **targets: tuple[str, dict[str, str]]) -> dict:
    """OpenAPI links from an operation's answers, for ``extend_schema(extensions=links(...))``.

    ``targets`` maps a link's name to (operationId, parameters), e.g.
    ``GetGeneration=("generations_retrieve", {"id": "$response.body#/id"})``; ``add_links``
    puts them on each response of ``codes``. They let clients (and schemathesis' stateful
    phase) follow what a creation returned.
    """
    described = {
        name: {"operationId": operation, "parameters": parameters, "description": f"{operation} with {parameters}"}
        for name, (operation, parameters) in targets.items()
    }
    return {LINKS_EXTENSION: {code: described for code in codes}}


def add_links(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular ``POSTPROCESSING_HOOKS`` entry: ``links(...)`` extensions become the responses' links."""
    for item in result.get("paths", {}).values():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None or LINKS_EXTENSION not in operation:
                continue
            for code, described in operation.pop(LINKS_EXTENSION).items():
                operation["responses"][code].setdefault("links", {}).update(described)
    return result


def require_one_of_bodies(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular ``POSTPROCESSING_HOOKS`` entry: a JSON body that must be one of several shapes is required.

    drf-spectacular marks a body required when its serializer has required fields, not when the
    body is a ``oneOf`` of serializers that each have some: an empty POST would look valid.
    """
    schemas = result.get("components", {}).get("schemas", {})
    for item in result.get("paths", {}).values():
        for method in _METHODS:
            body = (item.get(method) or {}).get("requestBody")
            media = (body or {}).get("content", {}).get("application/json")
            if media is None:
                continue
            schema = media.get("schema", {})
            ref = schema.get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                schema = schemas.get(ref.rsplit("/", 1)[1], {})
            if "oneOf" in schema:
                body["required"] = True
    return result


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular ``POSTPROCESSING_HOOKS`` entry: the errors any operation can answer with.

    400 (bad input), 429 (throttled), 503 (database unreachable) everywhere; 401
    where credentials are needed; 403 where a browser session's unsafe request
    lacks its CSRF token; 404 for paths with an id; 413 and 415 where a body is
    taken. ``/api/`` answers with the ``Error`` component, ``/v1/`` with OpenAI's.
    """
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(ERROR_COMPONENT, _error_schema())
    schemas.setdefault(OPENAI_ERROR_COMPONENT, _openai_error_schema())
    for path, item in result.get("paths", {}).items():
        if path.startswith(API_PREFIX):
            component = ERROR_COMPONENT
        elif path.startswith(OPENAI_PREFIX):
            component = OPENAI_ERROR_COMPONENT
        else:
            continue
        error = {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}}
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            security = [requirement for requirement in operation.get("security", []) if requirement]
            codes = ["400", "429", "503"]
            if security:
                codes.append("401")
            if method != "get" and any("cookieAuth" in requirement for requirement in security):
                codes.append("403")
            if "{" in path:
                codes.append("404")
            if "requestBody" in operation:
                codes += ["413", "415"]
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, {"description": _DESCRIPTIONS[code], "content": error})
            if any(parameter.get("in") == "query" for parameter in operation.get("parameters", [])):
                # Answered by gunicorn before the request reaches Django, as a small HTML page.
                responses.setdefault("414", {"description": _DESCRIPTIONS["414"], "content": _HTML_PAGE})
            for code, response in responses.items():
                if code[0] in "45" and not response.get("description"):
                    response["description"] = _DESCRIPTIONS.get(code, "Error.")
    return result


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI at /api/docs, from this server's static files (drf-spectacular-sidecar), under our CSP.

    The split view serves its init script as a file, so no inline script is
    needed; the page's one inline ``<style>`` is allowed by its hash, computed
    from the page itself so a drf-spectacular upgrade cannot make it stale.
    """

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.get("Content-Type", "").startswith("text/html"):
            response.render()
            hashes = " ".join(
                f"'sha256-{base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()}'"
                for block in _STYLE_BLOCK.findall(response.content.decode())
            )
            policy = build_policy()
            if hashes:
                policy = policy.replace("style-src 'self'", f"style-src 'self' {hashes}", 1)
            response["Content-Security-Policy"] = policy
        return response
