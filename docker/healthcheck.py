"""The image's HEALTHCHECK: GET /healthz from the local gunicorn, exit 0 on a 200.

Only the web role serves HTTP; docker-compose disables the check for the worker
and beat containers (ECS ignores image health checks and uses the task
definition's own). The request carries a Host from ``ALLOWED_HOSTS`` so Django
accepts it whatever domain the deployment serves.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def local_port() -> str:
    """The port gunicorn listens on, read the way gunicorn.conf.py reads it."""
    bind = os.environ.get("GUNICORN_BIND", "")
    if bind and not bind.startswith("unix:") and ":" in bind:
        return bind.rsplit(":", 1)[1]
    return os.environ.get("PORT", "8000")


def host_header() -> str:
    """A host name Django will accept: the first usable entry of ALLOWED_HOSTS."""
    for host in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = host.strip().lstrip(".")  # ".example.com" allows example.com itself
        if host and host != "*":
            return host
    return "localhost"


def main() -> int:
    url = f"http://127.0.0.1:{local_port()}/healthz"
    request = urllib.request.Request(url, headers={"Host": host_header()})
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310 - fixed http URL on loopback
            healthy = response.status == 200
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
