"""Security headers: the Content-Security-Policy of the pages (imagegen/csp.py), CORS only on the APIs,
and Django's security headers."""

from __future__ import annotations

import pytest
from django.http import HttpResponse, JsonResponse
from django.test import Client
from django.urls import path

from imagegen.csp import build_policy

pytestmark = pytest.mark.urls(__name__)


def page(request):
    return HttpResponse("<p>page</p>")


def own_policy(request):
    response = HttpResponse("<p>docs</p>")
    response["Content-Security-Policy"] = "default-src 'self' https://cdn.example"
    return response


def api(request):
    return JsonResponse({"ok": True})


urlpatterns = [
    path("page", page),
    path("docs", own_policy),
    path("api/v1/thing", api),
    path("v1/models", api),
]


def directives(policy: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def test_pages_get_a_policy_without_inline_scripts():
    response = Client().get("/page")

    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert policy["img-src"] == "'self' data: blob:"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"


def test_a_view_with_its_own_policy_keeps_it():
    assert Client().get("/docs")["Content-Security-Policy"] == "default-src 'self' https://cdn.example"


def test_json_responses_get_no_page_policy():
    assert "Content-Security-Policy" not in Client().get("/api/v1/thing")


def test_images_may_come_from_the_cdn_and_the_bucket(settings):
    settings.CDN_URL = "https://d111.cloudfront.net"
    settings.IMAGE_S3_BUCKET = "imagegen-media"
    settings.AWS_ENDPOINT_URL = ""
    settings.AWS_REGION = "eu-west-1"

    policy = directives(build_policy())

    assert "https://d111.cloudfront.net" in policy["img-src"].split()
    assert "https://imagegen-media.s3.eu-west-1.amazonaws.com" in policy["img-src"].split()
    # Direct uploads go from the browser to the bucket.
    assert "https://imagegen-media.s3.eu-west-1.amazonaws.com" in policy["connect-src"].split()
    assert "https://imagegen-media.s3.eu-west-1.amazonaws.com" in policy["form-action"].split()


def test_a_local_s3_endpoint_is_allowed_instead_of_aws(settings):
    settings.CDN_URL = ""
    settings.IMAGE_S3_BUCKET = "media"
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:4566"

    policy = directives(build_policy())

    assert policy["img-src"] == "'self' data: blob: http://127.0.0.1:4566"
    assert "amazonaws.com" not in build_policy()


@pytest.mark.parametrize("url", ["/api/v1/thing", "/v1/models"])
def test_cors_answers_allowed_origins_on_the_apis(settings, url):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]

    allowed = Client().get(url, HTTP_ORIGIN="https://app.example.com")
    other = Client().get(url, HTTP_ORIGIN="https://evil.example.com")

    assert allowed["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Retry-After" in allowed["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Origin" not in other


def test_cors_never_answers_for_pages(settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    response = Client().get("/page", HTTP_ORIGIN="https://app.example.com")
    assert "Access-Control-Allow-Origin" not in response


def test_cors_preflight_for_the_api(settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]

    response = Client().options(
        "/api/v1/thing",
        HTTP_ORIGIN="https://app.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,x-api-key,content-type",
    )

    assert response.status_code == 200
    assert "x-api-key" in response["Access-Control-Allow-Headers"]


def test_security_headers_are_set():
    response = Client().get("/page", secure=True)

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response["X-Frame-Options"] == "DENY"


def test_debug_error_pages_keep_their_inline_styles(settings):
    settings.DEBUG = True
    response = Client().get("/no-such-page")
    assert response.status_code == 404
    assert "Content-Security-Policy" not in response
