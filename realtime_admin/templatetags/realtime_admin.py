from __future__ import annotations

from django import template
from django.urls import get_script_prefix, reverse
from django.utils.html import json_script

from .. import conf
from ..integration import url_name

register = template.Library()


@register.simple_tag(takes_context=True)
def realtime_admin_config(context) -> str:
    """The JSON the changelist script starts from: which model, where to listen, where to
    fetch rows, and the pks of the rows on this page in order."""
    cl = context.get("cl")
    if cl is None:
        return ""
    site = cl.model_admin.admin_site
    formset = getattr(cl, "formset", None)
    config = {
        "model": cl.opts.label_lower,
        "site": site.name,
        "websocket": get_script_prefix() + conf.get("WEBSOCKET_PATH").lstrip("/"),
        "refreshUrl": reverse(f"admin:{url_name(cl.model_admin)}", current_app=site.name),
        "pks": [str(obj.pk) for obj in cl.result_list],
        "hasErrors": bool(formset and formset.errors),
    }
    return json_script(config, "realtime-admin-config")
