"""GET /api/schema and /api/docs: a valid OpenAPI 3 document of every /api/v1/ endpoint, served without a CDN."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.urls import URLPattern, URLResolver
from rest_framework.test import APIClient

import accounts.api.urls
import images.api.urls

PARAM = re.compile(r"\{[^}]+\}")
ROUTE_PARAM = re.compile(r"<(?:[^:>]+:)?[^>]+>")
# Operations that take no body: the path says everything.
NO_REQUEST_BODY = {
    ("post", "/api/v1/images/{}/complete"),
    ("post", "/api/v1/generations/{}/cancel"),
    ("post", "/api/v1/me/webhook-secret/rotate"),
}


@pytest.fixture(scope="module")
def schema() -> dict:
    """The schema as /api/schema serves it, generated in-process once for the module."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated))


def api_routes() -> set[str]:
    """Every route the apps mount under /api/v1/, with parameters as ``{}``."""
    routes = set()
    for module in (accounts.api.urls, images.api.urls):
        for pattern in module.urlpatterns:
            assert isinstance(pattern, URLPattern) and not isinstance(pattern, URLResolver)
            routes.add("/api/v1/" + ROUTE_PARAM.sub("{}", str(pattern.pattern)))
    return routes


def operations(schema: dict, prefix: str = "/api/"):
    for path, item in schema["paths"].items():
        if path.startswith(prefix):
            for method, operation in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    yield path, method, operation


def test_the_schema_passes_drf_spectacular_validation_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(out)],
        cwd=Path(settings.BASE_DIR),
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert yaml.safe_load(out.read_text())["openapi"].startswith("3.")


@pytest.mark.django_db
def test_it_is_served_as_yaml_and_json_without_credentials():
    client = APIClient()
    as_yaml = client.get("/api/schema")
    assert as_yaml.status_code == 200
    assert yaml.safe_load(as_yaml.content)["info"]["title"] == "Imagegen API"
    client.credentials(HTTP_AUTHORIZATION="Bearer stale.token.here")  # never read here
    as_json = client.get("/api/schema", {"format": "json"})
    assert as_json.status_code == 200 and as_json.json()["openapi"].startswith("3.")


def test_every_api_v1_route_is_in_the_schema(schema):
    documented = {PARAM.sub("{}", path) for path in schema["paths"]}
    routes = api_routes()
    assert "/api/v1/images/{}/download" in routes and "/api/v1/me/api-keys" in routes
    assert routes - documented == set()


def test_both_auth_schemes_are_described_and_required(schema):
    schemes = schema["components"]["securitySchemes"].values()
    assert any(s["type"] == "http" and s["scheme"] == "bearer" and s.get("bearerFormat") == "JWT" for s in schemes)
    assert any(s["type"] == "apiKey" and s["in"] == "header" and s["name"] == "X-API-Key" for s in schemes)
    by_name = schema["components"]["securitySchemes"]
    required = {name for requirement in schema["paths"]["/api/v1/images"]["get"]["security"] for name in requirement}
    assert {by_name[name].get("bearerFormat") for name in required} >= {"JWT"}
    assert any(by_name[name].get("name") == "X-API-Key" for name in required)
    public = schema["paths"]["/api/v1/public/images"]["get"]
    assert not [requirement for requirement in public.get("security", []) if requirement]


