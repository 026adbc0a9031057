"""A conditional UPDATE that hands back the row it changed, in one round trip (``UPDATE ... RETURNING``).

Django's ``QuerySet.update()`` answers only how many rows changed, so a claim that must also read
the claimed row costs a second query. PostgreSQL and SQLite (3.35+) both return the updated row
with ``RETURNING``: this compiles the queryset's own UPDATE and adds it, converting the values the
way Django's SELECTs do (JSON, dates, UUIDs). Only for filters on the model's own table: a filter
across a relation makes Django run a SELECT first, which this does not do.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.sql import UpdateQuery

M = TypeVar("M", bound=Model)


def update_returning(queryset: QuerySet[M], **values: Any) -> M | None:
    """``queryset.update(**values)``; the updated instance, or None when no row matched.

    The queryset must match at most one row (filter by primary key).
    """
    alias = queryset.db
    connection = connections[alias]
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    compiler = query.get_compiler(alias)
    sql, params = compiler.as_sql()
    if not sql:
        return None
    meta = queryset.model._meta
    fields = meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {columns}", params)
        row = cursor.fetchone()
    if row is None:
        return None
    converted = []
    for field, value in zip(fields, row, strict=True):
        col = field.get_col(meta.db_table)
        for convert in connection.ops.get_db_converters(col) + col.get_db_converters(connection):
            value = convert(value, col, connection)
        converted.append(value)
    return queryset.model.from_db(alias, [f.attname for f in fields], converted)
