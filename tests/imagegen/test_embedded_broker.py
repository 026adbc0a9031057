"""The embedded broker's SQLite file: WAL with checkpoint-time syncs, processes that
follow the file when it is deleted or replaced under them, and a worker that waits for
a publish instead of polling (imagegen/embedded_broker.py).

The unit tests open the file through SQLAlchemy and kombu in this process; the
slow one deletes the file under a real worker and web server and submits jobs
through the API.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from django.db import connection
from kombu import Connection
from kombu.transport.sqlalchemy import Channel as SqlalchemyChannel
from rest_framework_simplejwt.tokens import RefreshToken

from imagegen import embedded_broker
from imagegen.embedded_broker import PLUGIN_NAME, BrokerWatch, broker_files, file_identity, tune_sqlite_broker
from images.models import Generation
from tests.support.http import call
from tests.support.processes import celery_worker, child_env, web_server

JOB_SECONDS = 60  # the outage drills' catch-up bound (tests/images/test_outage_broker.py)
REPLACED = "was removed or replaced"


def test_every_sqlalchemy_sqlite_connection_gets_wal_and_normal_sync(tmp_path):
    tune_sqlite_broker()
    tune_sqlite_broker()  # idempotent: imported by every process, once
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'broker.sqlite3'}")
    try:
        with engine.connect() as conn:
            journal = conn.execute(sqlalchemy.text("PRAGMA journal_mode")).scalar()
            synchronous = conn.execute(sqlalchemy.text("PRAGMA synchronous")).scalar()
    finally:
        engine.dispose()

    assert (journal, synchronous) == ("wal", 1)  # 1 = NORMAL (FULL, the default, is 2)


@pytest.mark.django_db
def test_the_embedded_database_syncs_at_checkpoints_not_every_commit():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal = cursor.fetchone()[0]
        cursor.execute("PRAGMA synchronous")
        synchronous = cursor.fetchone()[0]

    assert (journal, synchronous) == ("wal", 1)


@pytest.fixture
def broker_engine(tmp_path: Path) -> Iterator[sqlalchemy.Engine]:
    """An engine on tmp_path/broker.sqlite3 with the plugin, as kombu builds it from the settings."""
    tune_sqlite_broker()
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'broker.sqlite3'}", plugins=[PLUGIN_NAME])
    yield engine
    engine.dispose()


def write_marker(conn: sqlalchemy.Connection, name: str) -> None:
    conn.execute(sqlalchemy.text("CREATE TABLE marker (name TEXT)"))
    conn.execute(sqlalchemy.text("INSERT INTO marker VALUES (:name)"), {"name": name})
    conn.commit()


def remove_wal_and_shm(path: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def test_file_identity_is_the_device_and_inode_and_none_for_a_missing_file(tmp_path):
    path = tmp_path / "broker.sqlite3"
    assert file_identity(str(path)) is None
    path.write_bytes(b"")
    st = path.stat()
    assert file_identity(str(path)) == (st.st_dev, st.st_ino)


def test_pooled_connections_move_to_the_file_that_replaced_theirs_with_one_warning(broker_engine, tmp_path, caplog):
    path = tmp_path / "broker.sqlite3"
    with broker_engine.connect() as first, broker_engine.connect():  # two connections pooled on the old file
        write_marker(first, "old")
    replacement = tmp_path / "replacement.sqlite3"
    with sqlite3.connect(replacement) as raw:
        raw.execute("CREATE TABLE marker (name TEXT)")
        raw.execute("INSERT INTO marker VALUES ('new')")
    raw.close()
    remove_wal_and_shm(path)  # the old file's: a replacement comes without them (docs/operations.md)
    os.replace(replacement, path)

    with caplog.at_level(logging.WARNING, logger="imagegen.embedded_broker"):
        for _ in range(4):  # each pooled connection in turn, then the reconnected ones
            with broker_engine.connect() as conn:
                assert conn.execute(sqlalchemy.text("SELECT name FROM marker")).scalar() == "new"

    assert [r.getMessage().count(REPLACED) for r in caplog.records] == [1]


def test_a_connection_to_an_unchanged_file_is_kept(broker_engine, tmp_path):
    with broker_engine.connect() as conn:
        write_marker(conn, "kept")
        first = conn.connection.dbapi_connection
    with broker_engine.connect() as conn:
        assert conn.connection.dbapi_connection is first


def test_a_file_recreated_after_a_delete_gets_its_own_wal_and_shm(broker_engine, tmp_path):
    path = tmp_path / "broker.sqlite3"
    with broker_engine.connect() as conn:
        write_marker(conn, "old")
    # Another process still on the old file keeps its WAL index mapped (and the -shm's inode in use).
    other = sqlite3.connect(path)
    try:
        assert other.execute("SELECT name FROM marker").fetchall() == [("old",)]
        old_shm = os.stat(f"{path}-shm").st_ino
        path.unlink()  # the file alone: its -wal and -shm stay behind

        with broker_engine.connect() as conn:
            write_marker(conn, "new")
            assert conn.execute(sqlalchemy.text("PRAGMA integrity_check")).scalar() == "ok"

        assert os.stat(f"{path}-shm").st_ino != old_shm
        assert other.execute("SELECT name FROM marker").fetchall() == [("old",)]
    finally:
        other.close()


@pytest.fixture
def kombu_broker(tmp_path: Path) -> Iterator[str]:
    """The URL of a broker file under tmp_path, as settings configure it; kombu's cached engine disposed after."""
    tune_sqlite_broker()
    path = tmp_path / "broker.sqlite3"
    yield f"sqla+sqlite:///{path}"
    for hostname in [h for h in SqlalchemyChannel._engines if h.endswith(str(path))]:
        SqlalchemyChannel._engines.pop(hostname)[0].dispose()


