"""gunicorn.conf.py: the settings and hooks of the README's web server."""

from __future__ import annotations

import gc
import importlib.util
from pathlib import Path
from types import ModuleType

CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"


def load(tmp_path: Path, monkeypatch) -> ModuleType:
    # The file sets PROMETHEUS_MULTIPROC_DIR for the server's processes: kept out of this one.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    spec = importlib.util.spec_from_file_location("gunicorn_conf_under_test", CONF)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_worker_moves_the_loaded_app_out_of_the_collectors_reach(tmp_path, monkeypatch):
    conf = load(tmp_path, monkeypatch)
    assert gc.get_freeze_count() == 0
    try:
        conf.post_worker_init(worker=None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_threaded_workers_hold_waiting_requests(tmp_path, monkeypatch):
    conf = load(tmp_path, monkeypatch)
    assert conf.worker_class == "gthread" and conf.threads >= 8
