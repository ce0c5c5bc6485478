"""How realtime_admin joins every ModelAdmin without any change to the user's code.

``ModelAdmin.get_urls`` is wrapped once, at app start, to add the refresh endpoint under
each changelist. A subclass that overrides ``get_urls`` and calls ``super()`` (the documented
way) keeps it.
"""

from __future__ import annotations

import functools

from django.contrib.admin import ModelAdmin
from django.urls import path

from .views import URL_SUFFIX, changelist_refresh


def url_name(model_admin: ModelAdmin) -> str:
    return f"{model_admin.opts.app_label}_{model_admin.opts.model_name}_realtime"


def install() -> None:
    stock_get_urls = ModelAdmin.get_urls
    if getattr(stock_get_urls, "realtime_admin", False):
        return

    @functools.wraps(stock_get_urls)
    def get_urls(self: ModelAdmin):
        view = functools.partial(changelist_refresh, model_admin=self)
        live = path(URL_SUFFIX, self.admin_site.admin_view(view), name=url_name(self))
        return [live, *stock_get_urls(self)]

    get_urls.realtime_admin = True
    ModelAdmin.get_urls = get_urls
