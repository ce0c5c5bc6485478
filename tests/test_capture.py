"""Capture: signals -> per-transaction buffer -> one batch published on commit."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from django.db import transaction
from shop.models import Customer, Order, Tag

import realtime_admin
from realtime_admin import bus
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def orders(op, *pks):
    """What a change to these orders announces: the Order and OpenOrder (proxy) changelists."""
    return {(label, str(pk)): op for pk in pks for label in ("shop.order", "shop.openorder")}


def flat(changes: dict) -> dict:
    """``bus.publish``'s {label: {pk: op}} as {(label, pk): op}."""
    return {(label, pk): op for label, rows in changes.items() for pk, op in rows.items()}


@pytest.fixture
def published(monkeypatch):
    """Every batch handed to the bus, as {(label, pk): op} dicts."""
    batches = Batches()
    monkeypatch.setattr(bus, "publish", batches.publish)
    return batches


class Batches(list):
    def __init__(self) -> None:
        super().__init__()
        self.actors = []  # who made each batch's changes

    def clear(self) -> None:
        super().clear()
        self.actors.clear()

    def publish(self, changes, by=None):
        self.append(flat(changes))
        self.actors.append(by)


def test_a_committed_transaction_publishes_one_batch_for_all_its_changes(published):
    customer = factories.customer()
    published.clear()
    with transaction.atomic():
        first = factories.order(customer=customer)
        second = factories.order(customer=customer)
        first.status = Order.Status.PAID
        first.save()
    assert published == [orders("created", first.pk, second.pk)]


def test_nothing_is_published_before_the_commit(published):
    with transaction.atomic():
        factories.order()
        assert published == []
    assert len(published) == 1


def test_a_rolled_back_transaction_publishes_nothing(published):
    customer = factories.customer()
    published.clear()
    with pytest.raises(RuntimeError), transaction.atomic():
        factories.order(customer=customer)
        raise RuntimeError
    assert published == []
    # ...and the next transaction starts with an empty buffer.
    with transaction.atomic():
        kept = factories.order(customer=customer)
    assert published == [orders("created", kept.pk)]


def test_a_change_inside_a_rolled_back_savepoint_is_not_published(published):
    customer = factories.customer()
    published.clear()
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            factories.order(customer=customer, number="GONE")
            raise RuntimeError
        kept = factories.order(customer=customer)
    assert published == [orders("created", kept.pk)]


def test_released_savepoints_share_the_transaction_batch(published):
    customer = factories.customer()
    published.clear()
    with transaction.atomic():
        created = []
        for _ in range(5):
            with transaction.atomic():  # a savepoint per item, as batch jobs do
                created.append(factories.order(customer=customer))
    assert published == [orders("created", *[o.pk for o in created])]


def test_changes_to_one_row_are_folded_into_one_entry(published):
    order = factories.order()
    published.clear()
    with transaction.atomic():
        for status in ("paid", "shipped", "cancelled"):
            order.status = status
            order.save()
    assert published == [orders("updated", order.pk)]


def test_a_row_created_and_deleted_in_one_transaction_is_not_announced(published):
    customer = factories.customer()
    published.clear()
    with transaction.atomic():
        factories.order(customer=customer).delete()
    assert published in ([], [{}])


def test_a_delete_after_an_update_is_a_delete(published):
    order = factories.order()
    published.clear()
    with transaction.atomic():
        order.status = "paid"
        order.save()
        pk = order.pk
        order.delete()
    assert published == [orders("deleted", pk)]


def test_autocommit_writes_publish_at_once(published):
    order = factories.order()
    assert published[-1] == orders("created", order.pk)


def test_cascaded_deletes_are_announced(published):
    customer = factories.customer()
    gone = [factories.order(customer=customer) for _ in range(2)]
    published.clear()
    customer_pk = customer.pk
    customer.delete()
    assert published == [
        {("shop.customer", str(customer_pk)): "deleted", **orders("deleted", *[o.pk for o in gone])}
    ]


def test_m2m_changes_announce_both_sides(published):
    order = factories.order()
    tag = Tag.objects.create(name="gift")
    published.clear()
    order.tags.add(tag)
    assert published == [{**orders("updated", order.pk), ("shop.tag", str(tag.pk)): "updated"}]


def test_models_no_admin_shows_are_not_announced(published):
    SessionStore().create()
    assert published == []


