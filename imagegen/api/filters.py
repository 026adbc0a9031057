"""The filter backend of every list endpoint: django-filter's, skipped when a request filters nothing.

Building and validating a ``FilterSet`` (a deep copy of every declared filter,
a bound form) cost as much as a page's query, and most list requests carry
no more than ``limit`` and ``cursor``. A request with any other parameter
goes through the filters as before, so a bad value is still a 400.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request


def _pagination_params(view: Any) -> set[str]:
    paginator = getattr(view, "paginator", None)
    names = (getattr(paginator, "page_size_query_param", None), getattr(paginator, "cursor_query_param", None))
    return {name for name in names if name}


class FilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        if not request.query_params.keys() - _pagination_params(view):
            return queryset
        return super().filter_queryset(request, queryset, view)
