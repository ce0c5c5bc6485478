"""The HTTP endpoint a live changelist tab calls to refresh itself.

It is mounted under each changelist (``<changelist>/__live__/``), wrapped by
``AdminSite.admin_view`` (staff login) and answers through the ModelAdmin's own permission
checks, so a tab never gets a row its user could not see on a reload.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.views.decorators.http import require_GET

from . import conf, rows

URL_SUFFIX = "__live__/"


@require_GET
def changelist_refresh(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    if not model_admin.has_view_or_change_permission(request):
        raise PermissionDenied
    changed = request.GET.getlist(rows.CHANGED_PARAM)
    shown = request.GET.getlist(rows.SHOWN_PARAM)
    full = request.GET.get(rows.FULL_PARAM, "0")
    if full not in ("0", "1"):
        return HttpResponseBadRequest(f"{rows.FULL_PARAM} must be 0 or 1.")
    if len(changed) + len(shown) > conf.get("MAX_REQUEST_PKS"):
        return HttpResponseBadRequest("Too many primary keys in one refresh request.")
    tab = rows.tab_request(request, URL_SUFFIX)
    if request.GET.get(rows.REGION_PARAM) == "1":
        # The whole page, rendered by the stock view; the tab takes its changelist region.
        return model_admin.changelist_view(tab)
    try:
        state = rows.changelist_state(model_admin, tab, changed, shown, full == "1")
    except IncorrectLookupParameters:
        # e.g. the tab's page number no longer exists: let it re-fetch the region.
        state = {"region": True}
    return JsonResponse(state)
