"""Start real worker and web-server processes for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from tests.support.waiting import wait_for

BASE_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The URL of the database the tests are using (the test database, once created)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def child_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url()
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def wait_for_text(path: Path, text: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    """Wait until ``proc`` has written ``text`` to its log ``path``."""
    wait_for(
        lambda: path.exists() and text in path.read_text(errors="replace"),
        timeout=timeout,
        interval=0.1,
        process=proc,
        log=path,
        what=f"{text!r} in {path}",
    )


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def celery_worker(
    log_path: Path,
    *,
    include: str | None = None,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
    new_session: bool = False,
) -> Iterator[subprocess.Popen]:
    """A real `celery worker` process on the configured broker, stopped on exit."""
    cmd = [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--loglevel", "INFO",
           "--concurrency", "1", "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
    if include:
        cmd += ["--include", include]
    cmd += extra or []
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=BASE_DIR,
            env=env or child_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )
    try:
        wait_for_text(log_path, "ready.", proc)
        yield proc
    finally:
        stop(proc)


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    """Wait until the server ``proc`` answers ``url`` with a success."""
    wait_for(lambda: answers(url), timeout=timeout, process=proc, what=f"{url} to answer")


def answers(url: str) -> bool:
    """Whether a GET of ``url`` succeeds now (an error status or no answer is a no)."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


@contextmanager
def web_server(log_path: Path, *, env: dict[str, str] | None = None, cwd: Path = BASE_DIR) -> Iterator[str]:
    """gunicorn with the project's gunicorn.conf.py (the README's server), on a free port; yields its base URL.

    ``cwd`` serves another checkout of the project (the benchmarks' before-and-after runs).
    """
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
           "imagegen.wsgi:application"]  # fmt: skip
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env or child_env(), stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base_url}/healthz", proc)
        yield base_url
    finally:
        stop(proc)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a process started with start_new_session=True and every child it has."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
