"""Settings boot under the embedded default and under production-style env vars,
a bad value stops the start with one line naming the variable, and the settings
only read: what they read is made by the entry points (imagegen/boot.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
OUR_VARS = (
    "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL", "IMAGE_S3_BUCKET",
    "IMAGEGEN_VAR_DIR", "SECURE_SSL_REDIRECT", "DJANGO_SETTINGS_MODULE", "AWS_ENDPOINT_URL", "CDN_URL",
)  # fmt: skip

PROBE = """
import json
from imagegen.boot import start
start()
from django.conf import settings as s
print(json.dumps({
    "debug": s.DEBUG,
    "engine": s.DATABASES["default"]["ENGINE"],
    "db_name": str(s.DATABASES["default"]["NAME"]),
    "conn_max_age": s.DATABASES["default"].get("CONN_MAX_AGE", 0),
    "broker": s.CELERY_BROKER_URL,
    "broker_options": s.CELERY_BROKER_TRANSPORT_OPTIONS,
    "storage": s.STORAGES["default"]["BACKEND"],
    "storage_options": {k: str(v) for k, v in s.STORAGES["default"].get("OPTIONS", {}).items()},
    "secret_key": s.SECRET_KEY,
    "hasher": s.PASSWORD_HASHERS[0],
    "hsts": s.SECURE_HSTS_SECONDS,
    "acks_late": s.CELERY_TASK_ACKS_LATE,
    "reject_on_worker_lost": s.CELERY_TASK_REJECT_ON_WORKER_LOST,
    "prefetch": s.CELERY_WORKER_PREFETCH_MULTIPLIER,
    "accept": s.CELERY_ACCEPT_CONTENT,
}))
"""

PRODUCTION = {
    "SECRET_KEY": "a-long-production-secret-" + "x" * 40,
    "ALLOWED_HOSTS": "images.example.com",
    "DATABASE_URL": "postgres://app:pw@db.internal:5432/imagegen",
    "CELERY_BROKER_URL": "sqs://",
    "IMAGE_S3_BUCKET": "imagegen-media",
    "AWS_REGION": "eu-west-1",
}


def run(code: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in OUR_VARS}
    return subprocess.run(
        [sys.executable, *args] if args else [sys.executable, "-c", code],
        cwd=BASE_DIR, env={**clean, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def boot(env: dict[str, str]) -> dict:
    result = run(PROBE, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_boots_the_embedded_default_with_nothing_set(tmp_path):
    s = boot({"DEBUG": "1", "IMAGEGEN_VAR_DIR": str(tmp_path)})
    assert s["engine"] == "django.db.backends.sqlite3"
    assert s["db_name"] == str(tmp_path / "db.sqlite3")
    assert s["broker"] == f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    assert s["storage"] == "django.core.files.storage.FileSystemStorage"
    assert s["storage_options"]["location"] == str(tmp_path / "media")


@pytest.mark.parametrize("database_url", ["", "postgres://app:pw@db.internal:5432/imagegen"])
def test_it_keeps_database_connections_between_requests_on_either_database(tmp_path, database_url):
    # Opening SQLite's file per request (pragmas, then a WAL checkpoint on close) cost a sixth of a list.
    s = boot({"DEBUG": "1", "IMAGEGEN_VAR_DIR": str(tmp_path), "DATABASE_URL": database_url})
    assert s["conn_max_age"] >= 60


def test_it_generates_a_dev_secret_key_once_and_keeps_it(tmp_path):
    first = boot({"DEBUG": "1", "IMAGEGEN_VAR_DIR": str(tmp_path)})["secret_key"]
    second = boot({"DEBUG": "1", "IMAGEGEN_VAR_DIR": str(tmp_path)})["secret_key"]
    assert len(first) >= 50
    assert first == second == (tmp_path / "secret_key").read_text().strip()


def test_it_is_not_in_debug_unless_asked(tmp_path):
    s = boot({**PRODUCTION, "IMAGEGEN_VAR_DIR": str(tmp_path)})
    assert s["debug"] is False


def test_it_boots_production_style_on_postgres_sqs_and_s3(tmp_path):
    s = boot({**PRODUCTION, "IMAGEGEN_VAR_DIR": str(tmp_path), "AWS_ENDPOINT_URL": "http://127.0.0.1:4566"})
    assert s["engine"] == "imagegen.postgresql"  # Django's, with a cheaper health check
    assert s["db_name"] == "imagegen"
    assert s["broker"] == "sqs://"
    assert s["broker_options"]["region"] == "eu-west-1"
    assert s["broker_options"]["visibility_timeout"] > 600
    assert s["broker_options"]["is_secure"] is False
    assert s["storage"] == "storages.backends.s3.S3Storage"
    assert s["storage_options"]["bucket_name"] == "imagegen-media"
    assert s["storage_options"]["endpoint_url"] == "http://127.0.0.1:4566"
    assert s["hasher"].endswith("Argon2PasswordHasher")
    assert s["hsts"] > 0


def test_it_configures_celery_for_reliable_delivery(tmp_path):
    s = boot({"DEBUG": "1", "IMAGEGEN_VAR_DIR": str(tmp_path)})
    assert s["acks_late"] is True
    assert s["reject_on_worker_lost"] is True
    assert s["prefetch"] == 1
    assert s["accept"] == ["json"]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "", "SECRET_KEY_FILE": "/nonexistent/secret_key"}, "SECRET_KEY_FILE"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"DATABASE_URL": "postgres://u:p@host:notaport/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "oracle-ish:/nothing"}, "DATABASE_URL"),
        ({"CELERY_BROKER_URL": "kafka://broker:9092"}, "CELERY_BROKER_URL"),
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"PRESIGNED_URL_TTL": "soon"}, "PRESIGNED_URL_TTL"),
        ({"TIER_QUOTAS": "free=50"}, "TIER_QUOTAS"),
    ],
)
def test_it_stops_with_one_line_naming_a_bad_variable(tmp_path, env, named):
    result = run(PROBE, {**PRODUCTION, "IMAGEGEN_VAR_DIR": str(tmp_path), **env})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("imagegen: configuration error:")
    assert named in lines[0]


def test_it_stops_with_one_line_when_var_is_not_writable(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run(PROBE, {"DEBUG": "1", "IMAGEGEN_VAR_DIR": str(blocker / "var")})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "IMAGEGEN_VAR_DIR" in result.stderr and "not writable" in result.stderr


SETTINGS_ONLY = """
from django.conf import settings
settings.INSTALLED_APPS
"""


def test_loading_the_settings_alone_writes_nothing_in_an_empty_var_dir(tmp_path):
    var = tmp_path / "var"

    result = run(
        SETTINGS_ONLY, {**PRODUCTION, "IMAGEGEN_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "imagegen.settings"}
    )

    assert result.returncode == 0, result.stderr
    assert not var.exists()


def test_under_debug_the_settings_alone_read_the_dev_key_and_never_make_it(tmp_path):
    var = tmp_path / "var"
    env = {"DEBUG": "1", "IMAGEGEN_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "imagegen.settings"}

    missing = run(SETTINGS_ONLY, env)
    made = boot({"DEBUG": "1", "IMAGEGEN_VAR_DIR": str(var)})  # through the entry points' start
    read = run(SETTINGS_ONLY + "print(settings.SECRET_KEY)", env)

    assert missing.returncode != 0
    assert f"no development key in {var / 'secret_key'}" in missing.stderr
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == made["secret_key"] == (var / "secret_key").read_text()


def test_check_deploy_is_clean_under_production_env_vars(tmp_path):
    result = run("", {**PRODUCTION, "IMAGEGEN_VAR_DIR": str(tmp_path)}, "manage.py", "check", "--deploy",
                 "--fail-level", "WARNING")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
