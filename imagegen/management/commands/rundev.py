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
from django.core.management.base import BaseCommand


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

        def stop(*_args: object) -> None:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        try:
            while all(proc.poll() is None for proc in procs):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        stop()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.stdout.write("Stopped.")
