"""`manage.py rundev` (what `make run` ends in) serves the site and runs a worker; Ctrl-C stops both."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request

import pytest

from tests.support.processes import BASE_DIR, child_env, free_port, wait_for_text, wait_http

pytestmark = pytest.mark.slow


def test_rundev_serves_healthz_and_stops_web_and_worker_on_ctrl_c(tmp_path):
    port = free_port()
    log = tmp_path / "rundev.log"
    env = child_env(DEBUG="1", IMAGEGEN_VAR_DIR=str(tmp_path / "var"))
    env.pop("DATABASE_URL")
    env["DJANGO_SETTINGS_MODULE"] = "imagegen.settings"
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=BASE_DIR, env=env, check=True, timeout=120)
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "manage.py", "rundev", "--port", str(port)], cwd=BASE_DIR, env=env,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        wait_for_text(log, "ready.", proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
        assert f"http://localhost:{port}/" in log.read_text()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=40) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Stopped." in log.read_text()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
