"""Rendering a tab's changelist rows exactly as the stock admin does.

Everything here runs Django's own admin code for the viewer's real request, with the tab's
querystring: ``ModelAdmin.get_changelist_instance`` (filters, search, ordering, pagination,
date hierarchy, ``get_queryset()`` rules) and ``admin_list.items_for_result`` (the cells).
A row is ``"<tr>" + cells + "</tr>"``, which is what ``change_list_results.html`` writes.
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
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

# The stock inclusion tags that render the parts of the page that hold counts or choices drawn
# from the rows (a filter's values; with "Show counts", its facet counts).
_FRAGMENTS = {
    "paginator": "{% pagination cl %}",
    "search": "{% search_form cl %}",
    "date_hierarchy": "{% if cl.date_hierarchy %}{% date_hierarchy cl %}{% endif %}",
    "actions": "{% if action_form and cl.show_admin_actions %}{% admin_actions %}{% endif %}",
    "filters": "{% for spec in cl.filter_specs %}{% admin_list_filter cl spec %}{% endfor %}",
}


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


def changelist(model_admin: admin.ModelAdmin, request: HttpRequest):
    """The tab's ChangeList with its list_editable formset, as ``changelist_view`` builds them
    for a GET. May raise ``IncorrectLookupParameters``."""
    cl = model_admin.get_changelist_instance(request)
    cl.formset = None
    if cl.list_editable and model_admin.has_change_permission(request):
        if hasattr(model_admin, "_get_formset_with_permissions"):
            # Django 6.1+: rows the user may not change get no inputs.
            cl.formset = model_admin._get_formset_with_permissions(request, cl.result_list)
        else:
            formset_class = model_admin.get_changelist_formset(request)
            cl.formset = formset_class(queryset=cl.result_list)
    return cl


def render_row(cl, index: int, obj) -> str:
    form = cl.formset.forms[index] if cl.formset else None
    return "<tr>{}</tr>".format("".join(items_for_result(cl, obj, form)))


def render_fragments(model_admin: admin.ModelAdmin, request: HttpRequest, cl) -> dict[str, str]:
    actions = model_admin.get_actions(request) if not cl.is_popup else {}
    action_form = None
    if actions:
        action_form = model_admin.action_form(auto_id=None)
        action_form.fields["action"].choices = model_admin.get_action_choices(request)
    # The part of changelist_view's context that admin_actions.html reads.
    context = {
        "cl": cl,
        "opts": cl.opts,
        "action_form": action_form,
        "actions_selection_counter": model_admin.actions_selection_counter,
        "module_name": str(cl.opts.verbose_name_plural),
        "selection_note": _("0 of %(cnt)s selected") % {"cnt": len(cl.result_list)},
        "selection_note_all": ngettext(
            "%(total_count)s selected", "All %(total_count)s selected", cl.result_count
        )
        % {"total_count": cl.result_count},
    }
    return {name: _fragment_template(name).render(context, request) for name in _FRAGMENTS}


def changelist_state(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    changed: Collection[str],
    shown: list[str],
    full: bool,
) -> dict:
    """What a tab needs to bring its page up to date.

    ``pks`` lists the page's rows in order; ``rows`` holds the HTML of each row the tab
    cannot reuse: those that changed, those it does not show yet, and all of them on a full
    resync or when list_editable form numbering moved. ``region`` asks the tab to fetch the
    whole changelist region instead (the results table appears or disappears).
    """
    cl = changelist(model_admin, request)
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
        "fragments": render_fragments(model_admin, request, cl),
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
