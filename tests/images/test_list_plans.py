"""List pages stay index-backed at 100k rows: no sequential scan, no sort of the whole table (PostgreSQL)."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from images.models import Generation, Image
from tests.factories import ApiKeyFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
ROWS = 100_000
BIG_TABLES = {Generation._meta.db_table, Image._meta.db_table}


def bulk_insert(model: type[Model], count: int, **expressions: str) -> None:
    """``count`` rows of ``model`` in one INSERT ... SELECT over generate_series(1, count) (``i``).

    ``expressions`` give SQL for some columns (by attname); every other column takes its field's default.
    """
    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        columns.append(connection.ops.quote_name(field.column))
        if field.attname in expressions:
            values.append(expressions[field.attname])
        else:
            values.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM generate_series(1, %s) AS i"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, count])


@pytest.fixture
def crowded(user):
    """``user`` with 100k generations, and 100k public images among another user's 100k."""
    if connection.vendor != "postgresql":
        pytest.skip("query plans are checked on PostgreSQL, the production database")
    created = "now() - (i || ' seconds')::interval"
    bulk_insert(Generation, ROWS, id="gen_random_uuid()", user_id=f"'{user.pk}'::uuid", created_at=created,
                prompt="'a harbour at dusk'", width="512", height="512", seed="i", provider="'builtin'",
                status="(CASE WHEN i %% 50 = 0 THEN 'queued' ELSE 'succeeded' END)")  # fmt: skip
    for owner in (user, UserFactory()):
        owner_id = f"'{owner.pk}'::uuid"
        bulk_insert(Image, ROWS, id="gen_random_uuid()", user_id=owner_id, created_at=created, updated_at=created,
                    source="'uploaded'", storage_key="'images/x/original.png'", processing="'ready'",
                    visibility="'public'")  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Generation._meta.db_table}")
        cursor.execute(f"ANALYZE {Image._meta.db_table}")
    return user


def plan_nodes(plan: dict) -> list[dict]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += plan_nodes(child)
    return nodes


def main_query_plan(client: APIClient, url: str) -> tuple[list[dict], dict]:
    """The plan of the page's query on its own table, and the response's body."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    table = Image._meta.db_table if "/images" in url else Generation._meta.db_table
    sql = next(
        q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT") and f'FROM "{table}"' in q["sql"]
    )
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return plan_nodes(plan[0]["Plan"]), response.json()


PATHS = ["/api/v1/images", "/api/v1/generations", "/api/v1/public/images", "/api/v1/images?ordering=created_at"]


def test_list_pages_are_index_scans_at_100k_rows_on_the_first_and_a_later_page(crowded):
    # One test for every page: filling the tables is what takes the time.
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=ApiKeyFactory(user=crowded).raw_key)

    for path in PATHS:
        separator = "&" if "?" in path else "?"
        first, body = main_query_plan(client, f"{path}{separator}limit=50")
        later, _ = main_query_plan(client, body["next"])
        for nodes in (first, later):
            kinds = [(node["Node Type"], node.get("Relation Name")) for node in nodes]
            assert not any(kind == "Seq Scan" and relation in BIG_TABLES for kind, relation in kinds), (path, kinds)
            assert not any(kind == "Sort" for kind, _ in kinds), (path, kinds)  # an incremental sort of ties is fine
            assert any("Index" in kind for kind, _ in kinds), (path, kinds)