def test_fixture_loads_are_ignored(published, tmp_path):
    fixture = tmp_path / "customers.json"
    fixture.write_text('[{"model": "shop.customer", "pk": 70, "fields": {"name": "Fixture"}}]')
    call_command("loaddata", str(fixture), verbosity=0)
    assert Customer.objects.filter(pk=70).exists()
    assert published in ([], [{}])


def test_notify_announces_writes_that_send_no_signal(published):
    pks = [factories.order().pk for _ in range(3)]
    published.clear()
    with transaction.atomic():
        Order.objects.filter(pk__in=pks).update(status="paid")
        realtime_admin.notify(Order, pks)
        assert published == []
    assert published == [orders("updated", *pks)]


def test_notify_takes_an_instance_and_an_op(published):
    order = factories.order()
    published.clear()
    realtime_admin.notify(order, op="deleted")
    assert published == [orders("deleted", order.pk)]


def test_notify_rejects_what_it_cannot_announce():
    with pytest.raises(TypeError, match="give the primary keys"):
        realtime_admin.notify(Order)
    with pytest.raises(ValueError, match="op must be one of"):
        realtime_admin.notify(Order, [1], op="renamed")


def test_an_in_memory_publish_outside_the_server_warns_once(monkeypatch, caplog):
    monkeypatch.setattr(bus, "_serves_asgi", lambda: False)
    monkeypatch.setattr(bus, "_server_loop", None)
    monkeypatch.setattr(bus, "_warned_in_memory", bus.threading.Event())
    with caplog.at_level("WARNING", logger="realtime_admin"):
        factories.order()
        factories.order()
    warnings = [r for r in caplog.records if "InMemoryChannelLayer" in r.getMessage()]
    assert len(warnings) == 1
    assert "does not serve the ASGI application" in warnings[0].getMessage()


def test_registered_proxies_hear_about_their_rows(published):
    order = factories.order()
    assert set(published[-1]) == {("shop.openorder", str(order.pk)), ("shop.order", str(order.pk))}


def test_registering_and_unregistering_a_model_is_seen_at_once(published):
    from django.contrib.admin import AdminSite
    from django.contrib.contenttypes.models import ContentType
    from django.db.models.signals import post_delete

    def save_one(name):
        return str(ContentType.objects.create(app_label="registry_test", model=name).pk)

    save_one("before")
    assert published == []  # no admin shows content types
    site = AdminSite(name="content_types_admin")
    site.register(ContentType)
    try:
        pk = save_one("registered")
        assert published == [{("contenttypes.contenttype", pk): "created"}]
        site.unregister(ContentType)
        published.clear()
        save_one("unregistered")
        assert published == []
    finally:  # (registering started announcing the model's deletes)
        post_delete.disconnect(dispatch_uid="realtime_admin.contenttypes.ContentType")


def test_a_proxy_registered_during_a_transaction_loses_none_of_its_rows(published):
    from django.contrib.admin import AdminSite

    class RushOrder(Order):
        class Meta:
            proxy = True
            app_label = "shop"

    site = AdminSite(name="rush_admin")
    customer = factories.customer()
    with transaction.atomic():
        first = factories.order(customer=customer)
        site.register(RushOrder)
        second = factories.order(customer=first.customer)
    site.unregister(RushOrder)
    assert published[-1] == {
        **orders("created", first.pk, second.pk),
        ("shop.rushorder", str(second.pk)): "created",
    }


def test_models_no_admin_shows_keep_fast_deletes():
    from django.db.models.deletion import Collector

    collector = Collector(using="default")
    assert collector.can_fast_delete(SessionStore.get_model_class().objects.all())
    assert not collector.can_fast_delete(Order.objects.all())  # deletes are announced


def test_clearing_a_relation_announces_both_sides(published):
    order = factories.order()
    tags = [Tag.objects.create(name=name) for name in ("gift", "express")]
    order.tags.set(tags)
    published.clear()
    order.tags.clear()
    assert published == [
        {**orders("updated", order.pk), **{("shop.tag", str(tag.pk)): "updated" for tag in tags}}
    ]
    order.tags.set(tags)
    published.clear()
    tags[0].order_set.clear()  # from the other side
    assert published[-1] == {
        ("shop.tag", str(tags[0].pk)): "updated",
        **orders("updated", order.pk),
    }


