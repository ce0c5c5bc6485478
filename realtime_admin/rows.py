"""Rendering a tab's changelist rows exactly as the stock admin does.

Everything here runs Django's own admin code for the viewer's real request, with the tab's
querystring: the ModelAdmin's ``changelist_view`` (its permission check and whatever an
override of it does, then the ``ChangeList``: filters, search, ordering, pagination, date
hierarchy, ``get_queryset()`` rules, the list_editable formset), whose response is never
rendered, only its context read; and ``admin_list.items_for_result`` (the cells). A row is
``"<tr>" + cells + "</tr>"``, which is what ``change_list_results.html`` writes.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Collection

from django.contrib import admin
from django.contrib.admin.templatetags.admin_list import items_for_result, result_hidden_fields
from django.contrib.messages.storage.base import BaseStorage
from django.http import HttpRequest, QueryDict
from django.template import engines
from django.urls import resolve

from . import conf

# The stock inclusion tags that render the parts of the page that hold counts or choices drawn
# from the rows (a filter's values; with "Show counts", its facet counts).
_FRAGMENTS = {
    "paginator": "{% pagination cl %}",
    "search": "{% search_form cl %}",
    "date_hierarchy": "{% if cl.date_hierarchy %}{% date_hierarchy cl %}{% endif %}",
    "actions": "{% if action_form and cl.show_admin_actions %}{% admin_actions %}{% endif %}",
    "filters": "{% for spec in cl.filter_specs %}{% admin_list_filter cl spec %}{% endfor %}",
}


# The most changed rows a socket tells a page of in one frame (past it, the page resyncs).
MAX_CHANGED_PKS = 200


@functools.cache
def _fragment_template(name: str):
    return engines["django"].from_string("{% load admin_list %}" + _FRAGMENTS[name])


class DiscardedMessages(BaseStorage):
    """Messages added while rendering for a refresh (the search form may add one) are dropped,
    so they neither leak into nor consume the viewer's real message queue."""

    def _get(self, *args, **kwargs):
        return [], True

    def _store(self, messages, response, *args, **kwargs):
        return []


def tab_request(request: HttpRequest, suffix: str) -> HttpRequest:
    """The request the tab made for its changelist: same user, session and headers, the
    tab's querystring, and the changelist's path (so change links keep their filters)."""
    tab = copy.copy(request)
    tab.method = "GET"
    tab.POST = QueryDict()
    tab.path = request.path.removesuffix(suffix)
    tab.path_info = request.path_info.removesuffix(suffix)
    tab.META = {**request.META, "REQUEST_METHOD": "GET", "PATH_INFO": tab.path_info}
    tab.resolver_match = resolve(tab.path_info, getattr(request, "urlconf", None))
    tab._messages = DiscardedMessages(tab)
    return tab


def most_pks(model_admin: admin.ModelAdmin | None) -> int:
    """The most pks a tab of this changelist may name at once (``MAX_REQUEST_PKS``, or its
    largest page, "Show all" included, and a frame's worth of changed rows beside it)."""
    largest = 0
    if model_admin is not None:
        largest = max(model_admin.list_per_page, model_admin.list_max_show_all)
    return max(conf.get("MAX_REQUEST_PKS"), largest + MAX_CHANGED_PKS)


def render_row(cl, index: int, obj) -> str:
    form = cl.formset.forms[index] if cl.formset else None
    return "<tr>{}</tr>".format("".join(items_for_result(cl, obj, form)))


def render_fragments(context: dict, request: HttpRequest) -> dict[str, str]:
    """The counts and choices of the page, from ``changelist_view``'s own context (the
    action form, the selection notes)."""
    return {name: _fragment_template(name).render(context, request) for name in _FRAGMENTS}


def changelist_state(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    changed: Collection[str],
    shown: list[str],
    full: bool,
) -> dict:
    """What a tab needs to bring its page up to date, from the changelist that
    ``model_admin.changelist_view`` builds for the tab's request.

    ``pks`` lists the page's rows in order; ``rows`` holds the HTML of each row the tab
    cannot reuse: those that changed, those it does not show yet, and all of them on a full
    resync or when list_editable form numbering moved. ``region`` asks the tab to fetch the
    whole changelist region instead: the results table appears or disappears, or the view
    answers with something other than a changelist (a redirect for a page number that no
    longer exists, or whatever an override of ``changelist_view`` returns).
    """
    response = model_admin.changelist_view(request)
    context = getattr(response, "context_data", None) or {}
    cl = context.get("cl")
    if cl is None:
        return {"region": True}
    page = [(index, str(obj.pk), obj) for index, obj in enumerate(cl.result_list)]
    pks = [pk for _, pk, _ in page]
    if bool(pks) != bool(shown):
        return {"region": True}
    if full or (cl.formset and pks != shown):
        wanted = set(pks)
    else:
        wanted = set(changed).union(set(pks).difference(shown))
    state = {
        "region": False,
        "pks": pks,
        "rows": {pk: render_row(cl, index, obj) for index, pk, obj in page if pk in wanted},
        "fragments": render_fragments(context, request),
        "filtersActive": bool(cl.has_active_filters),  # ("Clear all filters" comes and goes)
        "formset": None,
    }
    if cl.formset:
        state["formset"] = {
            "total": cl.formset.total_form_count(),
            "initial": cl.formset.initial_form_count(),
            "hidden": "".join(str(field) for field in result_hidden_fields(cl)),
        }
    return state
