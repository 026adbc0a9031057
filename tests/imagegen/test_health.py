from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imagegen import health

BASE_DIR = Path(__file__).resolve().parents[2]


def test_healthz_answers_ok_without_touching_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ok_when_database_broker_and_storage_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"] == {"database": "ok", "broker": "ok", "storage": "ok"}
    assert body["failed"] == []


@pytest.mark.django_db
def test_readyz_names_the_check_that_failed(client, monkeypatch):
    def broken() -> None:
        raise ConnectionError("broker down")

    monkeypatch.setitem(health.CHECKS, "broker", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
    assert "broker down" in response.json()["checks"]["broker"]


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path):
    # A real process whose DATABASE_URL points at a port nothing listens on.
    script = (
        "import json\n"
        "from imagegen.boot import load_settings_or_exit\n"
        "load_settings_or_exit()\n"
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "r = Client().get('/readyz')\n"
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))\n"
    )
    env = {**os.environ, "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere", "IMAGEGEN_VAR_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 503
    assert answer["body"]["failed"] == ["database"]
    assert answer["body"]["checks"]["broker"] == "ok"


@pytest.mark.django_db
def test_readyz_says_which_providers_are_configured(client, settings):
    settings.OPENAI_API_KEY = ""
    providers = client.get("/readyz").json()["providers"]
    assert providers["builtin"] == {"configured": True, "default": True, "models": ["builtin-v1"]}
    assert providers["openai"]["configured"] is False
    settings.OPENAI_API_KEY = "sk-test"
    assert client.get("/readyz").json()["providers"]["openai"]["configured"] is True
