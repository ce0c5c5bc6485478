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

from django.apps import apps
from django.contrib.admin.sites import all_sites
from django.db import connections, models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from . import actor, bus


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
    """The changes of one transaction, de-duplicated by (model, pk).

    Rows are kept by the labels of the changelists that show them (``live_labels()``), so a
    save costs a few dict operations however many proxies share the table."""

    def __init__(self) -> None:
        self.changes: dict[tuple[str, ...], dict[str, str]] = {}
        self.actor = actor.current()  # who makes this transaction's changes, if known
        # Set once run: a TestCase's captureOnCommitCallbacks(execute=True) runs callbacks
        # without replacing run_on_commit, and later changes need a buffer of their own.
        self.published = False

    def add(self, model: type[models.Model], pks: Iterable[Any], op: str) -> None:
        labels = live_labels(model)
        if not labels:
            return
        rows = self.changes.get(labels)
        if rows is None:
            rows = self.changes[labels] = {}
        for pk in pks:
            pk = str(pk)
            old = rows.get(pk)
            if old is None:
                rows[pk] = op
            elif (merged := _merge(old, op)) is None:
                del rows[pk]
            else:
                rows[pk] = merged

    def publish(self) -> None:
        self.published = True
        changes: dict[str, dict[str, str]] = {}
        for labels, rows in self.changes.items():
            if not rows:  # (none, or each created and deleted again: nothing to say)
                continue
            for label in labels:
                # (A label in two keys: a proxy's admin was registered during the transaction.)
                changes[label] = {**changes[label], **rows} if label in changes else rows
        bus.publish(changes, by=self.actor)


def _current_buffer(connection) -> Buffer | None:
    """This transaction's buffer, if it has one.

    Django replaces ``connection.run_on_commit`` with a new list on commit, rollback and
    savepoint rollback, so the cached buffer is valid while that list is the same object;
    otherwise look for our buffer in the list (it survives a rollback of a later savepoint).
    """
    cached = getattr(connection, "_realtime_admin_buffer", None)
    if cached is not None and cached[0] is connection.run_on_commit and not cached[1].published:
        return cached[1]
    if not connection.run_on_commit:
        return None
    buffer = next(
        (
            func.__self__
            for _, func, _ in reversed(connection.run_on_commit)
            if isinstance(getattr(func, "__self__", None), Buffer) and not func.__self__.published
        ),
        None,
    )
    if buffer is not None:
        connection._realtime_admin_buffer = (connection.run_on_commit, buffer)
    return buffer


def _new_buffer(connection) -> Buffer:
    """A buffer for this transaction, published when it commits (``transaction.on_commit``,
    on the connection at hand rather than looked up again)."""
    buffer = Buffer()
    connection.on_commit(buffer.publish, robust=True)
    connection._realtime_admin_buffer = (connection.run_on_commit, buffer)
    return buffer


def live_labels(model: type[models.Model]) -> tuple[str, ...]:
    """The labels of the changelists that show rows of ``model``'s table, by the same pk: the
    model and its proxies that an admin site registers, and under multi-table inheritance
    its parents' and children's (a row of each is one object; the stock child pk is its
    parent's). Others, e.g. sessions, are not announced."""
    cache = _labels  # (a registration meanwhile replaces it: what is read now is not kept)
    labels = cache.get(model)
    if labels is None:
        concrete = model._meta.concrete_model
        labels = cache[model] = tuple(
            sorted(
                {
                    registered._meta.label_lower
                    for site in all_sites
                    for registered in site._registry
                    if shares_rows(registered._meta.concrete_model, concrete)
                }
            )
        )
    return labels


def shares_rows(one: type[models.Model], other: type[models.Model]) -> bool:
    """Whether a row of one concrete model is a row of the other, by the same pk: the same
    model, or a child and its parent whose pk is the parent link (all the way up)."""
    child, parent = (one, other) if other in one._meta.get_parent_list() else (other, one)
    while child is not parent:
        pk = child._meta.pk
        if not (pk.one_to_one and pk.remote_field.parent_link):
            return False
        child = pk.related_model._meta.concrete_model
    return True


# model -> live_labels(model); replaced whenever a site registers or unregisters a model
# (integration.py), so the save path reads a dict instead of walking every site's registry.
# Code that changes a site's ``_registry`` by hand should call registry_changed().
_labels: dict[type[models.Model], tuple[str, ...]] = {}


def registry_changed() -> None:
    global _labels
    _labels = {}


def record(
    model: type[models.Model], pks: Iterable[Any], op: str, using: str, explicit: bool = False
) -> None:
    """Buffer changes to rows of ``model`` in the current transaction on ``using``.

    Outside a transaction the write is committed already, so it is published at once. Under
    manual transaction management (``set_autocommit(False)``) nobody can tell when it commits:
    signals are not announced, only ``notify()`` calls (``explicit``), made after the commit.
    """
    if op not in bus.OPS:
        raise ValueError(f"op must be one of {bus.OPS}, not {op!r}")
    connection = connections[using]
    if connection.in_atomic_block:
        buffer = _current_buffer(connection)
        if buffer is None:
            if not live_labels(model):
                return  # no buffer (and no on_commit) for writes nobody shows
            buffer = _new_buffer(connection)
        buffer.add(model, pks, op)
    elif (
        (explicit or connection.get_autocommit())
        and (labels := live_labels(model))
        and (rows := {str(pk): op for pk in pks})  # (no message for no rows)
    ):
        bus.publish(dict.fromkeys(labels, rows), by=actor.current())


