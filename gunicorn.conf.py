"""Gunicorn settings for the web process (the README's recommended server).

Threaded workers: a request held open by ``Prefer: wait`` or the
OpenAI-compatible endpoint occupies one thread, not a whole process.
"""

import gc
import os
import shutil
import socket

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
# Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new connections
# across them. On one shared socket, the worker that wakes first takes a burst of connections whole
# and keeps them as long as they stay open: all 16 of a load generator's keep-alive connections went
# to one of two workers in half the runs (docs/benchmarks.md), one process serving everything on
# one core while the other idled; a proxy's pool of upstream connections does the same. The cost:
# connections still queued on a worker's socket when it stops are refused (a restart's few).
reuse_port = workers > 1 and os.environ.get("GUNICORN_REUSE_PORT", "1") != "0"
# Requests are logged by imagegen.middleware.RequestIdMiddleware as JSON lines.
accesslog = None
errorlog = "-"


def on_starting(server):
    # Counts of a previous run's processes would otherwise be summed in.
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir, exist_ok=True)
    if server.cfg.reuse_port:
        refuse_taken_addresses(server.cfg.address)


def refuse_taken_addresses(addresses):
    """Stop when another server listens on one of ``addresses``.

    With SO_REUSEPORT a second server (another `make run`, say) would bind the same port without a
    word and take half the connections; a plain bind still fails there, as it would without it.
    """
    for address in addresses:
        if not isinstance(address, tuple):
            continue  # a Unix socket's path: gunicorn checks it itself
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed connection's TIME_WAIT is no owner
            try:
                probe.bind(address[:2])
            except OSError as exc:
                raise SystemExit(f"cannot listen on {address[0]}:{address[1]}: {exc.strerror}") from None


def post_worker_init(worker):
    # The loaded app's objects (Django, DRF, the URL patterns: ~140k) live as long as the process:
    # frozen, the collector stops walking them, while each request leaves cyclic garbage behind
    # (DRF's serializers and views point at each other) that makes it run often. A tenth of a page
    # of 50 images' CPU (docs/benchmarks.md).
    gc.freeze()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
