"""Print this ECS task's private IPv4 address(es), comma-separated, from the task metadata endpoint.

The entrypoint appends them to ``ALLOWED_HOSTS``: an Application Load Balancer
health check sends ``Host: <task IP>:<port>``, and Django answers 400 to a host
it was not told about. Exits 1 (printing why on stderr) when the endpoint does
not answer, so the entrypoint carries on without it.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request


def task_ips(metadata: dict) -> list[str]:
    """The IPv4 addresses of the container's networks (awsvpc: the task's ENI)."""
    addresses: list[str] = []
    for network in metadata.get("Networks") or []:
        for address in network.get("IPv4Addresses") or []:
            if address not in addresses:
                addresses.append(address)
    return addresses


def main() -> int:
    url = os.environ.get("ECS_CONTAINER_METADATA_URI_V4", "")
    if not url.startswith("http://"):
        print("ecs_task_ip: ECS_CONTAINER_METADATA_URI_V4 is not an http URL", file=sys.stderr)
        return 1
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - scheme checked above
            metadata = json.load(response)
    except (OSError, ValueError) as exc:
        print(f"ecs_task_ip: could not read the task metadata: {exc}", file=sys.stderr)
        return 1
    print(",".join(task_ips(metadata)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
