"""A queryset compiled to SQL once per database connection, then run with other parameter values.

Building a query with the ORM (resolving dozens of ``values_list`` lookups
across joins) cost more than running it on the hottest endpoint. A
``CompiledQuery`` lets Django write the SQL and its row converters once, from
the queryset built with sentinel values, and afterwards only swaps the
sentinels' parameters for the real ones. The SQL is Django's own for that
database, so it follows the models as they change.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Field, QuerySet


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple
    slots: dict[str, list[int]]  # parameter name -> positions of its sentinel in ``params``
    converters: dict[int, tuple[list, Any]]  # column -> (converters, expression), as Django applies them


class CompiledQuery:
    """``build(**sentinels)`` returns a ``values_list`` queryset; ``rows(**values)`` runs it with ``values``.

    ``params`` names each parameter's model field and a sentinel: a value of
    that field that appears nowhere else in the query, so its positions among
    the compiled parameters can be found.
    """

    def __init__(self, build: Callable[..., QuerySet], params: dict[str, tuple[Field, object]]) -> None:
        self._build = build
        self._params = params
        # One compilation per connection object: converters are bound to it, and each
        # thread has its own connection, so none is shared across threads.
        self._compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _compile(self, connection: Any) -> _Compiled:
        queryset = self._build(**{name: sentinel for name, (_, sentinel) in self._params.items()})
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        slots = {}
        for name, (field, sentinel) in self._params.items():
            prepared = field.get_db_prep_value(sentinel, connection)
            slots[name] = [i for i, value in enumerate(params) if value == prepared]
            if not slots[name]:
                raise ValueError(f"the sentinel of {name!r} is not among the compiled parameters")
        columns = [selected[0] for selected in compiler.select[: compiler.col_count]]
        return _Compiled(sql=sql, params=tuple(params), slots=slots, converters=compiler.get_converters(columns))

    def _compiled_for(self, connection: Any) -> _Compiled:
        compiled = self._compiled.get(connection)
        if compiled is None:
            with self._lock:
                compiled = self._compiled[connection] = self._compile(connection)
        return compiled

    def rows(self, *, using: str = "default", **values: object) -> list[tuple]:
        """The query's rows for ``values`` (one per declared parameter), converted as the ORM would."""
        rows = self.raw_rows(using=using, **values)
        connection = connections[using]
        converters = self._compiled_for(connection).converters
        return [_converted(row, converters, connection) for row in rows] if converters else rows

    def raw_rows(self, *, using: str = "default", **values: object) -> list[tuple]:
        """The query's rows as the database driver gives them, before the ORM's converters (``convert``)."""
        connection = connections[using]
        compiled = self._compiled_for(connection)
        params = list(compiled.params)
        for name, positions in compiled.slots.items():
            prepared = self._params[name][0].get_db_prep_value(values[name], connection)
            for position in positions:
                params[position] = prepared
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            return cursor.fetchall()

    def convert(self, row: tuple, *, using: str = "default") -> tuple:
        """A row of ``raw_rows`` with the ORM's converters applied (JSON decoded, dates parsed, ...)."""
        connection = connections[using]
        return _converted(row, self._compiled_for(connection).converters, connection)


def _converted(row: tuple, converters: dict[int, tuple[list, Any]], connection: Any) -> tuple:
    converted = list(row)
    for position, (functions, expression) in converters.items():
        value = converted[position]
        for function in functions:
            value = function(value, expression, connection)
        converted[position] = value
    return tuple(converted)