def test_a_publisher_whose_broker_file_was_deleted_recreates_it_with_kombus_tables(kombu_broker, tmp_path):
    path = tmp_path / "broker.sqlite3"
    options = {"plugins": [PLUGIN_NAME]}
    with Connection(kombu_broker, transport_options=options) as conn:
        queue = conn.SimpleQueue("jobs")
        queue.put({"n": 1})
        path.unlink()
        queue.put({"n": 2})  # the web process publishing after the delete, on its pooled connection
        queue.close()

    with sqlite3.connect(path) as raw:
        queues = raw.execute("SELECT name FROM kombu_queue").fetchall()
        messages = raw.execute("SELECT count(*) FROM kombu_message").fetchone()[0]
    raw.close()
    assert (queues, messages) == ([("jobs",)], 1)
    with Connection(kombu_broker, transport_options=options) as conn:
        queue = conn.SimpleQueue("jobs")
        message = queue.get(timeout=5)
        assert message.payload == {"n": 2}
        message.ack()
        queue.close()


@pytest.fixture(params=["inotify", "stat"])
def watch_kind(request, monkeypatch) -> str:
    """Each waiting test runs with inotify (Linux) and with the stat reads used elsewhere."""
    if request.param == "stat":
        monkeypatch.setattr(embedded_broker, "_inotify_libc", lambda: None)
    return request.param


def watch_for(kombu_broker: str, watch_kind: str) -> BrokerWatch:
    watch = BrokerWatch(broker_files(kombu_broker.removeprefix("sqla+")))
    assert watch.uses_inotify == (watch_kind == "inotify")
    return watch


def test_the_watched_files_are_the_sqlite_file_and_its_wal_and_none_for_other_databases(tmp_path):
    path = str(tmp_path / "broker.sqlite3")
    assert broker_files(f"sqlite:///{path}") == (path, path + "-wal")
    assert broker_files("sqlite://") == ()
    assert broker_files("postgresql://u@h/db") == ()


def test_an_idle_consumers_wait_ends_when_another_connection_publishes(kombu_broker, watch_kind):
    with Connection(kombu_broker) as publisher:
        queue = publisher.SimpleQueue("jobs")
        watch = watch_for(kombu_broker, watch_kind)
        try:
            watch.arm()  # as the worker does before each poll of the queue
            queue.put({"n": 1})
            # Woken by the publish (True), long before the safety-net poll it would otherwise wait for.
            assert watch.wait(30) is True
        finally:
            watch.close()
            queue.close()


def test_its_own_empty_poll_does_not_wake_the_wait(kombu_broker, watch_kind):
    # Otherwise an idle worker would poll, wake itself and poll again: a loop burning CPU.
    with Connection(kombu_broker) as consumer:
        queue = consumer.SimpleQueue("jobs")
        watch = watch_for(kombu_broker, watch_kind)
        try:
            watch.arm()
            with pytest.raises(queue.Empty):
                queue.get(block=False)
            assert watch.wait(0.3) is False
        finally:
            watch.close()
            queue.close()


