"""Housekeeping of the embedded broker."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings


def broker_messages_prune(*, older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete consumed message rows from the embedded (SQLAlchemy) broker; returns how many.

    kombu marks a consumed message ``visible = false`` and never deletes it;
    acks do not touch the table and a requeue inserts a new row, so deleting
    invisible rows is safe. A no-op on other brokers.
    """
    if not settings.BROKER_IS_EMBEDDED:
        return 0
    import sqlalchemy

    engine = sqlalchemy.create_engine(settings.CELERY_BROKER_URL.removeprefix("sqla+"))
    cutoff = datetime.now() - older_than  # kombu stores naive local timestamps
    try:
        with engine.begin() as conn:
            if not sqlalchemy.inspect(conn).has_table("kombu_message"):
                return 0
            result = conn.execute(
                sqlalchemy.text("DELETE FROM kombu_message WHERE visible = :no AND timestamp < :cutoff"),
                {"no": False, "cutoff": cutoff},
            )
            return result.rowcount or 0
    finally:
        engine.dispose()
