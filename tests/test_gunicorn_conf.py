"""gunicorn.conf.py: the settings and hooks of the README's web server."""

from __future__ import annotations

import gc
import importlib.util
import socket
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.processes import child_env, web_server

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


def test_several_workers_listen_each_on_a_socket_of_their_own(tmp_path, monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "2")
    assert load(tmp_path, monkeypatch).reuse_port is True
    monkeypatch.setenv("GUNICORN_REUSE_PORT", "0")
    assert load(tmp_path, monkeypatch).reuse_port is False
    monkeypatch.delenv("GUNICORN_REUSE_PORT")
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    assert load(tmp_path, monkeypatch).reuse_port is False  # nothing to spread over


def test_it_refuses_an_address_another_server_listens_on_even_with_reuse_port(tmp_path, monkeypatch):
    conf = load(tmp_path, monkeypatch)
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as another gunicorn's worker
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken = other.getsockname()
        with pytest.raises(SystemExit, match=f"cannot listen on 127.0.0.1:{taken[1]}"):
            conf.refuse_taken_addresses([taken])
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        address = free.getsockname()
    conf.refuse_taken_addresses([address, "/run/imagegen.sock"])  # a free port; a Unix socket is not probed


def _listening_sockets(port: int) -> int:
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            count += state == "0A" and int(local.rsplit(":", 1)[1], 16) == port  # 0A: LISTEN
    return count


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
def test_the_server_runs_one_listening_socket_per_worker(tmp_path):
    env = child_env(WEB_CONCURRENCY="2", GUNICORN_THREADS="2")
    with web_server(tmp_path / "web.log", env=env) as base:
        assert _listening_sockets(int(base.rsplit(":", 1)[1])) == 2
