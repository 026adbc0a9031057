"""The filter backend of every list endpoint: django-filter's, skipped when a request filters nothing.

Building and validating a ``FilterSet`` (a deep copy of every declared filter,
a bound form) cost as much as a page's query, and most list requests carry
no more than ``limit`` and ``cursor``. A request with any other parameter
goes through the filters as before, so a bad value is still a 400. A one-value parameter given
twice is a 400 too.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request

from imagegen.api.errors import ApiError


def _pagination_params(view: Any) -> set[str]:
    paginator = getattr(view, "paginator", None)
    names = (getattr(paginator, "page_size_query_param", None), getattr(paginator, "cursor_query_param", None))
    return {name for name in names if name}


# Widgets that read every value of a repeated parameter.
_MULTIPLE_VALUE_WIDGETS = (forms.MultipleHiddenInput, forms.SelectMultiple)


def _refuse_repeated_parameters(request: Request, view: Any) -> None:
    """400 ``repeated_parameter`` for a one-value parameter given twice (``?limit=5&limit=500``).

    A query string would otherwise answer with its last value, which need not be the one the
    client's own checks looked at; a filter that takes several values (``tag``) may repeat.
    (The pagination checks its own ``limit`` and ``cursor``.)
    """
    filters = getattr(getattr(view, "filterset_class", None), "base_filters", {})
    for name in request.query_params:
        if name not in filters or len(request.query_params.getlist(name)) < 2:
            continue
        widget = filters[name].field_class.widget
        if issubclass(widget if isinstance(widget, type) else type(widget), _MULTIPLE_VALUE_WIDGETS):
            continue
        raise ApiError(400, "repeated_parameter", f"{name}: give this parameter once", field=name)


class FilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        _refuse_repeated_parameters(request, view)
        if not request.query_params.keys() - _pagination_params(view):
            return queryset
        return super().filter_queryset(request, queryset, view)
