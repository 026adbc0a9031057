"""One JSON error format for the whole API (imagegen/api/errors.py), seen through real requests.

The views below stand in for any app's API views; this module is their URLconf.
"""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse
from django.urls import path
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from imagegen import errors as domain
from imagegen.api.errors import ApiError, error_response, validation_error_body
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


class ItemSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=5)


class PayloadSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=5)
    size = serializers.IntegerField(min_value=1)
    items = ItemSerializer(many=True, required=False)

    def validate(self, attrs):
        if attrs.get("title") == "both":
            raise serializers.ValidationError("title and size disagree", code="inconsistent")
        return attrs


class ValidateView(APIView):
    permission_classes = [AllowAny]

    def post(self, request):
        serializer = PayloadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class PrivateView(APIView):
    def get(self, request):
        return Response({"ok": True})


class AdminView(APIView):
    permission_classes = [IsAdminUser]

    def get(self, request):
        return Response({"ok": True})


class MissingView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise Http404("No such widget.")


class BoomView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("kaboom: the database password is hunter2")


class ApiErrorView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise ApiError(409, "already_finished", "The job has already ended.", field="id", headers={"X-Extra": "1"})


DOMAIN_ERRORS = {
    "invalid": domain.Invalid("unknown_style", "style: must be one of photo, art", field="style"),
    "unauthenticated": domain.Unauthenticated("password_changed", "The password has changed."),
    "forbidden": domain.Forbidden("key_not_allowed", "API keys cannot do this."),
    "not_found": domain.NotFound("not_found", "image 42 not found"),
    "conflict": domain.Conflict("already_finished", "generation already ended as succeeded"),
    "too_large": domain.TooLarge("file_too_large", "a.png: too big", field="files"),
    "limit": domain.LimitReached("quota_exceeded", "Daily quota used up.", wait=90.2),
}


class DomainErrorView(APIView):
    permission_classes = [AllowAny]

    def get(self, request, kind):
        raise DOMAIN_ERRORS[kind]


class ServiceErrorView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise DjangoValidationError({"title": [DjangoValidationError("Too shouty.", code="shouty")]})


class OncePerMinute(SimpleRateThrottle):
    rate = "1/min"

    def get_cache_key(self, request, view):
        return "test-once-per-minute"


class ThrottledView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [OncePerMinute]

    def get(self, request):
        return Response({"ok": True})


def plain_boom(request):
    raise RuntimeError("plain view failed")


def plain_api_error(request):
    return error_response(410, "gone", "This endpoint was retired.", headers={"Sunset": "now"})


def html_page(request):
    return HttpResponse("<p>page</p>")


urlpatterns = [
    path("api/v1/validate", ValidateView.as_view()),
    path("api/v1/private", PrivateView.as_view()),
    path("api/v1/admin-only", AdminView.as_view()),
    path("api/v1/missing", MissingView.as_view()),
    path("api/v1/boom", BoomView.as_view()),
    path("api/v1/api-error", ApiErrorView.as_view()),
    path("api/v1/service-error", ServiceErrorView.as_view()),
    path("api/v1/domain-error/<str:kind>", DomainErrorView.as_view()),
    path("api/v1/throttled", ThrottledView.as_view()),
    path("api/v1/plain-boom", plain_boom),
    path("api/v1/plain-error", plain_api_error),
    path("v1/boom", plain_boom),
    path("page", html_page),
]
handler400 = "imagegen.api.errors.handler400"
handler403 = "imagegen.api.errors.handler403"
handler404 = "imagegen.api.errors.handler404"
handler500 = "imagegen.api.errors.handler500"


@pytest.fixture
def client():
    return APIClient()


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "field"} <= set(body["error"])
    return body["error"]


# --- Validation ------------------------------------------------------------------------


def test_a_validation_error_names_the_first_field_its_code_and_every_detail(client):
    error = error_of(client.post("/api/v1/validate", {"title": "far too long"}, format="json"), 400)

    assert error == {
        "code": "max_length",
        "message": "title: Ensure this field has no more than 5 characters.",
        "field": "title",
        "details": {
            "title": ["Ensure this field has no more than 5 characters."],
            "size": ["This field is required."],
        },
    }


def test_nested_errors_get_dotted_paths(client):
    payload = {"title": "ok", "size": 1, "items": [{"label": "fine"}, {"label": "much too long"}]}
    error = error_of(client.post("/api/v1/validate", payload, format="json"), 400)

    assert error["field"] == "items.1.label"
    assert error["code"] == "max_length"
    assert error["message"].startswith("items.1.label: ")
    assert list(error["details"]) == ["items.1.label"]


def test_a_non_field_error_has_a_null_field(client):
    error = error_of(client.post("/api/v1/validate", {"title": "both", "size": 2}, format="json"), 400)

    assert error["field"] is None
    assert error["code"] == "inconsistent"
    assert error["message"] == "title and size disagree"
    assert error["details"] == {"non_field_errors": ["title and size disagree"]}


def test_a_body_that_is_not_an_object_is_a_validation_error(client):
    error = error_of(client.post("/api/v1/validate", [1, 2], format="json"), 400)
    assert error["code"] == "invalid"


def test_djangos_validation_error_from_a_service_is_a_400(client):
    error = error_of(client.get("/api/v1/service-error"), 400)
    assert (error["code"], error["field"], error["message"]) == ("shouty", "title", "title: Too shouty.")


