"""The HTTP endpoints live admin pages call: a changelist tab to refresh itself, a change
form to learn what someone else changed.

The changelist's is mounted under each changelist (``<changelist>/__live__/``), wrapped by
``AdminSite.admin_view`` (staff login, CSRF) and answers through the ModelAdmin's own
permission checks, so a tab never gets a row its user could not see on a reload. The
querystring is always the tab's own (filters, search, ordering, page).

- ``POST`` with ``{"shown": [pk, ...], "changed": [pk, ...], "full": false}``: JSON telling
  the tab how to bring its page up to date (see ``rows.changelist_state``).
- ``GET``: the whole changelist page, rendered by the stock view, from which the tab takes
  its changelist region when the results table appears or disappears.

The change form's (``<object id>/__live__/``) answers ``GET ?version=...`` (the version the
form was loaded with, versions.py) with ``{"state": "same" | "changed" | "deleted",
"version": ..., "fields": [{"name", "label", "value", "editable", "selector"}]}``: the fields
and inlines the viewer's form shows whose saved value changed, that value as text, and where
the page shows them. "deleted" is also the answer
when the viewer may no longer see the object: the same answer for both.
"""

from __future__ import annotations

import json
from itertools import chain

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.views.decorators.http import require_http_methods

from . import rows, versions
from .permissions import openable_object

URL_SUFFIX = "__live__/"


class BadRefresh(ValueError):
    pass


def parse_refresh(body: bytes, most: int) -> tuple[list[str], list[str], bool]:
    """The (shown, changed, full) of a refresh request body naming at most ``most`` pks, or
    ``BadRefresh``."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadRefresh("The request body must be JSON.") from None
    if not isinstance(data, dict):
        raise BadRefresh('Expected {"shown": [...], "changed": [...], "full": false}.')
    shown, changed, full = data.get("shown", []), data.get("changed", []), data.get("full", False)
    if not (isinstance(shown, list) and isinstance(changed, list) and isinstance(full, bool)):
        raise BadRefresh('Expected {"shown": [...], "changed": [...], "full": false}.')
    if len(shown) + len(changed) > most:
        raise BadRefresh("Too many primary keys in one refresh request.")
    if not all(isinstance(pk, str | int) for pk in chain(shown, changed)):
        raise BadRefresh("Primary keys must be strings or integers.")
    return [str(pk) for pk in shown], [str(pk) for pk in changed], full


@require_http_methods(["GET", "POST"])
def changelist_refresh(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    if not model_admin.has_view_or_change_permission(request):
        raise PermissionDenied
    tab = rows.tab_request(request, URL_SUFFIX)
    if request.method == "GET":
        return model_admin.changelist_view(tab)
    try:
        shown, changed, full = parse_refresh(request.body, rows.most_pks(model_admin))
    except BadRefresh as error:
        return HttpResponseBadRequest(str(error))
    return JsonResponse(rows.changelist_state(model_admin, tab, changed, shown, full))


@require_http_methods(["GET"])
def object_status(
    request: HttpRequest, object_id: str, model_admin: admin.ModelAdmin
) -> HttpResponse:
    if not model_admin.has_view_or_change_permission(request):
        raise PermissionDenied
    try:
        loaded = versions.decode(request.GET.get("version", ""))
    except ValueError:
        return HttpResponseBadRequest("The version is damaged: reload the page.")
    obj = openable_object(model_admin, request, unquote(object_id))
    if obj is None:
        return JsonResponse({"state": "deleted"})
    inlines = versions.shown_inlines(model_admin, request, obj)  # (read once, used twice)
    current = versions.version_of(model_admin, request, obj, inlines=inlines)
    changed = versions.changed_fields(loaded, current)
    fields = versions.changes(model_admin, request, obj, changed, inlines=inlines)
    return JsonResponse(
        {
            "state": "changed" if changed else "same",
            "version": versions.encode(current),
            "fields": fields,
        }
    )
