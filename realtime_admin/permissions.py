"""Permission and row-level checks for code that has no HTTP request (the websocket)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib import admin
from django.http import HttpRequest


def request_for(scope: dict) -> HttpRequest:
    """A request carrying the socket's user and session, for ModelAdmin permission hooks."""
    request = HttpRequest()
    request.method = "GET"
    request.user = scope.get("user")
    request.session = scope.get("session")
    headers = dict(scope.get("headers", ()))
    request.META["HTTP_HOST"] = headers.get(b"host", b"").decode("latin-1")
    return request


def has_row_rules(model_admin: admin.ModelAdmin) -> bool:
    """Whether the ModelAdmin narrows its rows per request (overrides ``get_queryset``)."""
    return type(model_admin).get_queryset is not admin.ModelAdmin.get_queryset


def visible_pks(
    model_admin: admin.ModelAdmin, request: HttpRequest, pks: Iterable[str]
) -> set[str]:
    queryset = model_admin.get_queryset(request).filter(pk__in=list(pks))
    return {str(pk) for pk in queryset.values_list("pk", flat=True)}