def test_validation_error_body_handles_a_bare_message():
    body = validation_error_body(["Something is off."])
    assert body["error"]["field"] is None
    assert body["error"]["message"] == "Something is off."


# --- Request problems ------------------------------------------------------------------


def test_malformed_json_is_a_parse_error(client):
    response = client.post("/api/v1/validate", data='{"title": ', content_type="application/json")
    error = error_of(response, 400)
    assert error["code"] == "parse_error"
    assert "JSON" in error["message"]


def test_an_unsupported_content_type_is_415(client):
    response = client.post("/api/v1/validate", data="title=x", content_type="text/plain")
    assert error_of(response, 415)["code"] == "unsupported_media_type"


def test_a_wrong_method_is_405(client):
    assert error_of(client.delete("/api/v1/validate"), 405)["code"] == "method_not_allowed"


def test_a_disallowed_host_is_a_json_400_under_api(client):
    response = client.get("/api/v1/validate", HTTP_HOST="evil.example")
    assert error_of(response, 400)["code"] == "bad_request"


# --- Auth ------------------------------------------------------------------------------


def test_no_credentials_is_401_not_authenticated_with_a_challenge(client):
    response = client.get("/api/v1/private")
    assert error_of(response, 401)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_bad_credentials_are_401_authentication_failed(client):
    response = client.get("/api/v1/private", HTTP_AUTHORIZATION="Bearer not.a.jwt")
    assert error_of(response, 401)["code"] == "authentication_failed"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_forbidden_action_is_403_permission_denied(client):
    client.force_authenticate(UserFactory())
    assert error_of(client.get("/api/v1/admin-only"), 403)["code"] == "permission_denied"


# --- Not found, throttled, custom errors -----------------------------------------------


def test_http404_in_a_view_is_json(client):
    error = error_of(client.get("/api/v1/missing"), 404)
    assert (error["code"], error["message"]) == ("not_found", "No such widget.")


def test_an_unknown_api_url_is_the_same_json_404(client):
    error = error_of(client.get("/api/v1/no-such-thing"), 404)
    assert error["code"] == "not_found"
    assert "/api/v1/no-such-thing" in error["message"]


def test_an_unknown_openai_url_is_a_404_in_openais_shape(client):
    response = client.get("/v1/no-such-thing")
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_pages_outside_the_api_keep_djangos_html_404(client, monkeypatch):
    # The site's 404.html links to every page, which this URLconf lacks: stand in for Django's view.
    seen = []

    def page_not_found(request, exception):
        seen.append(request.path)
        return HttpResponse("<h1>Not found</h1>", status=404)

    monkeypatch.setattr("imagegen.api.errors.defaults.page_not_found", page_not_found)

    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert seen == ["/no-such-page"]


def test_throttled_is_429_with_retry_after(client):
    assert client.get("/api/v1/throttled").status_code == 200
    response = client.get("/api/v1/throttled")
    assert error_of(response, 429)["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_api_error_carries_its_status_code_field_and_headers(client):
    response = client.get("/api/v1/api-error")
    error = error_of(response, 409)
    assert error == {"code": "already_finished", "message": "The job has already ended.", "field": "id"}
    assert response["X-Extra"] == "1"


def test_error_response_serves_plain_django_views(client):
    response = client.get("/api/v1/plain-error")
    assert error_of(response, 410) == {"code": "gone", "message": "This endpoint was retired.", "field": None}
    assert response["Sunset"] == "now"


def test_api_error_with_wait_sets_retry_after(client):
    from imagegen.api.errors import exception_handler

    response = exception_handler(ApiError(503, "busy", "Try later.", wait=12.2), {})
    assert response["Retry-After"] == "13"


# --- Server errors ---------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/boom", "/api/v1/plain-boom"])
def test_an_unhandled_exception_is_a_logged_json_500_without_internals(client, caplog, url):
    client.raise_request_exception = False

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get(url, HTTP_X_REQUEST_ID="req-123")

    error = error_of(response, 500)
    assert error["code"] == "server_error"
    assert "req-123" in error["message"]
    assert "hunter2" not in response.content.decode()
    assert any(record.exc_info and record.exc_info[0] is RuntimeError for record in caplog.records)


def test_an_unhandled_exception_under_v1_is_a_500_in_openais_shape(client):
    client.raise_request_exception = False
    response = client.get("/v1/boom")
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "server_error"


# --- The domain's errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status"),
    [("invalid", 400), ("forbidden", 403), ("not_found", 404), ("conflict", 409), ("too_large", 413), ("limit", 429)],
)
def test_a_domain_error_answers_its_status_with_its_code_message_and_field(client, kind, status):
    raised = DOMAIN_ERRORS[kind]
    error = error_of(client.get(f"/api/v1/domain-error/{kind}"), status)

    assert error == {"code": raised.code, "message": raised.message, "field": raised.field}


def test_a_quota_error_says_when_to_retry(client):
    assert client.get("/api/v1/domain-error/limit")["Retry-After"] == "91"


def test_refused_credentials_answer_401_with_the_challenge_and_the_documented_code(client):
    response = client.get("/api/v1/domain-error/unauthenticated")
    error = error_of(response, 401)

    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert error == {"code": "authentication_failed", "message": "The password has changed.", "field": None}
