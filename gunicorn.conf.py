"""Gunicorn settings for the web process (the README's recommended server).

Threaded workers: a request held open by ``Prefer: wait`` or the
OpenAI-compatible endpoint occupies one thread, not a whole process.
"""

import os

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
