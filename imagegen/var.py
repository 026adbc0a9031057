"""``var/``: the one folder the app writes to, and the development ``SECRET_KEY`` kept in it.

The settings only read from here. The entry points (``imagegen/boot.py``) make the
folder and, under ``DEBUG`` with no key configured, the key, before the settings
load: Django does not start without a ``SECRET_KEY``, so no management command
could be the one to make it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from imagegen.env import env_bool, env_str

BASE_DIR = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    """``IMAGEGEN_VAR_DIR``, else ``var/`` in the checkout."""
    return Path(env_str("IMAGEGEN_VAR_DIR") or BASE_DIR / "var").resolve()


def dev_secret_key_file(var: Path) -> Path:
    return var / "secret_key"


def ensure_writable(path: Path) -> None:
    """Make ``path`` if needed and check that files can be written in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ImproperlyConfigured(
            f"IMAGEGEN_VAR_DIR: {path} is not writable ({exc.strerror or exc}); "
            "point IMAGEGEN_VAR_DIR at a writable folder"
        ) from None


def ensure_dev_secret_key(path: Path) -> bool:
    """Write a random key to ``path`` (mode 0600) unless it exists; True when this call wrote it.

    Kept once made, so sessions, signed URLs and private folder names survive restarts.
    Two processes starting together both keep the first one's key.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(50))
    return True


def wants_dev_secret_key() -> bool:
    """Whether the settings will read the development key: DEBUG, and no SECRET_KEY or SECRET_KEY_FILE to use."""
    if not env_bool("DEBUG", False) or env_str("SECRET_KEY"):
        return False
    key_file = env_str("SECRET_KEY_FILE")
    if not key_file:
        return True
    try:
        return not Path(key_file).read_text().strip()
    except OSError:
        return False  # the settings stop the start, naming SECRET_KEY_FILE


def prepare() -> None:
    """Make ``var/`` (checked writable) and, when the settings will want it, the development key."""
    var = var_dir()
    ensure_writable(var)
    if wants_dev_secret_key():
        ensure_dev_secret_key(dev_secret_key_file(var))
