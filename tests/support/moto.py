"""A real moto server (SQS, S3, ...) on a free loopback port, for end-to-end tests.

moto's server speaks the AWS wire protocols, so boto3, django-storages and
kombu's SQS transport (which signs and sends its own HTTP requests) all talk to
it unchanged. Typical use::

    from tests.support.moto import aws_env, moto_server

    @pytest.fixture(scope="module")
    def moto_url():
        with moto_server() as url:
            yield url

    def test_something(moto_url, monkeypatch):
        reset_moto(moto_url)                 # wipe queues and buckets between tests
        for name, value in aws_env(moto_url).items():
            monkeypatch.setenv(name, value)  # boto3 in this process now targets moto
        ...
        child_env(**aws_env(moto_url))       # and so do worker processes started by the test

For Celery over SQS, also pass ``CELERY_BROKER_URL="sqs://"``: kombu reads
``AWS_ENDPOINT_URL`` from the environment (see STACK notes).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.processes import answers, free_port, stop
from tests.support.waiting import wait_for

DEFAULT_REGION = "us-east-1"
# moto accepts any credentials; boto3 refuses to sign without some.
TEST_ACCESS_KEY = "testing"
TEST_SECRET_KEY = "testing"


def aws_env(endpoint_url: str, *, region: str = DEFAULT_REGION) -> dict[str, str]:
    """Environment variables that point boto3 (and Imagegen's settings) at ``endpoint_url``."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET_KEY,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }


def boto3_client(service: str, endpoint_url: str, *, region: str = DEFAULT_REGION) -> Any:
    """A boto3 client for ``service`` on the moto server, whatever the process environment holds."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=TEST_ACCESS_KEY,
        aws_secret_access_key=TEST_SECRET_KEY,
    )


def reset_moto(endpoint_url: str) -> None:
    """Forget every queue, bucket and message the server holds."""
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def _start(log_path: Path, timeout: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    endpoint_url = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            # moto must not pick up a developer's real AWS profile or endpoint.
            env={key: value for key, value in os.environ.items() if not key.startswith("AWS_")},
        )
    try:
        wait_for(
            lambda: answers(f"{endpoint_url}/moto-api/"),
            timeout=timeout,
            interval=0.1,
            process=proc,
            log=log_path,
            what=f"moto_server on {endpoint_url}",
        )
    except (RuntimeError, TimeoutError) as exc:
        stop(proc, timeout=5)
        raise RuntimeError(f"moto_server on {endpoint_url} did not start") from exc
    return proc, endpoint_url


@contextmanager
def moto_server(*, timeout: float = 30, attempts: int = 3) -> Iterator[str]:
    """Run ``moto_server`` on a free 127.0.0.1 port; yield its endpoint URL; stop it on exit.

    A port picked as free can be taken before moto binds it, so a failed start
    is retried on a new port (``attempts`` times).
    """
    with tempfile.TemporaryDirectory(prefix="imagegen-moto-") as folder:
        log_path = Path(folder) / "moto.log"
        for attempt in range(1, attempts + 1):
            try:
                proc, endpoint_url = _start(log_path, timeout)
                break
            except RuntimeError:
                if attempt == attempts:
                    raise
        try:
            yield endpoint_url
        finally:
            stop(proc, timeout=10)
