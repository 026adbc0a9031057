import pytest


@pytest.mark.django_db
def test_unknown_api_urls_are_json_404s_even_in_debug(client, settings):
    settings.DEBUG = True
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert client.get("/v1/nothing").json()["error"]["type"] == "invalid_request_error"
