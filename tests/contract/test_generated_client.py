"""A typed Python client generated from /api/schema (openapi-python-client) works against a live server.

Generated into a temporary folder from the schema the server serves, imported, and used as an app
would: sign up, queue a generation, follow it until a real worker has rendered it, download the image.
"""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image as PILImage

from tests.support.processes import celery_worker, child_env, web_server
from tests.support.waiting import poll

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PACKAGE = "imagegen_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


def generate_client(schema_url: str, folder: Path):
    """The client package generated from the schema at ``schema_url``, imported from ``folder``."""
    schema = folder / "schema.json"
    with urllib.request.urlopen(f"{schema_url}?format=json", timeout=30) as response:
        schema.write_bytes(response.read())
    config = folder / "generator.yaml"
    # No ruff run over the generated code; ZIP answers are bytes to it, like any binary body.
    config.write_text("post_hooks: []\ncontent_type_overrides:\n  application/zip: application/octet-stream\n")
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(schema),
            "--meta",
            "none",
            "--config",
            str(config),
            "--output-path",
            str(folder / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    return importlib.import_module(PACKAGE)


@pytest.fixture
def forget_generated_package():
    yield
    for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


def test_a_client_generated_from_the_schema_signs_up_generates_and_downloads(tmp_path, forget_generated_package):
    env = child_env(IMAGEGEN_VAR_DIR=str(tmp_path), CELERY_BROKER_URL=settings.CELERY_BROKER_URL)
    with celery_worker(tmp_path / "worker.log", env=env), web_server(tmp_path / "web.log", env=env) as base:
        client_package = generate_client(f"{base}/api/schema", tmp_path)
        from imagegen_client import AuthenticatedClient, Client
        from imagegen_client.api.auth import auth_signup_create
        from imagegen_client.api.generations import generations_create, generations_retrieve
        from imagegen_client.api.images import images_download_retrieve
        from imagegen_client.models import (
            Generation,
            GenerationCreateRequest,
            GenerationStatusEnum,
            SignupInputRequest,
            SignupOutput,
            SizeEnum,
        )

        assert client_package.__name__ == PACKAGE
        signup = auth_signup_create.sync(
            client=Client(base_url=base),
            body=SignupInputRequest(email="typed@example.com", password="quartz-meadow-lantern-5150", name="Typed"),
        )
        assert isinstance(signup, SignupOutput), signup
        assert signup.user.email == "typed@example.com" and signup.user.quota.used_today == 0

        with AuthenticatedClient(base_url=base, token=signup.access, timeout=30) as api:
            queued = generations_create.sync_detailed(
                client=api, body=GenerationCreateRequest(prompt="a typed lighthouse", size=SizeEnum("256x256"))
            )
            assert queued.status_code == 202, queued.content
            assert isinstance(queued.parsed, Generation)
            assert queued.parsed.status in (GenerationStatusEnum.QUEUED, GenerationStatusEnum.RUNNING)

            finished = poll(
                lambda: generations_retrieve.sync(client=api, id=queued.parsed.id),
                until=lambda g: isinstance(g, Generation) and g.status not in ("queued", "running"),
                timeout=60,
            )
            assert isinstance(finished, Generation), finished
            assert finished.status == GenerationStatusEnum.SUCCEEDED, finished.error
            assert finished.duration_ms is not None and finished.error is None
            (image,) = finished.images
            assert (image.width, image.height, image.format_) == (256, 256, "PNG")  # format_: not the builtin

            download = images_download_retrieve.sync_detailed(client=api, id=image.id)
            assert download.status_code == 302
            original = api.get_httpx_client().get(download.headers["location"])
            assert original.status_code == 200
            assert PILImage.open(io.BytesIO(original.content)).size == (256, 256)
