"""Run the web server and a Celery worker (with beat) together, in the foreground.

`make run` uses this after installing and migrating. Ctrl-C stops both; if
one of them exits, the other is stopped too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Start gunicorn and a Celery worker with beat, and stop both on Ctrl-C."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--worker-concurrency", default=os.environ.get("WORKER_CONCURRENCY", "2"))

    def handle(self, *args, host: str, port: str, worker_concurrency: str, **options) -> None:
        base = str(settings.BASE_DIR)
        web = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"{host}:{port}",
               "imagegen.wsgi:application"]  # fmt: skip
        worker = [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--beat",
                  "--loglevel", "INFO", "--concurrency", worker_concurrency]  # fmt: skip
        procs = [subprocess.Popen(cmd, cwd=base) for cmd in (web, worker)]
        shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host  # noqa: S104 - not a bind
        self.stdout.write(self.style.SUCCESS(f"Imagegen is running at http://{shown}:{port}/  (Ctrl-C stops it)"))

        def stop() -> None:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)

        stopping = False

        def on_signal(*_args: object) -> None:
            nonlocal stopping
            stopping = True

        # Installed explicitly: a shell that starts us in the background ignores SIGINT.
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        while not stopping and all(proc.poll() is None for proc in procs):
            time.sleep(0.2)
        stop()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not stopping:
            died = "web server" if procs[0].returncode not in (None, 0) or procs[1].returncode is None else "worker"
            raise CommandError(f"the {died} exited unexpectedly; stopped the rest")
        self.stdout.write("Stopped.")
