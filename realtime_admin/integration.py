"""How realtime_admin joins every ModelAdmin without any change to the user's code.

Two stock methods are wrapped once, at app start:

- ``ModelAdmin.get_urls`` adds the refresh endpoint under each changelist. A subclass that
  overrides ``get_urls`` and calls ``super()`` (the documented way) keeps it.
- ``AdminSite.register`` starts announcing deletes of each model it registers (capture.py
  connects its delete receiver per model, so unregistered models keep fast deletes).

And ``ModelAdmin.get_actions`` hands ``async def`` actions over as sync functions that run
them (async_admin.py).
"""

from __future__ import annotations

import functools

from django.contrib.admin import AdminSite, ModelAdmin
from django.db.models.base import ModelBase
from django.urls import path

from . import capture
from .async_admin import install_async_actions
from .views import URL_SUFFIX, changelist_refresh


def url_name(model_admin: ModelAdmin) -> str:
    return f"{model_admin.opts.app_label}_{model_admin.opts.model_name}_realtime"


def install() -> None:
    _wrap_register()
    install_async_actions()
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


def _wrap_register() -> None:
    stock_register = AdminSite.register
    if getattr(stock_register, "realtime_admin", False):
        return

    @functools.wraps(stock_register)
    def register(self: AdminSite, model_or_iterable, admin_class=None, **options):
        stock_register(self, model_or_iterable, admin_class, **options)
        for model in (
            [model_or_iterable] if isinstance(model_or_iterable, ModelBase) else model_or_iterable
        ):
            capture.watch_deletes(model)

    register.realtime_admin = True
    AdminSite.register = register
