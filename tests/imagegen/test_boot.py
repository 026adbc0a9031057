"""Every entry point makes var/ and, under DEBUG with no key configured, the development
SECRET_KEY before the settings load (the settings only read them)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
OUR_VARS = ("DEBUG", "SECRET_KEY", "SECRET_KEY_FILE", "DATABASE_URL", "IMAGEGEN_VAR_DIR", "DJANGO_SETTINGS_MODULE")
ENTRY_POINTS = {
    "manage.py": ["manage.py", "check"],
    "gunicorn's imagegen.wsgi": ["-c", "import imagegen.wsgi"],
    "the worker's celery_app": ["-c", "import celery_app"],
}


def start(args: list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in OUR_VARS}
    return subprocess.run([sys.executable, *args], cwd=BASE_DIR, env={**clean, **env}, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize("args", ENTRY_POINTS.values(), ids=ENTRY_POINTS.keys())
def test_each_entry_point_makes_var_and_a_private_dev_key(tmp_path, args):
    var = tmp_path / "var"

    result = start(args, DEBUG="1", IMAGEGEN_VAR_DIR=str(var))

    assert result.returncode == 0, result.stderr
    key_file = var / "secret_key"
    assert len(key_file.read_text()) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not (var / ".write-probe").exists()


def test_no_dev_key_is_made_when_a_key_is_configured(tmp_path):
    var = tmp_path / "var"
    key_file = tmp_path / "mounted-secret"
    key_file.write_text("a-key-from-a-file-" + "k" * 40)

    given = start(ENTRY_POINTS["manage.py"], DEBUG="1", IMAGEGEN_VAR_DIR=str(var), SECRET_KEY="x" * 50)
    from_file = start(ENTRY_POINTS["manage.py"], DEBUG="1", IMAGEGEN_VAR_DIR=str(var), SECRET_KEY_FILE=str(key_file))
    production = start(ENTRY_POINTS["manage.py"], IMAGEGEN_VAR_DIR=str(var), SECRET_KEY="x" * 50,
                       ALLOWED_HOSTS="images.example.com")  # fmt: skip

    assert (given.returncode, from_file.returncode, production.returncode) == (0, 0, 0), given.stderr
    assert var.is_dir()
    assert not (var / "secret_key").exists()
