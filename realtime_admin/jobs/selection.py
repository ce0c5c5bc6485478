"""Finding a job's action and rows again, in the worker, as the admin would for its user."""

from __future__ import annotations

from django.apps import apps
from django.contrib.admin.views.main import ALL_VAR, PAGE_VAR
from django.http import QueryDict
from django.urls import resolve as resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _

from ..permissions import plain_request, site_named
from .models import Job


def resolve(job: Job):
    """(model_admin, the decorated function, a request as the user, the selected rows).

    The rows are read again now, for the job's user: the selected pks through the ModelAdmin's
    ``get_queryset()`` (row rules), or with "select all" every row matching the changelist's
    filters and search as they were when the action was run.
    """
    site = site_named(job.site)
    if site is None:
        raise LookupError(_("The admin site %(site)r is gone.") % {"site": job.site})
    model_admin = site.get_model_admin(apps.get_model(job.model))
    path = reverse(
        f"{site.name}:{model_admin.opts.app_label}_{model_admin.opts.model_name}_changelist"
    )
    query = QueryDict(job.querystring, mutable=True)
    for name in (PAGE_VAR, ALL_VAR):  # "all matching rows" is not a page of them
        query.pop(name, None)
    request = plain_request(job.user, path=path, query=query)
    request.resolver_match = resolve_url(path)
    # The checks admin_view and changelist_view make before an action runs, made again now.
    allowed = site.has_permission(request) and model_admin.has_view_or_change_permission(request)
    function = _action_function(model_admin, request, job) if allowed else None
    if function is None:
        raise PermissionError(_("You may no longer run this action."))
    if job.select_across:
        # Every row matching the changelist's filters and search, as the user had them.
        queryset = model_admin.get_changelist_instance(request).get_queryset(request)
    else:
        queryset = model_admin.get_queryset(request).filter(pk__in=job.pks)
    return model_admin, function.background_job_function, request, queryset


def _action_function(model_admin, request, job: Job):
    from .decorators import actions_of

    for location, name, function in actions_of(model_admin, request):
        if (location, name) == (job.location, job.action):
            return function if hasattr(function, "background_job_function") else None
    return None
