"""CompiledQuery: Django's SQL and converters, compiled once per connection, run with new values."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from imagegen.compiled import CompiledQuery
from images.models import Generation
from tests.images.factories import GenerationFactory

pytestmark = pytest.mark.django_db


def _by_user(*, user_id: object, status: str):
    return Generation.objects.filter(user_id=user_id, status=status).values_list("id", "created_at", "metadata")


QUERY = CompiledQuery(
    _by_user,
    params={
        "user_id": (Generation._meta.get_field("user"), uuid.UUID(int=7)),
        "status": (Generation._meta.get_field("status"), "sentinel-status"),
    },
)


def test_it_gives_the_rows_and_python_values_the_orm_gives(user, other_user):
    GenerationFactory(user=user, metadata={"k": [1]})
    GenerationFactory(user=other_user)

    rows = QUERY.rows(user_id=user.pk, status="queued")

    assert rows == list(_by_user(user_id=user.pk, status="queued"))
    assert isinstance(rows[0][0], uuid.UUID) and rows[0][2] == {"k": [1]}
    assert QUERY.rows(user_id=user.pk, status="running") == []


def test_it_compiles_once_per_connection_and_runs_one_query(user):
    GenerationFactory(user=user)
    QUERY.rows(user_id=user.pk, status="queued")

    with CaptureQueriesContext(connection) as captured:
        QUERY.rows(user_id=user.pk, status="queued")

    assert len(captured) == 1
    assert sum(1 for key in QUERY._compiled if key is connections["default"]) == 1


def test_a_sentinel_missing_from_the_query_is_refused():
    query = CompiledQuery(
        lambda *, user_id: Generation.objects.values_list("id"),
        params={"user_id": (Generation._meta.get_field("user"), uuid.UUID(int=7))},
    )

    with pytest.raises(ValueError, match="sentinel"):
        query.rows(user_id=uuid.UUID(int=8))


@pytest.mark.django_db(transaction=True)
def test_each_thread_uses_its_own_connection(user):
    GenerationFactory(user=user)
    results: list[int] = []

    def run() -> None:
        try:
            results.append(len(QUERY.rows(user_id=user.pk, status="queued")))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [1, 1, 1, 1]
