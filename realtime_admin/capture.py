"""Signals -> a per-transaction buffer -> one batch published on commit.

The save path only appends to a buffer. The buffer's ``publish`` method is registered once
per transaction with ``transaction.on_commit``, so a rolled-back transaction publishes
nothing (Django drops the callback), and a loop of 10,000 saves in one transaction costs one
channel-layer message per model, not 10,000.

A change made inside a savepoint that is later rolled back, while the buffer belongs to the
enclosing transaction, is still announced; pages then re-fetch and find nothing changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.admin.sites import all_sites
from django.db import connections, models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from . import bus


def _merge(old: str | None, new: str) -> str | None:
    """Fold two ops on one row within a transaction into what a viewer needs to know."""
    if old is None:
        return new
    if old == bus.CREATED:
        return None if new == bus.DELETED else bus.CREATED  # never seen: nothing to say
    if old == bus.DELETED and new == bus.CREATED:
        return bus.UPDATED  # same pk back again
    return bus.DELETED if new == bus.DELETED else old


class Buffer:
    """The changes of one transaction, de-duplicated by (model, pk)."""

    def __init__(self) -> None:
        self.changes: dict[tuple[str, str], str] = {}

    def add(self, label: str, pk: str, op: str) -> None:
        key = (label, pk)
        merged = _merge(self.changes.get(key), op)
        if merged is None:
            del self.changes[key]
        else:
            self.changes[key] = merged

    def publish(self) -> None:
        bus.publish(self.changes)


def _buffer_for(connection) -> Buffer:
    """This transaction's buffer, registering it with on_commit the first time.

    Django replaces ``connection.run_on_commit`` with a new list on commit, rollback and
    savepoint rollback, so the cached buffer is valid while that list is the same object;
    otherwise look for our buffer in the list (it survives a rollback of a later savepoint).
    """
    cached = getattr(connection, "_realtime_admin_buffer", None)
    if cached is not None and cached[0] is connection.run_on_commit:
        return cached[1]
    buffer = next(
        (
            func.__self__
            for _, func, _ in reversed(connection.run_on_commit)
            if isinstance(getattr(func, "__self__", None), Buffer)
        ),
        None,
    )
    if buffer is None:
        buffer = Buffer()
        transaction.on_commit(buffer.publish, using=connection.alias, robust=True)
    connection._realtime_admin_buffer = (connection.run_on_commit, buffer)
    return buffer


def is_live(model: type[models.Model]) -> bool:
    """Whether any admin site shows this model (others, e.g. sessions, are not announced)."""
    return any(site.is_registered(model) for site in all_sites)


def record(model: type[models.Model], pks: Iterable[Any], op: str, using: str) -> None:
    """Buffer changes to rows of ``model`` in the current transaction on ``using``."""
    if op not in bus.OPS:
        raise ValueError(f"op must be one of {bus.OPS}, not {op!r}")
    model = model._meta.concrete_model
    if not is_live(model):
        return
    label = model._meta.label_lower
    connection = connections[using]
    if not connection.in_atomic_block:  # autocommit: the write is already committed
        bus.publish({(label, str(pk)): op for pk in pks})
        return
    buffer = _buffer_for(connection)
    for pk in pks:
        buffer.add(label, str(pk), op)


def on_post_save(sender, instance, created, raw, using, **kwargs) -> None:
    if raw:  # fixture loads
        return
    record(sender, [instance.pk], bus.CREATED if created else bus.UPDATED, using)


def on_post_delete(sender, instance, using, origin=None, **kwargs) -> None:
    record(sender, [instance.pk], bus.DELETED, using)


def on_m2m_changed(sender, instance, action, reverse, model, pk_set, using, **kwargs) -> None:
    if kwargs.get("raw") or not action.startswith("post_"):
        return
    record(type(instance), [instance.pk], bus.UPDATED, using)
    if pk_set:  # the other side's rows may show the relation too
        record(model, pk_set, bus.UPDATED, using)


def connect() -> None:
    post_save.connect(on_post_save, dispatch_uid="realtime_admin.post_save")
    post_delete.connect(on_post_delete, dispatch_uid="realtime_admin.post_delete")
    m2m_changed.connect(on_m2m_changed, dispatch_uid="realtime_admin.m2m_changed")
