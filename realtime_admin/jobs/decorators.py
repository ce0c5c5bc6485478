"""``@background_action``: an admin action that runs as a background job."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.utils.text import capfirst
from django.utils.translation import gettext as _


def background_action(function: Callable | None = None, *, description: str | None = None):
    """Turn an admin action into a background job. Put it under ``@admin.action``::

        @admin.action(description="Recount words")
        @background_action
        def recount_words(modeladmin, job, queryset):
            for story in job.track(queryset):
                ...
            return "Recounted the words"

    The function gets ``job`` (progress, cancellation, ``job.user``) instead of the request,
    and the selected rows re-read in the worker. It may be ``async def``. What it returns
    becomes the job's final message; an exception fails the job with its message.
    """

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def action(modeladmin: Any, request: Any, queryset: Any) -> None:
            from django.db import router

            from .models import CHANGELIST, Job
            from .runners import start

            name, location = action_name(modeladmin, request, action)
            label = (
                description
                or getattr(action, "short_description", None)
                or capfirst(name.replace("_", " "))
            )
            select_across = location == CHANGELIST and request.POST.get("select_across") == "1"
            # The rows Django resolved for this click; with "select all" the querystring is
            # kept instead, and every matching row is read again when the job runs.
            pks = [] if select_across else [str(pk) for pk in queryset.values_list("pk", flat=True)]
            job = Job.objects.create(
                description=str(label)[:200],
                action=name,
                location=location,
                model=modeladmin.opts.label_lower,
                site=modeladmin.admin_site.name,
                pks=pks,
                select_across=select_across,
                querystring=request.GET.urlencode() if select_across else "",
                user=request.user,
                total=None if select_across else len(pks),  # "0 of 5" from the start
            )
            # The worker must find the committed row.
            transaction.on_commit(functools.partial(start, job.pk), using=router.db_for_write(Job))
            job.tell_its_users_tabs()
            modeladmin.message_user(
                request,
                _("“%(action)s” is running in the background.") % {"action": label},
                messages.INFO,
            )

        action.background_job_function = function
        return action

    return decorate(function) if function is not None else decorate


def action_name(modeladmin: Any, request: Any, action: Callable) -> tuple[str, str]:
    """The name this ModelAdmin gives ``action``, and where it was run from: found by identity
    among its actions, as the POSTed name can come from the other action bar's select. An
    action offered in both places was run from the change form if its action bar posted."""
    found = [
        (name, location)
        for location, name, function in actions_of(modeladmin, request)
        if function is action
    ]
    if not found:
        raise LookupError(f"{action!r} is not an action of {modeladmin!r}")
    from .models import CHANGE_FORM, CHANGELIST

    location = _action_location()
    # The change form's action bar posts its select as "<its prefix>-action".
    field = f"{location.CHANGE_FORM.value}-action" if location is not None else None
    here = CHANGE_FORM if field in getattr(request, "POST", {}) else CHANGELIST
    return next((entry for entry in found if entry[1] == here), found[0])


def _action_location():
    """Django 6.1's ActionLocation, or None (no change-form actions)."""
    try:
        from django.contrib.admin.options import ActionLocation
    except ImportError:
        return None
    return ActionLocation


def actions_of(modeladmin: Any, request: Any):
    """(location, name, function) of each action the user may run: the changelist's, and on
    Django 6.1+ the change form's."""
    from .models import CHANGE_FORM, CHANGELIST

    by_location = [(CHANGELIST, modeladmin.get_actions(request))]
    location = _action_location()
    if location is not None:
        # As the 6.1 admin does, so that a get_actions(request) override keeps working.
        change_form = modeladmin._get_actions_with_action_location(
            request, action_location=location.CHANGE_FORM
        )
        by_location.append((CHANGE_FORM, change_form))
    for location, actions in by_location:
        for name, entry in actions.items():
            yield location, name, getattr(entry, "func", None) or entry[0]  # 6.1 Action, or tuple