def on_post_save(sender, instance, created, raw, using, **kwargs) -> None:
    if raw:  # fixture loads
        return
    record(sender, (instance.pk,), bus.CREATED if created else bus.UPDATED, using)


def on_post_delete(sender, instance, using, origin=None, **kwargs) -> None:
    record(sender, (instance.pk,), bus.DELETED, using)


def _related_pks(through: type[models.Model], instance, reverse: bool) -> list[Any]:
    """The pks on the other side of ``instance``'s many-to-many relation through ``through``."""
    owner = through._meta.auto_created  # the model declaring the field, for implicit throughs
    field = next(
        f
        for model in ([owner] if owner else apps.get_models())
        for f in model._meta.local_many_to_many
        if f.remote_field.through is through
    )
    source, target = field.m2m_field_name(), field.m2m_reverse_field_name()
    if reverse:
        source, target = target, source
    rows = through._default_manager.filter(**{source: instance.pk})
    return list(rows.values_list(target, flat=True))


def on_m2m_changed(sender, instance, action, reverse, model, pk_set, using, **kwargs) -> None:
    if kwargs.get("raw"):
        return
    if action == "pre_clear":  # post_clear gives no pks: note who is on the other side now
        instance.__dict__.setdefault("_realtime_admin_cleared", {})[sender] = _related_pks(
            sender, instance, reverse
        )
        return
    if not action.startswith("post_"):
        return
    if action == "post_clear":
        pk_set = instance.__dict__.get("_realtime_admin_cleared", {}).pop(sender, None)
    record(type(instance), [instance.pk], bus.UPDATED, using)
    if pk_set:  # the other side's rows may show the relation too
        record(model, pk_set, bus.UPDATED, using)


def watch_deletes(model: type[models.Model]) -> None:
    """Announce deletes of ``model``'s rows, and the rows of it that a delete elsewhere
    changes without a signal: ``on_delete=SET_NULL``, ``SET_DEFAULT`` and ``SET()`` (Django
    makes those with ``update()``), and the database's own ``DB_SET_NULL``,
    ``DB_SET_DEFAULT`` and ``DB_CASCADE`` (Django 6.1+). Connected per model, for the models
    an admin site registers: a receiver for every sender would turn off Django's fast
    deletes (``Collector.can_fast_delete``) for every model in the project."""
    # Deleted through the model or any proxy of it: the signals name the one used.
    for sender in {model, *sharing_a_table(model)}:
        post_delete.connect(
            on_post_delete, sender=sender, dispatch_uid=f"realtime_admin.{sender._meta.label}"
        )
    for field in model._meta.concrete_model._meta.concrete_fields:
        op = field.is_relation and unsignalled_effect(field.remote_field.on_delete)
        if op:
            _on_delete.setdefault(field.related_model._meta.concrete_model, {})[field] = op
            for sender in sharing_a_table(field.related_model):
                pre_delete.connect(
                    on_pre_delete, sender=sender, dispatch_uid="realtime_admin.on_delete"
                )


def sharing_a_table(model: type[models.Model]) -> list[type[models.Model]]:
    """``model``'s concrete model and its proxies."""
    concrete = model._meta.concrete_model
    return [other for other in apps.get_models() if other._meta.concrete_model is concrete]


# A deleted row's concrete model -> the foreign keys to it whose rows change with it without
# a signal, and how.
_on_delete: dict[type[models.Model], dict[models.Field, str]] = {}


def unsignalled_effect(on_delete: Any) -> str | None:
    """What an ``on_delete`` does to the referring rows without a signal, if anything."""
    updates = (models.SET_NULL, models.SET_DEFAULT)
    updates += tuple(getattr(models, name, None) for name in ("DB_SET_NULL", "DB_SET_DEFAULT"))
    if on_delete in updates:
        return bus.UPDATED
    if on_delete is getattr(models, "DB_CASCADE", None):
        return bus.DELETED
    deconstruct = getattr(on_delete, "deconstruct", None)  # models.SET(value)
    return bus.UPDATED if deconstruct and deconstruct()[0] == "django.db.models.SET" else None


def on_pre_delete(sender, instance, using, **kwargs) -> None:
    """``instance`` is about to be deleted: the rows that refer to it and will be set (or
    deleted by the database) without a signal change with it. One query a deleted row and
    relation: deleting many such rows at once costs as many queries more."""
    for field, op in _on_delete.get(sender._meta.concrete_model, {}).items():
        rows = field.model._base_manager.using(using).filter(**{field.name: instance})
        record(field.model, list(rows.values_list("pk", flat=True)), op, using)


def connect() -> None:
    post_save.connect(on_post_save, dispatch_uid="realtime_admin.post_save")
    m2m_changed.connect(on_m2m_changed, dispatch_uid="realtime_admin.m2m_changed")
    for site in all_sites:
        for model in site._registry:
            watch_deletes(model)
