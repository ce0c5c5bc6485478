"""How realtime_admin joins every ModelAdmin without any change to the user's code.

A few stock methods are wrapped once, at app start:

- ``ModelAdmin.get_urls`` adds the refresh endpoint under each changelist and the status
  endpoint of each change form. A subclass that overrides ``get_urls`` and calls ``super()``
  (the documented way) keeps them.
- ``AdminSite.register`` starts announcing deletes of each model it registers (capture.py
  connects its delete receiver per model, so unregistered models keep fast deletes), and
  it and ``unregister`` tell capture.py that which changelists show a table may have changed.
- ``AdminSite.admin_view`` runs every admin view as its user (actor.py), so that change
  forms can say who changed their object.
- ``ModelAdmin.get_form`` checks, when a live change form posts the version it was loaded
  with, that the save does not overwrite someone else's changes unasked (versions.py), and
  ``ModelAdmin.construct_change_message``, called once the form and its inlines are valid
  and about to be saved, tells the user which of their changes it kept.

And ``ModelAdmin.get_actions`` hands ``async def`` actions over as sync functions that run
them (async_admin.py).
"""

from __future__ import annotations

import functools

from django.contrib import messages
from django.contrib.admin import AdminSite, ModelAdmin
from django.db.models.base import ModelBase
from django.urls import path

from . import capture
from .actor import acting_as
from .async_admin import install_async_actions
from .versions import VERSION_FIELD, versioned
from .views import URL_SUFFIX, changelist_refresh, object_status


def url_name(model_admin: ModelAdmin) -> str:
    return f"{model_admin.opts.app_label}_{model_admin.opts.model_name}_realtime"


def object_url_name(model_admin: ModelAdmin) -> str:
    return f"{url_name(model_admin)}_object"


def install() -> None:
    _wrap_register()
    install_async_actions()
    _wrap(AdminSite, "admin_view", _admin_view)
    _wrap(ModelAdmin, "get_form", _get_form)
    _wrap(ModelAdmin, "construct_change_message", _construct_change_message)
    _wrap(ModelAdmin, "get_urls", _get_urls)


def _wrap(cls: type, name: str, make) -> None:
    """Replace ``cls.name`` by ``make(stock)``, once."""
    stock = getattr(cls, name)
    if getattr(stock, "realtime_admin", False):
        return
    wrapper = functools.wraps(stock)(make(stock))
    wrapper.realtime_admin = True
    setattr(cls, name, wrapper)


def _get_urls(stock):
    def get_urls(self: ModelAdmin):
        admin_view = self.admin_site.admin_view
        refresh = functools.partial(changelist_refresh, model_admin=self)
        status = functools.partial(object_status, model_admin=self)
        return [
            path(URL_SUFFIX, admin_view(refresh), name=url_name(self)),
            path(f"<path:object_id>/{URL_SUFFIX}", admin_view(status), name=object_url_name(self)),
            *stock(self),
        ]

    return get_urls


def _admin_view(stock):
    def admin_view(self: AdminSite, view, cacheable=False):
        @functools.wraps(view)
        def as_its_user(request, *args, **kwargs):
            with acting_as(request.user):
                return view(request, *args, **kwargs)

        return stock(self, as_its_user, cacheable)

    return admin_view


def _get_form(stock):
    def get_form(self: ModelAdmin, request, obj=None, change=False, **kwargs):
        form = stock(self, request, obj, change, **kwargs)
        # (getattr: code and tests call get_form with stand-in requests, too.)
        if getattr(request, "method", None) == "POST" and VERSION_FIELD in request.POST:
            return versioned(form, self, request)
        return form

    return get_form


def _construct_change_message(stock):
    def construct_change_message(self: ModelAdmin, request, form, formsets, add=False):
        kept_message = getattr(form, "realtime_admin_kept_message", None)
        text = kept_message() if kept_message is not None else None
        if text:
            messages.info(request, text, fail_silently=True)
        return stock(self, request, form, formsets, add)

    return construct_change_message


def _wrap_register() -> None:
    """Registering a model starts announcing its deletes; registering or unregistering
    anything changes which changelists show which tables (capture.live_labels)."""
    stock_register, stock_unregister = AdminSite.register, AdminSite.unregister
    if getattr(stock_register, "realtime_admin", False):
        return

    @functools.wraps(stock_register)
    def register(self: AdminSite, model_or_iterable, admin_class=None, **options):
        try:
            stock_register(self, model_or_iterable, admin_class, **options)
        finally:  # (some models may have been registered before an error)
            capture.registry_changed()
        for model in (
            [model_or_iterable] if isinstance(model_or_iterable, ModelBase) else model_or_iterable
        ):
            capture.watch_deletes(model)

    @functools.wraps(stock_unregister)
    def unregister(self: AdminSite, model_or_iterable):
        try:
            stock_unregister(self, model_or_iterable)
        finally:
            capture.registry_changed()

    register.realtime_admin = unregister.realtime_admin = True
    AdminSite.register, AdminSite.unregister = register, unregister
