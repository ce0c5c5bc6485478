"""Who is making the changes of the current request or job, for "changed by Alice".

Every admin view runs as its user (``integration.py`` wraps ``AdminSite.admin_view``), and
a background job as the user who started it. Other code may say who it acts for with
``acting_as``; writes made outside any of these are "by another process".

The actor is read once per transaction (``capture.py``) and travels with its changes to the
change forms of the objects concerned, never to changelists.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

Actor = dict[str, Any]  # {"id": user pk (primitive), "name": display name}

# The user, described only when a change is made (most admin requests change nothing).
_current: ContextVar[Any] = ContextVar("realtime_admin_actor", default=None)


def describe(user: Any) -> Actor | None:
    """How ``user`` is named to others: their full name, else their username."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    pk = user.pk if isinstance(user.pk, int | str) else str(user.pk)
    return {"id": pk, "name": name.strip() or user.get_username()}


def current() -> Actor | None:
    return describe(_current.get())


@contextlib.contextmanager
def acting_as(user: Any) -> Iterator[None]:
    """Changes committed inside this block are shown as made by ``user``::

    with realtime_admin.acting_as(request.user):
        order.save()
    """
    token = _current.set(user)
    try:
        yield
    finally:
        _current.reset(token)