def test_a_settled_delivery_in_another_thread_ends_the_wait(kombu_broker, watch_kind):
    # Celery's blocking loop acks from the pool's result thread: the freed slot must not wait for a write.
    watch = watch_for(kombu_broker, watch_kind)
    try:
        watch.arm()
        poker = threading.Thread(target=watch.poke)
        poker.start()
        assert watch.wait(30) is True
        poker.join()
    finally:
        watch.close()


def test_the_worker_drains_with_the_waking_transport_and_settling_pokes_it(kombu_broker):
    embedded_broker.use_waking_transport()
    with Connection(kombu_broker) as conn:
        assert type(conn.transport) is embedded_broker.Transport
        queue = conn.SimpleQueue("jobs")
        publisher = threading.Timer(0.2, lambda: Connection(kombu_broker).SimpleQueue("jobs").put({"n": 7}))
        publisher.start()
        message = queue.get(block=True, timeout=30)  # drain_events, waiting on the watch in between
        publisher.join()
        assert message.payload == {"n": 7}
        conn.transport.watch.arm()
        message.ack()
        assert conn.transport.watch.wait(30) is True
        queue.close()


def test_a_watch_whose_folder_was_removed_reads_the_files_stat_from_then_on(tmp_path):
    folder = tmp_path / "var"
    folder.mkdir()
    watch = BrokerWatch(broker_files(f"sqlite:///{folder / 'broker.sqlite3'}"))
    try:
        assert watch.uses_inotify
        watch.arm()
        folder.rmdir()
        assert watch.wait(30) is True
        assert not watch.uses_inotify
        folder.mkdir()
        watch.arm()
        (folder / "broker.sqlite3").write_bytes(b"")  # a new file at the path, in the new folder
        assert watch.wait(30) is True
    finally:
        watch.close()


def test_a_worker_uses_the_waking_transport_for_the_embedded_broker():
    from tests.imagegen.test_settings import run

    probe = "from celery_app import app; print(app.connection_for_read().get_transport_cls().__module__)"
    result = run(probe, {"SECRET_KEY": "x" * 50, "DEBUG": "true"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imagegen.embedded_broker"


def submit_and_wait(base: str, token: str, n: int, logs: Path) -> None:
    status, body = call("POST", f"{base}/api/v1/generations", token,
                        {"prompt": f"harbour at dusk #{n}", "size": "256x256", "seed": n})  # fmt: skip
    assert status == 202, body
    deadline = time.monotonic() + JOB_SECONDS
    while time.monotonic() < deadline:
        if Generation.objects.filter(pk=body["id"], status="succeeded").exists():
            return
        time.sleep(0.2)
    status = Generation.objects.get(pk=body["id"]).status
    # What the worker and web processes logged is all there is to tell a lost message from a failed publish.
    tails = "\n".join(f"== {log.name}\n{log.read_text()[-4000:]}" for log in sorted(logs.glob("*.log")))
    raise AssertionError(f"job {n} is {status} after {JOB_SECONDS}s\n{tails}")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_jobs_published_into_a_new_broker_file_after_its_own_was_deleted(user, tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the embedded default's drill: run on SQLite")
    broker = tmp_path / "broker.sqlite3"
    env = child_env(IMAGEGEN_VAR_DIR=str(tmp_path), CELERY_BROKER_URL=f"sqla+sqlite:///{broker}")
    token = str(RefreshToken.for_user(user).access_token)
    worker_log = tmp_path / "worker.log"
    with celery_worker(worker_log, env=env) as worker:
        with web_server(tmp_path / "web.log", env=env) as base:
            submit_and_wait(base, token, 0, tmp_path)
            broker.unlink()  # the file alone, as `rm var/broker.sqlite3` would
            submit_and_wait(base, token, 1, tmp_path)  # published by a process that had the old file open
        # A web process started after the delete (a deploy, a restarted gunicorn worker) never saw the old file.
        with web_server(tmp_path / "web-restarted.log", env=env) as base:
            submit_and_wait(base, token, 2, tmp_path)
        assert worker.poll() is None

    # Once per connection that had the old file open, not once per poll: the worker's consumer, and the
    # producer it publishes follow-up jobs with (an image's analysis).
    assert 1 <= worker_log.read_text().count(REPLACED) <= 2
