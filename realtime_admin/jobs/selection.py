"""Finding a job's action and rows again, in the worker, as the admin would for its user."""

from __future__ import annotations

from django.apps import apps
from django.contrib.admin.sites import all_sites
from django.db.models import QuerySet
from django.http import QueryDict
from django.urls import resolve as resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _

from ..permissions import plain_request
from .models import Job


def resolve(job: Job):
    """(model_admin, the decorated function, a request as the user, the selected rows).

    The rows are re-read now, through the changelist's own queryset for the user and the
    querystring the action was run from (filters, search, row rules), narrowed to the selected
    pks unless every matching row was selected, exactly as ``ModelAdmin.response_action``.
    """
    site = next((s for s in all_sites if s.name == job.site), None)
    if site is None:
        raise LookupError(_("The admin site %(site)r is gone.") % {"site": job.site})
    model_admin = site.get_model_admin(apps.get_model(job.model))
    path = reverse(
        f"{site.name}:{model_admin.opts.app_label}_{model_admin.opts.model_name}_changelist"
    )
    request = plain_request(job.user, path=path, query=QueryDict(job.querystring))
    request.resolver_match = resolve_url(path)
    # The checks admin_view and changelist_view make before an action runs, made again now.
    allowed = site.has_permission(request) and model_admin.has_view_or_change_permission(request)
    action = model_admin.get_actions(request).get(job.action) if allowed else None
    if action is None:
        raise PermissionError(_("You may no longer run this action."))
    function = getattr(action, "func", None) or action[0]  # 6.1 Action, or the tuple
    queryset: QuerySet = model_admin.get_changelist_instance(request).get_queryset(request)
    if not job.select_across:
        queryset = queryset.filter(pk__in=job.pks)
    return model_admin, function.background_job_function, request, queryset
