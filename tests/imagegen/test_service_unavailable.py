"""While the database is unreachable every endpoint answers 503, never a 500 (imagegen/database.py).

The outage is every query of the test's connection failing as PostgreSQL's do
when it goes away; tests/images/test_outage_database.py cuts a real one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path
from rest_framework_simplejwt.tokens import RefreshToken

from imagegen.database import is_database_unavailable
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@contextmanager
def database_down() -> Iterator[None]:
    def refuse(execute, sql, params, many, context):
        raise OperationalError("the database system is shutting down")

    with connection.execute_wrapper(refuse):
        yield


def assert_unavailable_json(response) -> dict:
    assert response.status_code == 503, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response["Retry-After"] == "5"
    return response.json()["error"]


def test_an_api_post_with_a_token_is_a_503_service_unavailable():
    user = UserFactory()
    token = str(RefreshToken.for_user(user).access_token)
    client = Client(raise_request_exception=False)
    with database_down():
        response = client.post("/api/v1/generations", {"prompt": "a red fox"}, content_type="application/json",
                               HTTP_AUTHORIZATION=f"Bearer {token}")  # fmt: skip
    error = assert_unavailable_json(response)
    assert error == {
        "code": "service_unavailable",
        "message": "The service is temporarily unavailable; try again in a few seconds.",
        "field": None,
    }


def test_a_signed_in_api_read_is_a_503_too(client):
    client.force_login(UserFactory())
    client.raise_request_exception = False
    with database_down():
        response = client.get("/api/v1/generations")
    assert assert_unavailable_json(response)["code"] == "service_unavailable"


def test_the_openai_compatible_endpoint_answers_503_in_openais_shape():
    key_user = UserFactory()
    token = str(RefreshToken.for_user(key_user).access_token)
    with database_down():
        response = Client(raise_request_exception=False).get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {token}")
    error = assert_unavailable_json(response)
    assert error["type"] == "server_error" and error["code"] == "service_unavailable"


def test_a_page_is_a_plain_temporarily_unavailable_page(client):
    client.force_login(UserFactory())
    client.raise_request_exception = False
    with database_down():
        response = client.get("/gallery")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"].startswith("text/html")
    assert b"Temporarily unavailable" in response.content


def test_healthz_stays_200_and_readyz_says_503(client, settings):
    settings.METRICS_TOKEN = "ops-token"
    with database_down():
        assert client.get("/healthz").status_code == 200
        anonymous = client.get("/readyz")
        detailed = client.get("/readyz", HTTP_AUTHORIZATION="Bearer ops-token")
    assert anonymous.status_code == detailed.status_code == 503
    assert anonymous.json() == {"status": "failing"}
    assert detailed.json()["failed"] == ["database"]


def touch_session(request: HttpRequest) -> HttpResponse:
    # No query here: the session is saved by SessionMiddleware on the way out.
    request.session["seen"] = True
    return HttpResponse("ok")


urlpatterns = [
    path("api/v1/touch-session", touch_session),
    path("touch-session", touch_session),
    path("", include("imagegen.urls")),
]
handler500 = "imagegen.api.errors.handler500"


@pytest.mark.urls(__name__)
def test_an_outage_inside_a_middleware_is_a_503_as_well():
    client = Client(raise_request_exception=False)
    with database_down():
        api = client.get("/api/v1/touch-session")
        page = client.get("/touch-session")
    assert assert_unavailable_json(api)["code"] == "service_unavailable"
    assert page.status_code == 503 and b"Temporarily unavailable" in page.content


def sqlite_error(message: str) -> OperationalError:
    error = OperationalError(message)
    error.__cause__ = sqlite3.OperationalError(message)
    return error


def test_sqlite_locks_are_an_outage_but_its_bugs_are_not():
    assert is_database_unavailable(sqlite_error("database is locked"))
    assert not is_database_unavailable(sqlite_error("no such table: images_generation"))
    assert not is_database_unavailable(ValueError("database is locked"))
