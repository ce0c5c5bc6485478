from __future__ import annotations

import time

from django import template
from django.contrib.admin.utils import quote
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils.html import format_html, json_script

from .. import conf
from ..actor import describe
from ..i18n import page_texts
from ..integration import object_url_name, url_name
from ..versions import (
    TOLD_FIELD,
    VERSION_FIELD,
    decode,
    encode,
    not_editable,
    shown_inlines,
    version_of,
)

register = template.Library()

# How long before this tag runs the page's rows may have been read: changes after that are
# caught up with once the socket listens (see ChangelistConsumer.subscribe).
RENDER_MARGIN = 2.0


@register.simple_tag(takes_context=True)
def realtime_admin_config(context) -> str:
    """The JSON the changelist script starts from: which model, where to listen, where to
    fetch rows, and the pks of the rows on this page in order."""
    cl = context.get("cl")
    if cl is None:
        return ""
    site = cl.model_admin.admin_site
    try:
        refresh_url = reverse(f"admin:{url_name(cl.model_admin)}", current_app=site.name)
    except NoReverseMatch:
        return ""  # the ModelAdmin's URLs are not in the URLconf: the stock page, not live
    formset = getattr(cl, "formset", None)
    config = {
        "model": cl.opts.label_lower,
        "site": site.name,
        "websocket": _websocket_url(),
        "refreshUrl": refresh_url,
        "pks": [str(obj.pk) for obj in cl.result_list],
        "since": time.time() - RENDER_MARGIN,
        "hasErrors": bool(formset and formset.errors),
        "hasFilters": bool(cl.has_filters),  # (a project template may leave the sidebar out)
        "hasActiveFilters": bool(cl.has_active_filters),
        "jobs": _jobs_for(context.get("request"), cl.model_admin),
        "jobsUrl": _jobs_url(site),
        "texts": page_texts(),
    }
    return json_script(config, "realtime-admin-config")


def _jobs_for(request, model_admin, obj=None) -> list[dict] | None:
    """This user's background jobs on this changelist, or those run from this object's change
    form (Job.objects.shown_on); None where no background action can be run."""
    from ..jobs.models import CHANGE_FORM, CHANGELIST, Job

    user = getattr(request, "user", None)
    location = CHANGELIST if obj is None else CHANGE_FORM
    if user is None or not user.is_authenticated or not _runs_jobs(model_admin, request, location):
        return None  # no queries: a page without background actions costs what it did
    pk = None if obj is None else str(obj.pk)
    opts, site = model_admin.opts, model_admin.admin_site
    return Job.objects.shown_on(user.pk, opts.label_lower, site.name, pk)


def _runs_jobs(model_admin, request, location: str) -> bool:
    """Whether any action this ModelAdmin offers at ``location`` is a @background_action
    (jobs come from those)."""
    from ..jobs.decorators import actions_of

    return any(
        hasattr(function, "background_job_function")
        for where, _, function in actions_of(model_admin, request)
        if where == location
    )


@register.simple_tag(takes_context=True)
def realtime_admin_change_form_config(context) -> str:
    """The JSON the change form script starts from: which object, where to listen, where to
    ask what changed, and the version the form was loaded with."""
    adminform, original = _change_form(context)
    if adminform is None:
        return ""  # an add form: no object to watch yet
    request = context.get("request")
    model_admin = adminform.model_admin
    site = model_admin.admin_site
    try:
        status_url = reverse(
            f"admin:{object_url_name(model_admin)}",
            args=[quote(original.pk)],
            current_app=site.name,
        )
    except NoReverseMatch:
        return ""  # the ModelAdmin's URLs are not in the URLconf: the stock page, not live
    user = describe(getattr(request, "user", None))
    config = {
        "model": original._meta.label_lower,
        "pk": str(original.pk),
        "site": site.name,
        "name": str(original._meta.verbose_name),
        "websocket": _websocket_url(),
        "statusUrl": status_url,
        "version": _version(context, adminform, original),
        "user": user["id"] if user else None,
        "since": time.time() - RENDER_MARGIN,
        "now": time.time(),  # the server's clock, for "3 seconds ago" on a skewed client
        "jobs": _jobs_for(request, model_admin, original),
        "jobsUrl": _jobs_url(site),
        "texts": page_texts(),
    }
    return json_script(config, "realtime-admin-change-form")


@register.simple_tag(takes_context=True)
def realtime_admin_version_input(context) -> str:
    """The hidden input by which a save says which version of the object it was made on."""
    adminform, original = _change_form(context)
    if adminform is None:
        return ""
    version = _version(context, adminform, original)
    html = format_html('<input type="hidden" name="{}" value="{}">', VERSION_FIELD, version)
    told = getattr(adminform.form, "realtime_admin_told", None)
    if told:  # after a refused save: what the user was told they would overwrite
        html += format_html('<input type="hidden" name="{}" value="{}">', TOLD_FIELD, told)
    return html


def _change_form(context) -> tuple:
    """The page's (adminform, object) if it is an existing object's change form, else
    (None, None)."""
    adminform, original = context.get("adminform"), context.get("original")
    if adminform is None or original is None or original.pk is None or context.get("add"):
        return None, None
    return adminform, original


def _version(context, adminform, original) -> str:
    """The version the form's input was made on, worked out once per page, marked with the
    fields this form shows read-only. After a failed save, the instance holds the user's
    input: the form read the saved version before."""
    cached = getattr(adminform, "realtime_admin_version", None)
    if cached is not None:
        return cached
    carried = getattr(adminform.form, "realtime_admin_carried", None)
    if carried is not None:
        # After a failed save: the version the user's input was made on, still, marked for
        # the form shown now (what it lets them edit may differ from the page they loaded).
        try:
            version = decode(carried)
        except ValueError:  # as posted: the page's saves stay refused until it is reloaded
            adminform.realtime_admin_version = carried
            return carried
    else:
        version = getattr(adminform.form, "realtime_admin_version", None)
    if version is None:  # from what the page reads anyway: no extra query
        model_admin, request = adminform.model_admin, context.get("request")
        formsets = [
            (inline.opts, inline.formset) for inline in context.get("inline_admin_formsets", [])
        ]
        version = version_of(
            model_admin,
            request,
            original,
            initial=adminform.form.initial,
            inlines=shown_inlines(model_admin, request, original, formsets),
        )
    cached = encode(version, read_only=not_editable(adminform.form, version))
    adminform.realtime_admin_version = cached
    return cached


def _websocket_url() -> str:
    return get_script_prefix() + conf.get("WEBSOCKET_PATH").lstrip("/")


@register.simple_tag(takes_context=True)
def realtime_admin_nonce(context) -> str:
    """`` nonce="..."`` when the page has a CSP nonce (Django 6.0+ with CSP), else nothing;
    read without a template variable, which would log a lookup failure on 5.2."""
    nonce = context.get("csp_nonce")
    return format_html(' nonce="{}"', nonce) if nonce else ""


def _jobs_url(site) -> str | None:
    """Where the job panel posts Cancel and Dismiss: the Job admin of this site, if any."""
    try:
        return reverse("admin:realtime_admin_job_changelist", current_app=site.name)
    except NoReverseMatch:
        return None