def test_every_4xx_response_is_the_error_component(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["$ref"].endswith("/ErrorObject") or "properties" in error["properties"]["error"]
    checked = 0
    for path, method, operation in operations(schema):
        # 414 is gunicorn's own HTML page, answered before the request reaches Django.
        client_errors = {c: r for c, r in operation["responses"].items() if c.startswith("4") and c != "414"}
        assert "400" in client_errors, (method, path)
        for code, response in client_errors.items():
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/Error", (method, path, code)
            checked += 1
    assert checked > 50


def test_every_operation_describes_its_bodies(schema):
    for path, method, operation in operations(schema, "/api/v1/"):
        key = (method, PARAM.sub("{}", path))
        if method in ("post", "put", "patch") and key not in NO_REQUEST_BODY:
            assert operation.get("requestBody", {}).get("content"), key
        for code, response in operation["responses"].items():
            if code.startswith("2") and code != "204":
                assert response.get("content"), (key, code)


def test_the_image_endpoints_document_their_shapes(schema):
    upload = schema["paths"]["/api/v1/images"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    body = schema["components"]["schemas"][upload["$ref"].rsplit("/", 1)[1]]
    assert body["properties"]["files"]["items"]["format"] == "binary"
    listed = schema["paths"]["/api/v1/images"]["get"]
    params = {p["name"] for p in listed["parameters"]}
    assert params >= {
        "source", "category", "tag", "visibility", "processing", "created_after", "created_before", "q", "ordering",
        "cursor", "limit",
    }  # fmt: skip
    image = schema["components"]["schemas"]["Image"]["properties"]
    assert set(image) >= {"id", "url", "variants", "processing", "tags", "visibility"}
    assert "302" in schema["paths"]["/api/v1/images/{id}/download"]["get"]["responses"]


@pytest.mark.django_db
def test_the_docs_page_loads_swagger_ui_from_this_server():
    client = APIClient()
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), asset  # same origin: CSP default-src 'self' allows it
        response = client.get(asset)
        assert response.status_code == 200, asset
        if hasattr(response, "streaming_content"):
            assert b"".join(response.streaming_content)
    assert "<script>" not in html  # the init script is a separate file: no inline script for the CSP to block
    policy = page["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert re.search(r"style-src 'self' 'sha256-[A-Za-z0-9+/=]+'", policy)  # the page's one <style>, by hash
    script = client.get("/api/docs", {"script": ""})
    assert script.status_code == 200
    assert "/api/schema" in script.content.decode()


def request_component(schema: dict, method: str, path: str) -> dict:
    body = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]


def test_bodies_that_refuse_unknown_keys_say_so_and_list_the_keys_they_tolerate(schema):
    for method, path in [
        ("post", "/api/v1/generations"),
        ("post", "/api/v1/images/upload-url"),
        ("post", "/api/v1/images/bulk-delete"),
        ("patch", "/api/v1/images/{id}"),
        ("patch", "/api/v1/me"),
    ]:
        assert request_component(schema, method, path)["additionalProperties"] is False, (method, path)
    profile_update = request_component(schema, "patch", "/api/v1/me")["properties"]
    assert {"name", "email", "quota"} <= set(profile_update)  # read-only ones sent back are ignored


def test_json_is_the_contract_of_every_body_but_the_upload(schema):
    for path, method, operation in operations(schema):
        if "requestBody" in operation:
            expected = ["multipart/form-data"] if (method, path) == ("post", "/api/v1/images") else ["application/json"]
            assert list(operation["requestBody"]["content"]) == expected, (method, path)


def test_text_fields_state_that_nul_and_blank_text_are_refused(schema):
    import re

    prompt = request_component(schema, "post", "/api/v1/generations")["properties"]["prompt"]
    negative = request_component(schema, "post", "/api/v1/generations")["properties"]["negative_prompt"]
    for text, valid in [("a fox", True), ("  a fox ", True), (" \t\u3000\x1f", False), ("a\x00", False), ("", False)]:
        assert bool(re.search(prompt["pattern"], text)) is valid, text
    assert re.search(negative["pattern"], "") and not re.search(negative["pattern"], "\x00")


def test_list_limits_and_filters_state_their_bounds(schema):
    params = {p["name"]: p for p in schema["paths"]["/api/v1/images"]["get"]["parameters"]}
    assert (params["limit"]["schema"]["minimum"], params["limit"]["schema"]["maximum"]) == (1, 100)
    assert params["tag"]["schema"]["maxItems"] == 10
    assert params["created_after"].get("allowEmptyValue") is True  # an empty filter is no filter


def test_nullable_and_free_text_response_fields_are_declared_so(schema):
    generation = schema["components"]["schemas"]["Generation"]["properties"]
    assert generation["duration_ms"]["nullable"] is True
    assert generation["webhook_url"] == {
        "type": "string",
        "readOnly": True,
        "description": generation["webhook_url"]["description"],
    }
    assert generation["error"]["nullable"] is True
    assert schema["components"]["schemas"]["Image"]["properties"]["url"]["nullable"] is True


def test_the_create_operations_link_to_what_follows_them(schema):
    created = schema["paths"]["/api/v1/generations"]["post"]["responses"]["202"]["links"]
    assert {link["operationId"] for link in created.values()} >= {"generations_retrieve", "generations_cancel_create"}
    assert all(link["parameters"] == {"id": "$response.body#/id"} for link in created.values())
    upload = schema["paths"]["/api/v1/images/upload-url"]["post"]["responses"]["201"]["links"]
    assert upload["CompleteUpload"] == {
        "operationId": "images_complete_create",
        "parameters": {"id": "$response.body#/image_id"},
        "description": upload["CompleteUpload"]["description"],
    }


def test_every_operation_has_an_example_of_its_answer(schema):
    for path, method, operation in operations(schema, "/"):
        success = [r for code, r in operation["responses"].items() if code.startswith("2") and r.get("content")]
        for response in success:
            media = response["content"].get("application/json")  # a ZIP's bytes have no example worth showing
            assert media is None or "examples" in media or "example" in media, (method, path)
        # Multipart bodies carry files: an example of their bytes would only be refused as an image.
        if "requestBody" in operation and "multipart/form-data" not in operation["requestBody"]["content"]:
            (media,) = operation["requestBody"]["content"].values()
            assert "examples" in media or "example" in media, (method, path)


def test_allow_empty_value_marks_only_the_filters_whose_schema_refuses_empty_text(schema):
    # "" already holds to a text or tag filter: the flag would only wrap it in an anyOf, where
    # schemathesis read ?tag=0 (a one-tag list) as a number sent for an array, a schema-violating request.
    for path in ("/api/v1/images", "/api/v1/public/images"):
        params = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}
        for name in ("tag", "category", "q", "label"):
            assert "allowEmptyValue" not in params[name], (path, name)
            texts = params[name]["schema"].get("items", params[name]["schema"])
            assert "minLength" not in texts and re.search(texts["pattern"], ""), (path, name)
    params = {p["name"]: p for p in schema["paths"]["/api/v1/images"]["get"]["parameters"]}
    for name in ("source", "album", "created_after", "ordering", "favorite"):  # a choice, an id, a date
        assert params[name]["allowEmptyValue"] is True, name


