"""Gunicorn settings for the web process (the README's recommended server).

Threaded workers: a request held open by ``Prefer: wait`` or the
OpenAI-compatible endpoint occupies one thread, not a whole process.
"""

import gc
import os
import shutil

# Request metrics from every worker process, summed at scrape time (imagegen/metrics.py).
# Set before the app (and prometheus_client) is imported by the workers.
metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(os.environ.get("IMAGEGEN_VAR_DIR", "var"), "metrics")
)
os.makedirs(metrics_dir, exist_ok=True)

bind = os.environ.get("GUNICORN_BIND", f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 20
keepalive = 5
# Requests are logged by imagegen.middleware.RequestIdMiddleware as JSON lines.
accesslog = None
errorlog = "-"


def on_starting(server):
    # Counts of a previous run's processes would otherwise be summed in.
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir, exist_ok=True)


def post_worker_init(worker):
    # The loaded app's objects (Django, DRF, the URL patterns: ~140k) live as long as the process:
    # frozen, the collector stops walking them, while each request leaves cyclic garbage behind
    # (DRF's serializers and views point at each other) that makes it run often. A tenth of a page
    # of 50 images' CPU (docs/benchmarks.md).
    gc.freeze()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
