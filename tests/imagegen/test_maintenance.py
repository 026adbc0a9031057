"""Pruning consumed messages from the embedded broker's table."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy
from django.conf import settings

from celery_app import app
from imagegen.maintenance import broker_messages_prune


@pytest.fixture(autouse=True)
def empty_broker_table():
    yield
    engine = sqlalchemy.create_engine(settings.CELERY_BROKER_URL.removeprefix("sqla+"))
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("DELETE FROM kombu_message"))
    engine.dispose()


def broker_rows() -> list[tuple[bool, datetime]]:
    engine = sqlalchemy.create_engine(settings.CELERY_BROKER_URL.removeprefix("sqla+"))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sqlalchemy.text("SELECT visible, timestamp FROM kombu_message"))]
    finally:
        engine.dispose()


def test_it_deletes_consumed_messages_and_keeps_waiting_ones():
    app.send_task("tests.support.tasks.write_marker", args=["/dev/null", "x"])
    app.send_task("tests.support.tasks.write_marker", args=["/dev/null", "y"])
    engine = sqlalchemy.create_engine(settings.CELERY_BROKER_URL.removeprefix("sqla+"))
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("DELETE FROM kombu_message WHERE id NOT IN (SELECT MAX(id) FROM kombu_message)"))
        conn.execute(sqlalchemy.text(
            "INSERT INTO kombu_message (visible, timestamp, payload, version, queue_id) "
            "SELECT :no, :old, payload, version, queue_id FROM kombu_message"), {"no": False,
            "old": datetime.now() - timedelta(hours=2)})  # fmt: skip
    engine.dispose()
    assert sorted(v for v, _ in broker_rows()) == [False, True]
    assert broker_messages_prune() == 1
    assert [v for v, _ in broker_rows()] == [True]


def test_it_does_nothing_on_other_brokers(settings):
    settings.BROKER_IS_EMBEDDED = False
    assert broker_messages_prune() == 0