def test_manual_transactions_are_announced_only_by_notify(published):
    customer = factories.customer()
    published.clear()
    transaction.set_autocommit(False)
    try:
        order = factories.order(customer=customer)
        assert published == []  # not committed yet, and nobody tells us when it is
        transaction.commit()
        realtime_admin.notify(order, op="created")
    finally:
        transaction.set_autocommit(True)
    assert published == [orders("created", order.pk)]


def test_changes_name_who_made_them(published):
    alice = factories.staff("alice", first_name="Alice", last_name="Liddell")
    published.clear()
    with realtime_admin.acting_as(alice):
        with transaction.atomic():
            order = factories.order()
            order.save()
        order.delete()  # outside a transaction: published at once, still as Alice
    factories.order()  # nobody known: "another process"
    expected = {"id": alice.pk, "name": "Alice Liddell"}
    assert published.actors == [expected, expected, None]


def test_a_username_names_a_user_without_a_full_name(published):
    bob = factories.staff("bob")
    published.clear()
    with realtime_admin.acting_as(bob):
        factories.order()
    assert published.actors and all(a == {"id": bob.pk, "name": "bob"} for a in published.actors)


def test_rows_set_when_the_row_they_refer_to_is_deleted_are_announced(published):
    """Deleting a staff user empties the owner of their orders (on_delete=SET_NULL), which
    Django does with update(): no post_save."""
    owner = factories.staff("dave")
    order = factories.order(owner=owner)
    published.clear()
    owner_pk = owner.pk
    owner.delete()
    assert published == [{("auth.user", str(owner_pk)): "deleted", **orders("updated", order.pk)}]


def test_a_delete_that_sets_no_rows_announces_none(monkeypatch):
    """A user who owns no orders: the orders' changelists hear nothing (not a message
    without rows) when that user is deleted."""
    owner = factories.staff("frank")
    factories.order()  # someone else's
    labels = []
    monkeypatch.setattr(bus, "publish", lambda changes, by=None: labels.append(sorted(changes)))
    owner.delete()
    assert labels == [["auth.user"]]


class StaffMember(get_user_model()):
    """A proxy of the user model, as a "staff members" admin might use (not registered)."""

    class Meta:
        proxy = True
        app_label = "shop"


def test_rows_set_by_deleting_through_a_proxy_are_announced(published):
    """A user deleted through a proxy model (a "staff members" admin, say): the signal
    names the proxy, and the orders it owned change all the same."""
    from realtime_admin import capture

    # As at startup, when every model (this proxy too) is known:
    capture.watch_deletes(Order)
    capture.watch_deletes(get_user_model())
    owner = factories.staff("erin")
    order = factories.order(owner=owner)
    published.clear()
    StaffMember.objects.get(pk=owner.pk).delete()
    assert published[-1] == {("auth.user", str(owner.pk)): "deleted", **orders("updated", order.pk)}


def test_what_each_on_delete_does_without_a_signal():
    from django.db import models

    from realtime_admin.capture import unsignalled_effect

    assert unsignalled_effect(models.SET_NULL) == unsignalled_effect(models.SET(0)) == "updated"
    assert unsignalled_effect(models.CASCADE) is None  # (its deletes send signals)
    assert unsignalled_effect(models.PROTECT) is unsignalled_effect(models.DO_NOTHING) is None
    if hasattr(models, "DB_CASCADE"):  # Django 6.1+: done by the database itself
        assert unsignalled_effect(models.DB_CASCADE) == "deleted"
        assert unsignalled_effect(models.DB_SET_NULL) == "updated"


def test_a_child_and_its_parent_are_one_row_to_both_changelists(published, mti_tables):
    """Multi-table inheritance: a restaurant is a place, by the same pk. Saving either (or
    deleting) is a change to both changelists."""
    place_model, restaurant_model = mti_tables
    restaurant = restaurant_model.objects.create(name="Luigi's")
    both = ("shop.place", "shop.restaurant")
    assert published[-1] == {(label, str(restaurant.pk)): "created" for label in both}
    place_model.objects.filter(pk=restaurant.pk).get().save()  # a rename through the parent
    assert published[-1] == {(label, str(restaurant.pk)): "updated" for label in both}
    only_a_place = place_model.objects.create(name="Park")
    assert published[-1] == {(label, str(only_a_place.pk)): "created" for label in both}
    pk = restaurant.pk
    place_model.objects.filter(pk=pk).delete()  # the restaurant goes with it
    assert published[-1] == {(label, str(pk)): "deleted" for label in both}
