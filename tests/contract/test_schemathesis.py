"""schemathesis against a live server: every operation answers as /api/schema says, or the test fails.

All of schemathesis' checks and phases (examples, coverage, fuzzing, stateful through the schema's
links) for a bounded time. The seed comes from SCHEMATHESIS_SEED (CI sets a fixed one, .ci/run);
without it each run draws its own, printed with any failure so that it can be replayed with
``SCHEMATHESIS_SEED=<seed> pytest tests/contract/test_schemathesis.py``. What a schema cannot state
(an opaque cursor, password rules, image contents) is in schemathesis.toml beside this file, and
what OpenAPI 3.0 cannot say of a client's metadata in hooks.py.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from accounts.services import tokens_for_user
from tests.support.processes import child_env, web_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CONFIG = Path(__file__).with_name("schemathesis.toml")
ROOT = Path(__file__).resolve().parents[2]
SECONDS = int(os.environ.get("SCHEMATHESIS_SECONDS", "150"))
# Throttles and the daily quotas would answer most generated requests with 429 after the first few.
UNTHROTTLED = {
    "THROTTLE_ANON_RATE": "1000000/min",
    "THROTTLE_USER_RATE": "1000000/min",
    "THROTTLE_AUTH_RATE": "1000000/min",
    "THROTTLE_ACCOUNT_RATE": "1000000/min",
    "TIER_QUOTAS": "free:0",
    "TIER_UPLOAD_QUOTAS": "free:0",
}


def seed() -> int:
    return int(os.environ.get("SCHEMATHESIS_SEED") or secrets.randbelow(2**31))


@pytest.mark.skipif(
    connection.vendor == "sqlite" and not os.environ.get("SCHEMATHESIS_ON_SQLITE"),
    reason="runs on PostgreSQL (CI runs both databases at once: one fuzzing run is enough CPU)",
)
@pytest.mark.timeout(SECONDS + 120)
def test_every_operation_answers_as_the_schema_says(user, tmp_path):
    token = tokens_for_user(user=user)["access"]
    run_seed = seed()
    hooks = {"SCHEMATHESIS_HOOKS": "tests.contract.hooks", "PYTHONPATH": str(ROOT)}
    with web_server(tmp_path / "web.log", env=child_env(**UNTHROTTLED)) as base:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "--config-file",
                str(CONFIG),
                "run",
                f"{base}/api/schema",
                "--header",
                f"Authorization: Bearer {token}",
                "--checks",
                "all",
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--max-time",
                str(SECONDS),
                "--seed",
                str(run_seed),
                # One worker: hypothesis' lambda descriptions are not thread-safe on Python 3.11
                # (SystemError "AST constructor recursion depth mismatch" with -w 2).
                "--workers",
                "1",
                "--request-timeout",
                "20",
                # It waits for a render to finish (up to OPENAI_COMPAT_TIMEOUT, with no worker here:
                # forever). tests/images/test_openai_compat.py drives it with the official SDK.
                "--exclude-path",
                "/v1/images/generations",
                "--generation-database",
                "none",
                "--no-color",
            ],
            cwd=tmp_path,  # its cache and reports stay out of the checkout
            env=child_env(**hooks),
            capture_output=True,
            text=True,
            timeout=SECONDS + 90,
        )
    report = result.stdout[-20000:] + result.stderr[-5000:]
    assert result.returncode == 0, f"schemathesis failed with seed {run_seed}:\n{report}"
