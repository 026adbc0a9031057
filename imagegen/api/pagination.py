"""Cursor pagination for every list endpoint: ``?limit=`` and ``?cursor=``.

Response: ``{"results": [...], "next": url | null, "previous": url | null}``.
Newest first (``-created_at``, then ``id`` to break ties). A list that orders
by something else uses DRF's ``OrderingFilter`` (its ordering wins) or a
subclass with another ``ordering``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor
from rest_framework.pagination import CursorPagination as _DrfCursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from imagegen.api.errors import ApiError

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class CursorPagination(_DrfCursorPagination):
    """DRF's cursor pagination with strict ``limit`` and a 400 ``invalid_cursor`` for a bad cursor.

    DRF clamps a bad page size silently and answers a bad cursor with 404;
    clients learn more from a 400 naming the parameter.
    """

    page_size = DEFAULT_LIMIT
    page_size_query_param = "limit"
    page_size_query_description = f"Number of results per page, 1..{MAX_LIMIT} (default {DEFAULT_LIMIT})."
    max_page_size = MAX_LIMIT
    cursor_query_description = "Opaque cursor from a previous response's next or previous URL."
    ordering = ("-created_at", "id")

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list | None:
        self._refuse_repeated(request)
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def paginate_first_page(self, request: Request, ordering: tuple[str, ...], read: Callable[[int], list]) -> list:
        """``paginate_queryset`` for a request with no cursor, whose rows the caller reads itself.

        ``read(n)`` returns the first ``n`` rows in ``ordering`` (e.g. by a query compiled once:
        imagegen.compiled); the page, its links and the state they need are what DRF's own forward
        first page makes of the same rows.
        """
        self._refuse_repeated(request)
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.ordering = ordering
        self.cursor = None
        results = read(self.page_size + 1)
        self.page = results[: self.page_size]
        self.has_next = len(results) > self.page_size
        self.next_position = self._get_position_from_instance(results[-1], ordering) if self.has_next else None
        self.has_previous = False
        self.previous_position = None
        return self.page

    def _refuse_repeated(self, request: Request) -> None:
        for name in (self.page_size_query_param, self.cursor_query_param):
            if len(request.query_params.getlist(name)) > 1:  # else the last would win, unseen
                raise ApiError(400, "repeated_parameter", f"{name}: give this parameter once", field=name)

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            limit = int(raw)
        except ValueError:
            raise ValidationError(
                {"limit": [f"Must be a whole number from 1 to {MAX_LIMIT}."]}, code="invalid"
            ) from None
        if not 1 <= limit <= MAX_LIMIT:
            code = "min_value" if limit < 1 else "max_value"
            raise ValidationError({"limit": [f"Must be from 1 to {MAX_LIMIT}; got {limit}."]}, code=code)
        return limit

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise self._invalid_cursor() from None
        if cursor is not None and cursor.position is not None:
            self._check_position(cursor.position)
        return cursor

    def _check_position(self, position: str) -> None:
        # A hand-edited cursor can carry any position; filtering on it would
        # fail deep in the ORM (a 500) instead of being refused here.
        field_name = self.ordering[0].lstrip("-")
        try:
            field = self._model._meta.get_field(field_name)
        except (AttributeError, FieldDoesNotExist):
            return
        try:
            field.to_python(position)
        except (DjangoValidationError, ValueError, TypeError):
            raise self._invalid_cursor() from None

    def _invalid_cursor(self) -> ApiError:
        return ApiError(
            400, "invalid_cursor", "cursor: not a cursor from this list; start again without it.", field="cursor"
        )

    def get_paginated_response(self, data: list) -> Response:
        return Response({"results": data, "next": self.get_next_link(), "previous": self.get_previous_link()})

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": self.cursor_query_description,
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": self.page_size_query_description,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            },
        ]

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["results", "next", "previous"],
            "properties": {
                "results": schema,
                "next": {
                    "type": "string",
                    "format": "uri",
                    "nullable": True,
                    "example": "https://imagegen.example.com/api/v1/images?cursor=cD0yMDI2LTExLTMw",
                },
                "previous": {"type": "string", "format": "uri", "nullable": True, "example": None},
            },
        }
