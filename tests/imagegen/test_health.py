from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imagegen import health
from tests.factories import UserFactory

BASE_DIR = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-for-tests"


@pytest.fixture(autouse=True)
def fresh_checks(settings):
    # The checks' results are kept per process: each test starts without them.
    settings.METRICS_TOKEN = TOKEN
    health.clear_cache()
    yield
    health.clear_cache()


def detailed(client, **extra):
    return client.get("/readyz", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **extra)


def broken_broker() -> None:
    raise ConnectionError("broker down at sqs.eu-west-1.amazonaws.com (10.0.4.2)")


def test_healthz_answers_ok_without_touching_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ok_when_database_broker_and_storage_answer(client):
    response = detailed(client)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "broker": "ok", "storage": "ok"}
    assert body["failed"] == []


@pytest.mark.django_db
def test_readyz_tells_anonymous_callers_only_ok(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_tells_anonymous_callers_only_that_it_is_failing(client, monkeypatch):
    monkeypatch.setitem(health.CHECKS, "broker", broken_broker)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "failing"}
    assert b"10.0.4.2" not in response.content


@pytest.mark.django_db
def test_readyz_names_the_check_that_failed_to_the_metrics_token(client, monkeypatch):
    monkeypatch.setitem(health.CHECKS, "broker", broken_broker)

    response = detailed(client)

    assert response.status_code == 503
    assert response.json()["status"] == "failing"
    assert response.json()["failed"] == ["broker"]
    assert "broker down" in response.json()["checks"]["broker"]


@pytest.mark.django_db
def test_readyz_shows_details_to_signed_in_staff_only(client, monkeypatch):
    monkeypatch.setitem(health.CHECKS, "broker", broken_broker)
    staff, member = UserFactory(is_staff=True), UserFactory()

    wrong_token = client.get("/readyz", HTTP_AUTHORIZATION="Bearer not-the-token")
    client.force_login(member)
    as_member = client.get("/readyz")
    client.force_login(staff)
    as_staff = client.get("/readyz")

    assert wrong_token.json() == {"status": "failing"}
    assert as_member.json() == {"status": "failing"}
    assert as_staff.status_code == 503
    assert as_staff.json()["failed"] == ["broker"]
    assert "providers" in as_staff.json()


@pytest.mark.django_db
def test_readyz_runs_its_checks_at_most_once_per_cache_period(client, monkeypatch, settings):
    settings.READYZ_CACHE_SECONDS = 5
    runs: list[str] = []
    for name in list(health.CHECKS):
        monkeypatch.setitem(health.CHECKS, name, lambda name=name: runs.append(name))
    clock = [1000.0]
    monkeypatch.setattr(health.time, "monotonic", lambda: clock[0])

    for _ in range(3):
        assert client.get("/readyz").status_code == 200
    clock[0] += 4
    detailed(client)
    first = list(runs)
    clock[0] += 2
    client.get("/readyz")

    assert first == ["database", "broker", "storage"]
    assert runs == first * 2


@pytest.mark.django_db
def test_readyz_checks_every_time_when_its_cache_is_off(client, monkeypatch, settings):
    settings.READYZ_CACHE_SECONDS = 0
    runs: list[int] = []
    monkeypatch.setitem(health.CHECKS, "database", lambda: runs.append(1))

    client.get("/readyz")
    client.get("/readyz")

    assert len(runs) == 2


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path):
    # A real process whose DATABASE_URL points at a port nothing listens on.
    script = (
        "import json\n"
        "from imagegen.boot import load_settings_or_exit\n"
        "load_settings_or_exit()\n"
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "anonymous = Client().get('/readyz')\n"
        f"r = Client().get('/readyz', HTTP_AUTHORIZATION='Bearer {TOKEN}')\n"
        "print(json.dumps({'status': r.status_code, 'body': r.json(), 'anonymous': anonymous.json()}))\n"
    )
    env = {**os.environ, "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere", "IMAGEGEN_VAR_DIR": str(tmp_path),
           "METRICS_TOKEN": TOKEN}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 503
    assert answer["anonymous"] == {"status": "failing"}
    assert answer["body"]["failed"] == ["database"]
    assert answer["body"]["checks"]["broker"] == "ok"


@pytest.mark.django_db
def test_readyz_says_which_providers_are_configured(client, settings):
    settings.OPENAI_API_KEY = ""
    providers = detailed(client).json()["providers"]
    assert providers["builtin"] == {"configured": True, "default": True, "models": ["builtin-v1"]}
    assert providers["openai"]["configured"] is False
    settings.OPENAI_API_KEY = "sk-test"
    assert detailed(client).json()["providers"]["openai"]["configured"] is True
