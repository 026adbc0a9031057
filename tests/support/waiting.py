"""Waiting for what another process or thread does: a value polled until it is what we want, or time runs out.

``wait_for`` is for waits that are a precondition (a server up, a job finished before the test looks):
it raises when the time is up, or as soon as the process doing the work has exited. ``poll`` is for waits
whose outcome the test then checks itself, with its own message.

The loop is not the app's (imagegen/polling.py): bench/ starts servers with these helpers from a process
without Django settings, and importing anything of imagegen loads them.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def poll(get: Callable[[], T], *, until: Callable[[T], Any] = bool, timeout: float, interval: float = 0.2) -> T:
    """Call ``get`` every ``interval`` seconds until ``until`` holds for its value or ``timeout`` seconds pass.

    Returns the last value, whether it held or not; ``get`` is called at least once.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if until(value) or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def wait_for(
    get: Callable[[], T],
    timeout: float = 60,
    interval: float = 0.2,
    *,
    until: Callable[[T], Any] = bool,
    process: subprocess.Popen | None = None,
    log: Path | None = None,
    what: str = "the condition",
) -> T:
    """Like ``poll``, but the value must come: returns it, or raises ``TimeoutError`` when the time is up.

    With ``process``, raises ``RuntimeError`` as soon as it exits without the value having come;
    ``log`` (its output) ends either message, as what went wrong is usually there.
    """

    def get_while_running() -> T:
        value = get()
        if not until(value) and process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited ({process.returncode}) while waiting for {what}{_tail(log)}")
        return value

    value = poll(get_while_running, until=until, timeout=timeout, interval=interval)
    if not until(value):
        raise TimeoutError(f"waited {timeout}s for {what} in vain{_tail(log)}")
    return value


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return ":\n" + log.read_text(errors="replace")[-3000:]
