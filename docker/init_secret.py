"""Write a random SECRET_KEY to a file once: docker compose's one-shot ``secret-init`` service.

Web, worker and beat read it through ``SECRET_KEY_FILE``, so they sign and
check the same things and no key is committed to the repository. A file that
already holds a key is kept, so sessions and signed URLs survive restarts.
The key itself is never printed.

    python docker/init_secret.py [PATH]      (default: $SECRET_KEY_FILE)
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path


def ensure_secret(path: Path) -> bool:
    """Write a new key to ``path`` (mode 0600) unless it holds one already; True when it wrote one."""
    if path.exists() and path.read_text().strip():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(50) + "\n")
    # Readers never see a half-written key.
    os.replace(partial, path)
    return True


def main() -> int:
    target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SECRET_KEY_FILE", "")
    if not target:
        print("init_secret: give a path or set SECRET_KEY_FILE", file=sys.stderr)
        return 2
    path = Path(target)
    try:
        created = ensure_secret(path)
    except OSError as exc:
        print(f"init_secret: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"init_secret: {'generated a new' if created else 'kept the existing'} SECRET_KEY in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
