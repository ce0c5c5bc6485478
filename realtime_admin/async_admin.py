"""``async def`` in the admin, which Django 5.2 to 6.1 call as if it were sync.

The admin's views are sync. Given an ``async def`` action, ``response_action`` calls it, gets
a coroutine back, and redirects: the body never runs, and the only trace is a "coroutine was
never awaited" warning. realtime_admin hands the admin a sync function instead, which runs
the coroutine to completion inside the request with ``async_to_sync``:

- under ASGI the view runs in a worker thread, and the coroutine runs on the server's event
  loop while that thread waits; the coroutine's ORM calls (``aget``, ``aupdate``, ``async
  for``) come back to the waiting thread, so they use the request's own database connection
  (and its transaction, with ``ATOMIC_REQUESTS``);
- under WSGI, and in the test client, the coroutine gets an event loop of its own for the
  duration of the call, with the same guarantee about the connection.

Actions need nothing of the user (``install_async_actions`` wraps ``get_actions``); hooks
(``save_model`` and friends, ``HOOKS``) need ``AsyncModelAdmin`` (or, on an inline, the
``AsyncHooks`` mixin), which wraps them when the class is created, and check E005 reports
``async def`` hooks on a ModelAdmin or inline without it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Callable

from asgiref.sync import async_to_sync, iscoroutinefunction
from django.contrib.admin import ModelAdmin

# What asyncio.iscoroutinefunction / inspect.markcoroutinefunction put on a marked function;
# functools.wraps copies them, and the wrapper is not a coroutine function.
_COROUTINE_MARKERS = ("_is_coroutine", "_is_coroutine_marker")


@functools.cache
def run_to_completion(func: Callable) -> Callable:
    """A function that, called from sync code, runs the coroutine function ``func`` to
    completion and returns its result; called from async code (another async hook), it
    returns the coroutine for the caller to await. The same wrapper for the same ``func``;
    it keeps ``func``'s name, description and ``allowed_permissions``."""

    @functools.wraps(func)
    def run(*args, **kwargs):
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # the admin's sync code
            return async_to_sync(func)(*args, **kwargs)
        return func(*args, **kwargs)

    for marker in _COROUTINE_MARKERS:
        run.__dict__.pop(marker, None)
    return run


def runnable(action):
    """``action`` as ``get_actions`` lists it (6.1: an ``Action``; before: a tuple), with an
    ``async def`` function swapped for ``run_to_completion``'s wrapper; otherwise the same
    object."""
    if dataclasses.is_dataclass(action):
        if iscoroutinefunction(action.func):
            return dataclasses.replace(action, func=run_to_completion(action.func))
        return action
    func, *rest = action
    return (run_to_completion(func), *rest) if iscoroutinefunction(func) else action


def install_async_actions() -> None:
    """Wrap ``ModelAdmin.get_actions`` (once), which ``response_action`` and the action menu
    read, so that ``async def`` actions run: a method named in ``actions``, a function in
    ``actions``, or a site-wide ``AdminSite.add_action``."""
    stock_get_actions = ModelAdmin.get_actions
    if getattr(stock_get_actions, "realtime_admin", False):
        return

    @functools.wraps(stock_get_actions)
    def get_actions(self: ModelAdmin, request, *args, **kwargs):
        actions = stock_get_actions(self, request, *args, **kwargs)
        return {name: runnable(action) for name, action in actions.items()}

    get_actions.realtime_admin = True
    ModelAdmin.get_actions = get_actions


# The ModelAdmin (and inline) hooks that AsyncHooks lets be ``async def``. Each is called by the
# admin's sync views and returns something they use at once (nothing lazy that would need
# the coroutine's loop later): a QuerySet is lazy but carries no loop.
HOOKS = (
    "save_model",
    "delete_model",
    "delete_queryset",
    "save_related",
    "save_formset",
    "get_queryset",
    "get_search_results",
    "get_object",
    "has_view_permission",
    "has_add_permission",
    "has_change_permission",
    "has_delete_permission",
    "has_module_permission",
)


class AsyncHooks:
    """Mixed into a ModelAdmin or an inline (``InlineModelAdmin``): its hooks (``HOOKS``) may
    be ``async def``, its own or inherited from another mixin.

    Each ``async def`` hook the class has when it is created is replaced by a sync method
    that runs it to completion (``run_to_completion``), so the admin's sync views call it as
    they call any hook."""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        for name in HOOKS:
            hook = getattr(cls, name, None)
            if hook is not None and iscoroutinefunction(hook):
                setattr(cls, name, run_to_completion(hook))


class AsyncModelAdmin(AsyncHooks, ModelAdmin):
    """A ModelAdmin whose hooks (``HOOKS``) may be ``async def`` (see ``AsyncHooks``).

    A hook runs where the stock hook would: ``save_model``, ``save_related``,
    ``save_formset``, ``delete_model`` and ``delete_queryset`` inside the admin's
    transaction, and their ORM calls (``await obj.asave()``) use the request's own
    connection, so they are part of it.

    From async code, await an async hook as usual (``await self.get_queryset(request)``).
    The stock hooks stay sync: ``super().get_queryset(request)`` builds a lazy QuerySet and
    may be called directly, but one that queries the database needs ``sync_to_async``
    (``await sync_to_async(super().save_model)(request, obj, form, change)``).
    """


def dropped_async_hooks(admin_class: type) -> list[str]:
    """The ``async def`` hooks of a ModelAdmin or inline class that Django would call and
    drop: those ``AsyncHooks`` did not wrap (the class does not derive from it)."""
    return [name for name in HOOKS if iscoroutinefunction(getattr(admin_class, name, None))]
