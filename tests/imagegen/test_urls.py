import pytest


@pytest.mark.django_db
def test_unknown_api_urls_are_json_404s_even_in_debug(client, settings):
    settings.DEBUG = True
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert client.get("/v1/nothing").json()["error"]["type"] == "invalid_request_error"


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "delete", "patch"])
def test_an_unknown_api_url_is_a_json_404_for_unsafe_methods_not_a_csrf_page(method, user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = getattr(client, method)("/api/v1/images/null,null")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
