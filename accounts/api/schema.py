"""OpenAPI (drf-spectacular) descriptions of the accounts authentication classes."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.authentication.ApiKeyAuthentication"
    name = ["apiKeyBearer", "apiKeyHeader"]

    def get_security_requirement(self, auto_schema: object) -> list[dict]:
        return [{"apiKeyBearer": []}, {"apiKeyHeader": []}]  # either one

    def get_security_definition(self, auto_schema: object) -> list[dict]:
        bearer = build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Bearer",  # noqa: S106 - the scheme's name, not a secret
            bearer_format="igk_…",
        )
        return [
            bearer,
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        ]


class JWTScheme(SimpleJWTScheme):
    target_class = "accounts.api.authentication.JWTAuthentication"
