"""realtime_admin: live changelists for the stock Django admin."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .actor import acting_as
from .jobs import background_action

__version__ = "0.1.0.dev0"
__all__ = ["AsyncHooks", "AsyncModelAdmin", "acting_as", "background_action", "notify"]


def __getattr__(name: str) -> Any:
    # async_admin imports django.contrib.admin, which needs the app registry: load it
    # only when asked for (an admin.py imports it once the apps are ready).
    if name in ("AsyncHooks", "AsyncModelAdmin"):
        from . import async_admin

        return getattr(async_admin, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def notify(
    model: Any,
    pks: Iterable[Any] | None = None,
    op: str = "updated",
    using: str | None = None,
) -> None:
    """Announce changes that sent no signal (``update()``, ``bulk_create``, raw SQL).

    ``model`` is a model class (with ``pks``) or an instance (its own pk). ``op`` is
    ``"created"``, ``"updated"`` or ``"deleted"``. Inside a transaction the notice goes out
    when it commits, batched with the rest; outside one, at once::

        Order.objects.filter(status="new").update(status="paid")
        realtime_admin.notify(Order, paid_pks)
    """
    from django.db import router

    from .capture import record

    if pks is None:
        if isinstance(model, type):
            raise TypeError("notify(Model, pks): give the primary keys, or pass an instance.")
        pks, model = [model.pk], type(model)
    record(model, pks, op, using or router.db_for_write(model), explicit=True)
