from __future__ import annotations

import json
import logging

from imagegen.logging import JsonFormatter, RequestIdFilter, new_request_id, request_id_var


def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz")
    assert len(response["X-Request-ID"]) == 32


def test_a_callers_request_id_is_kept(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc-123.retry")
    assert response["X-Request-ID"] == "abc-123.retry"


def test_an_unsafe_request_id_is_replaced():
    assert new_request_id("evil\nid") != "evil\nid"
    assert new_request_id("x" * 65) != "x" * 65


def test_a_log_line_is_one_json_object_with_the_request_id():
    formatter = JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    record = logging.LogRecord("imagegen.test", logging.INFO, __file__, 1, "hello\nworld", None, None)
    token = request_id_var.set("req-42")
    try:
        RequestIdFilter().filter(record)
        line = formatter.format(record)
    finally:
        request_id_var.reset(token)
    assert "\n" not in line
    payload = json.loads(line)
    assert payload["message"] == "hello\nworld"
    assert payload["request_id"] == "req-42"
    assert payload["levelname"] == "INFO"
