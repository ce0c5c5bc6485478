"""Permission and row-level checks for code that has no HTTP request (the websocket)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib import admin
from django.contrib.admin.sites import all_sites
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.http import HttpRequest, QueryDict


def plain_request(user, session=None, path: str = "/", query: QueryDict | None = None, host=""):
    """A GET request for ModelAdmin hooks where there is no HTTP request (a socket, a worker):
    the user, and what else is known. Messages added to it are dropped."""
    from .rows import DiscardedMessages

    request = HttpRequest()
    request.method = "GET"
    request.user = user if user is not None else AnonymousUser()
    request.session = session
    request.path = request.path_info = path
    request.GET = query if query is not None else QueryDict()
    request.META.update({"HTTP_HOST": host, "QUERY_STRING": request.GET.urlencode()})
    request._messages = DiscardedMessages(request)
    return request


def request_for(scope: dict, user) -> HttpRequest:
    """A request carrying ``user`` and the socket's session, for ModelAdmin hooks."""
    headers = dict(scope.get("headers", ()))
    host = headers.get(b"host", b"").decode("latin-1")
    return plain_request(user, scope.get("session"), host=host)


def site_named(name: str) -> admin.AdminSite | None:
    """The admin site with this instance name (``AdminSite.name``), if one exists."""
    return next((site for site in all_sites if site.name == name), None)


def narrows_rows(model_admin: admin.ModelAdmin, request: HttpRequest) -> bool:
    """Whether the changelist may leave out some of the table's rows for this request's user:
    ``get_queryset()`` filters (rules per user, or a default manager that hides rows), slices
    or combines, or the model is a multi-table child. A superuser under an "own orders only"
    rule gets the whole table: the socket then need not ask the database which of a
    change's rows they may see."""
    try:
        queryset = model_admin.get_queryset(request)
    except Exception:  # e.g. rules that need a real request: check each change (fail closed)
        return True
    query, concrete = queryset.query, model_admin.model._meta.concrete_model
    return bool(
        query.where
        or query.is_sliced
        or query.combinator
        or query.extra_tables
        or query.distinct_fields  # DISTINCT ON: one row a group
        or queryset._db is not None  # another database's rows (events do not say which)
        or query.model._meta.concrete_model is not concrete
        # A multi-table child: its list hears of its parents' rows, not all of them its own.
        or bool(concrete._meta.parents)
    )


def visible_pks(
    model_admin: admin.ModelAdmin, request: HttpRequest, pks: Iterable[str]
) -> set[str]:
    """Which of ``pks`` (as a page claims them) the user's queryset has. A value that is no
    pk of this model at all ("" for an integer pk, or one out of the column's range) is
    simply not there, as ``get_object()`` has it."""
    field = model_admin.model._meta.pk
    valid = []
    for pk in pks:
        try:
            field.run_validators(field.to_python(pk))
        except (ValidationError, ValueError, TypeError):
            continue
        valid.append(pk)
    queryset = model_admin.get_queryset(request).filter(pk__in=valid)
    return {str(pk) for pk in queryset.values_list("pk", flat=True)}


def openable_object(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str):
    """The object whose change form this request may open, as the change view decides it
    (``get_object()`` through the user's ``get_queryset()``, then the object's view or change
    permission), or None: the same answer for "gone" and "not yours to see"."""
    obj = model_admin.get_object(request, object_id)
    if obj is None or not model_admin.has_view_or_change_permission(request, obj):
        return None
    return obj
