"""``@background_action``: an admin action that runs as a background job."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
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
            from .models import Job
            from .runners import get_runner

            name = request.POST.get("action", function.__name__)
            label = (
                description
                or getattr(action, "short_description", None)
                or capfirst(name.replace("_", " "))
            )
            select_across = request.POST.get("select_across") == "1"
            pks = [] if select_across else request.POST.getlist(ACTION_CHECKBOX_NAME)
            job = Job.objects.create(
                description=str(label)[:200],
                action=name,
                model=modeladmin.opts.label_lower,
                site=modeladmin.admin_site.name,
                pks=pks,
                select_across=select_across,
                total=None if select_across else len(pks),  # "0 of 5" from the start
                querystring=request.GET.urlencode(),
                user=request.user,
            )
            # The worker must find the committed row.
            transaction.on_commit(functools.partial(get_runner().start, job.pk))
            modeladmin.message_user(
                request,
                _("“%(action)s” is running in the background.") % {"action": label},
                messages.INFO,
            )

        action.background_job_function = function
        return action

    return decorate(function) if function is not None else decorate
