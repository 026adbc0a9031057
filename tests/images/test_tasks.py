"""The generation task's time limits come from GENERATION_TIME_LIMIT through Celery's configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

PROBE = """
import json
import celery_app, django
django.setup()
from images.tasks import run_generation
print(json.dumps([run_generation.soft_time_limit, run_generation.time_limit]))
"""


def test_the_generation_task_is_limited_by_generation_time_limit_in_the_worker(tmp_path):
    env = {**os.environ, "GENERATION_TIME_LIMIT": "120", "IMAGEGEN_VAR_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)

    result = subprocess.run([sys.executable, "-c", PROBE], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                            timeout=60)  # fmt: skip

    assert result.returncode == 0, result.stderr
    # Soft: the job fails with its message (images/services/pipeline.py); hard, 30 s on: the child is killed.
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [120, 150]
