"""OpenAPI schema post-processing (the one error format on every API operation) and the docs page.

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

from imagegen.api.errors import API_PREFIX
from imagegen.csp import build_policy

ERROR_COMPONENT = "Error"
_STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.DOTALL)
_METHODS = ("get", "put", "post", "patch", "delete")
_DESCRIPTIONS = {
    "400": "Invalid input: `error.code` says what, `error.field` where.",
    "401": "Missing or invalid credentials.",
    "404": "No such object, or it belongs to someone else.",
    "429": "Throttled or over quota: retry after `Retry-After` seconds.",
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


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular ``POSTPROCESSING_HOOKS`` entry: common 4xx responses, each the ``Error`` component."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(ERROR_COMPONENT, _error_schema())
    error = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}}
    for path, item in result.get("paths", {}).items():
        if not path.startswith(API_PREFIX):
            continue
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            codes = ["400", "429"]
            if any(requirement for requirement in operation.get("security", [])):
                codes.append("401")
            if "{" in path:
                codes.append("404")
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, {"description": _DESCRIPTIONS[code], "content": error})
            for code, response in responses.items():
                if code.startswith("4") and not response.get("description"):
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
