"""The embedded broker's SQLite file is opened in WAL mode with checkpoint-time syncs."""

from __future__ import annotations

import pytest
import sqlalchemy
from django.db import connection

from imagegen.embedded_broker import tune_sqlite_broker


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