def test_optional_choices_with_a_default_and_the_format_override_state_that_empty_means_not_sent(schema):
    # The server reads ?variant= as the default and DRF ignores ?format=: stateful fuzzing sends both empty.
    for path in ("/api/v1/albums/{id}/download", "/api/v1/shared/{token}/download", "/api/v1/images/{id}/download"):
        params = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}
        assert params["variant"]["allowEmptyValue"] is True, path
        assert params["variant"]["schema"]["default"] == "original", path
        assert params.get("format", {"allowEmptyValue": True})["allowEmptyValue"] is True, path
    params = {p["name"]: p for p in schema["paths"]["/api/v1/albums"]["get"]["parameters"]}
    assert "allowEmptyValue" not in params["limit"]  # ?limit= is a 400: an empty value is not a number


@pytest.mark.django_db
def test_the_gallery_lists_take_empty_text_filters_as_no_filter():
    answer = APIClient().get("/api/v1/public/images", {"tag": "", "category": "", "q": "", "label": ""})
    assert answer.status_code == 200, answer.content


def test_metadata_states_that_no_text_at_any_depth_holds_nul(schema):
    import jsonschema

    metadata = request_component(schema, "post", "/api/v1/generations")["properties"]["metadata"]
    validator = jsonschema.Draft4Validator({**metadata, "components": schema["components"]})
    assert validator.is_valid({"order": "A-1", "lines": [{"sku": 7, "note": None}, [True, 1.5, "ok"]]})
    for refused in ({"a": "x\x00"}, {"a": [[1, "nul \x00 inside"]]}, {"a": {"b": {"c": ["\x00"]}}}):
        assert not validator.is_valid(refused), refused
    # Keys cannot be stated in OpenAPI 3.0 (no propertyNames): the description says so in words.
    assert "keys included" in schema["components"]["schemas"]["JsonValue"]["description"]
