"""A live change form: the version it carries, the status endpoint that says what someone
else changed, and the check that a save does not overwrite their changes unasked."""

import datetime
import json
import re
import threading
import time

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.db import connections, transaction
from django.utils import timezone
from shop.models import Order, Tag

from realtime_admin.versions import TOLD_FIELD, VERSION_FIELD, decode
from tests import factories

pytestmark = pytest.mark.django_db

ORDERS = "/admin/shop/order/"


def loaded(client, order) -> tuple[str, dict]:
    """The change form's hidden version and its script config, as a browser would load them."""
    html = client.get(f"{ORDERS}{order.pk}/change/").content.decode()
    version = re.search(rf'name="{VERSION_FIELD}" value="([^"]*)"', html).group(1)
    config = re.search(
        r'<script id="realtime-admin-change-form" type="application/json">(.*?)</script>', html
    ).group(1)
    return version, json.loads(config)


def status(client, order, version: str):
    return client.get(f"{ORDERS}{order.pk}/__live__/", {"version": version})


def form_data(order, version: str | None, **changes) -> dict:
    data = {
        "number": order.number,
        "customer": order.customer_id,
        "status": order.status,
        "amount": str(order.amount),
        "owner": order.owner_id or "",
        "created_at_0": order.created_at.strftime("%Y-%m-%d"),
        "created_at_1": order.created_at.strftime("%H:%M:%S"),
        **changes,
    }
    if version is not None:
        data[VERSION_FIELD] = version
    return data


@pytest.fixture
def root_client(client):
    root = factories.superuser()
    client.force_login(root)
    client.user = root
    return client


def test_the_change_form_carries_its_version_and_config(root_client):
    order = factories.order()
    version, config = loaded(root_client, order)
    assert set(decode(version)) >= {"number", "customer", "status", "amount", "owner", "tags"}
    assert config["pk"] == str(order.pk)
    assert config["model"] == "shop.order"
    assert config["version"] == version
    assert config["user"] == root_client.user.pk
    assert config["statusUrl"] == f"{ORDERS}{order.pk}/__live__/"


def test_the_add_form_is_not_live(root_client):
    html = root_client.get(f"{ORDERS}add/").content.decode()
    assert VERSION_FIELD not in html
    assert "realtime-admin-change-form" not in html


def test_status_lists_the_fields_changed_since_the_version_with_their_saved_value(root_client):
    order = factories.order(status="new")
    version, _ = loaded(root_client, order)
    assert status(root_client, order, version).json()["state"] == "same"
    Order.objects.filter(pk=order.pk).update(status="shipped")
    answer = status(root_client, order, version).json()
    assert answer["state"] == "changed"
    assert answer["fields"] == [
        {
            "name": "status",
            "label": "Status",
            "value": "Shipped",
            "editable": True,
            "selector": ".field-status",
        }
    ]
    assert answer["version"] != version


def test_status_of_a_deleted_object_or_one_out_of_reach_is_the_same_answer(client):
    alice = factories.staff("alice", "view_order", "change_order")
    mine = factories.order(owner=alice)
    theirs = factories.order()
    client.force_login(alice)
    version, _ = loaded(client, mine)
    # Another's order (row rules) and a deleted one: "deleted", nothing else said.
    assert status(client, theirs, version).json() == {"state": "deleted"}
    mine.delete()
    assert status(client, mine, version).json() == {"state": "deleted"}


def test_status_names_only_fields_the_viewer_sees(client, settings):
    viewer = factories.staff("viewer", "view_customer")
    customer = factories.customer()
    client.force_login(viewer)
    html = client.get(f"/admin/shop/customer/{customer.pk}/change/").content.decode()
    config = json.loads(
        re.search(
            r'<script id="realtime-admin-change-form" type="application/json">(.*?)</script>', html
        ).group(1)
    )
    customer.city = "Paris"
    customer.save()
    url = f"/admin/shop/customer/{customer.pk}/__live__/"
    answer = client.get(url, {"version": config["version"]}).json()
    assert [field["name"] for field in answer["fields"]] == ["city"]
    assert answer["fields"][0]["editable"] is False  # the viewer may only look


@pytest.mark.parametrize("narrowed", ["customer", "tags", "status"])
def test_status_shows_no_value_the_viewers_choices_do_not_offer(root_client, monkeypatch, narrowed):
    """A choice list narrowed for this viewer (formfield_for_foreignkey and friends) shows
    no value it does not offer, on a reload: neither does the banner. It still says that
    the field changed."""
    from django.contrib import admin

    order_admin = admin.site._registry[Order]
    secret = factories.customer("Secret Client")
    hidden_tag = Tag.objects.create(name="secret-tag")
    narrowing = {
        "customer": ("formfield_for_foreignkey", {"queryset": secret._meta.model.objects.none()}),
        "tags": ("formfield_for_manytomany", {"queryset": Tag.objects.none()}),
        "status": ("formfield_for_choice_field", {"choices": [("new", "New")]}),
    }
    hook, narrow = narrowing[narrowed]
    stock = getattr(order_admin, hook)

    def narrowed_hook(db_field, request, **kwargs):
        return stock(
            db_field, request, **({**kwargs, **narrow} if db_field.name == narrowed else kwargs)
        )

    monkeypatch.setattr(order_admin, hook, narrowed_hook)
    order = factories.order(status="new", customer=factories.customer("Ada"))
    version, _ = loaded(root_client, order)
    if narrowed == "tags":
        order.tags.add(hidden_tag)
    else:
        Order.objects.filter(pk=order.pk).update(customer=secret, status="shipped")
    [field] = [
        f for f in status(root_client, order, version).json()["fields"] if f["name"] == narrowed
    ]
    assert field["value"] is None
    reload = root_client.get(f"{ORDERS}{order.pk}/change/").content.decode()
    assert {"customer": "Secret Client", "tags": "secret-tag", "status": ">Shipped<"}[
        narrowed
    ] not in reload


def test_a_damaged_version_is_a_clear_400_and_changes_nothing(root_client):
    order = factories.order()
    response = status(root_client, order, "status:zz,<script>")
    assert response.status_code == 400
    assert b"reload" in response.content


def test_status_needs_the_model_view_permission(client):
    nobody = factories.staff("nobody")
    order = factories.order()
    client.force_login(nobody)
    assert status(client, order, "").status_code == 403


def read_only_once_paid(monkeypatch, field: str, until_paid: bool = False) -> None:
    """Order's ``field`` is read-only once the order is paid (or, ``until_paid``, until)."""
    from django.contrib import admin

    order_admin = admin.site._registry[Order]
    stock = order_admin.get_readonly_fields

    def read_only(request, obj=None):
        paid = obj is not None and obj.status == "paid"
        return [*stock(request, obj), *([field] if paid != until_paid else [])]

    monkeypatch.setattr(order_admin, "get_readonly_fields", read_only)


def version_input(html: str) -> str:
    return re.search(rf'name="{VERSION_FIELD}" value="([^"]*)"', html).group(1)


def told_input(html: str) -> str | None:
    found = re.search(rf'name="{TOLD_FIELD}" value="([^"]*)"', html)
    return found and found.group(1)


def test_a_field_only_someone_else_changed_keeps_their_change(root_client):
    """They changed the status, I changed the amount on a page that still shows the old
    status: my save keeps their status, says so, and logs only my change."""
    tag = Tag.objects.create(name="gift")
    order = factories.order(status="new", amount="10.00")
    version, _ = loaded(root_client, order)
    other = factories.customer("Grace Hopper", "Arlington")
    Order.objects.filter(pk=order.pk).update(status="shipped", customer=other)  # someone else
    order.tags.add(tag)  # someone else, too
    mine = form_data(order, version, amount="99.00")
    # As a browser posts it: a field with a callable default has its initial value beside it.
    mine.update({f"initial-{name}": mine[name] for name in ("created_at_0", "created_at_1")})
    response = root_client.post(f"{ORDERS}{order.pk}/change/", mine, follow=True)
    assert response.redirect_chain, response.context["errors"]
    assert (
        "Someone else changed Customer, Status, Tags since you opened this order, and you did "
        "not: their change is kept." in response.content.decode()
    )
    order.refresh_from_db()
    assert (order.status, order.customer, str(order.amount)) == ("shipped", other, "99.00")
    assert list(order.tags.all()) == [tag]
    entry = LogEntry.objects.get(object_id=str(order.pk))
    assert entry.get_change_message() == "Changed Amount."


def test_saving_over_a_field_both_changed_is_refused_once_keeping_the_input(root_client):
    order = factories.order(status="new", amount="10.00")
    version, _ = loaded(root_client, order)
    Order.objects.filter(pk=order.pk).update(status="shipped")  # someone else, meanwhile
    mine = form_data(order, version, status="paid", amount="99.00")
    response = root_client.post(f"{ORDERS}{order.pk}/change/", mine)
    assert response.status_code == 200  # re-rendered, not saved
    html = response.content.decode()
    assert "Someone else changed this order since you opened it: Status." in html
    assert 'value="99.00"' in html  # my input is kept
    order.refresh_from_db()
    assert (order.status, str(order.amount)) == ("shipped", "10.00")
    # The page goes on carrying the version my input was made on (its banner and Compare
    # show what changed since), and now also what I was told I would overwrite.
    carried = re.search(rf'name="{VERSION_FIELD}" value="([^"]*)"', html).group(1)
    assert carried == version
    assert decode(told_input(html)).keys() == {"status"}
    assert (
        root_client.get(f"{ORDERS}{order.pk}/__live__/", {"version": carried}).json()["fields"][0][
            "value"
        ]
        == "Shipped"
    )
    # Saving again overwrites knowingly.
    response = root_client.post(
        f"{ORDERS}{order.pk}/change/", {**mine, TOLD_FIELD: told_input(html)}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, str(order.amount)) == ("paid", "99.00")


def test_saving_again_overwrites_only_what_the_user_was_told_of(root_client):
    """Told that the status changed, I save again; meanwhile it changed once more, and the
    amount too: I am asked again, about both."""
    order = factories.order(status="new", amount="10.00")
    version, _ = loaded(root_client, order)
    Order.objects.filter(pk=order.pk).update(status="shipped")
    mine = form_data(order, version, status="paid", amount="99.00")
    told = told_input(root_client.post(f"{ORDERS}{order.pk}/change/", mine).content.decode())
    Order.objects.filter(pk=order.pk).update(status="cancelled", amount="12.00")
    html = root_client.post(f"{ORDERS}{order.pk}/change/", {**mine, TOLD_FIELD: told}).content
    assert "since you opened it: Status, Amount." in html.decode()
    order.refresh_from_db()
    assert (order.status, str(order.amount)) == ("cancelled", "12.00")


def test_the_same_change_as_theirs_is_no_conflict(root_client):
    order = factories.order(status="new")
    version, _ = loaded(root_client, order)
    Order.objects.filter(pk=order.pk).update(status="shipped")
    response = root_client.post(
        f"{ORDERS}{order.pk}/change/", form_data(order, version, status="shipped")
    )
    assert response.status_code == 302


def test_a_date_time_left_alone_is_kept_in_any_time_zone(root_client, settings):
    """The form's input is in the user's time zone, the saved value in UTC: still the same."""
    settings.TIME_ZONE = "America/New_York"
    order = factories.order(status="new", amount="10.00")
    version, _ = loaded(root_client, order)
    later = order.created_at + datetime.timedelta(days=1)
    Order.objects.filter(pk=order.pk).update(created_at=later)  # someone else
    local = timezone.localtime(order.created_at)
    mine = form_data(
        order,
        version,
        amount="99.00",
        created_at_0=local.strftime("%Y-%m-%d"),
        created_at_1=local.strftime("%H:%M:%S"),
    )
    response = root_client.post(f"{ORDERS}{order.pk}/change/", mine)
    assert response.status_code == 302, response.context["errors"]
    order.refresh_from_db()
    assert order.created_at == later
    assert str(order.amount) == "99.00"


@pytest.mark.django_db(transaction=True)
def test_a_save_committed_while_mine_is_checked_is_seen_not_overwritten(root_client):
    """Someone else's save of the row is under way when mine is posted: the admin reads the
    row before theirs commits, but the check waits for it (the row is locked on PostgreSQL;
    SQLite's IMMEDIATE transactions, as tests/settings.py sets, wait at their start)."""
    order = factories.order(status="new", amount="10.00")
    version, _ = loaded(root_client, order)
    theirs_written = threading.Event()

    def someone_else():
        try:
            with transaction.atomic():
                Order.objects.filter(pk=order.pk).update(status="shipped")
                theirs_written.set()
                time.sleep(1)  # meanwhile my save starts and reads the row
        finally:
            connections.close_all()

    thread = threading.Thread(target=someone_else)
    thread.start()
    assert theirs_written.wait(10)
    started = time.monotonic()
    response = root_client.post(
        f"{ORDERS}{order.pk}/change/", form_data(order, version, amount="99.00")
    )
    thread.join()
    assert time.monotonic() - started > 0.5  # it did wait for their transaction
    assert response.status_code == 302
    order.refresh_from_db()  # their status is kept: my save did not read it before it was in
    assert (order.status, str(order.amount)) == ("shipped", "99.00")


def test_a_save_on_the_current_version_or_without_one_is_the_stock_save(root_client):
    order = factories.order(status="new")
    version, _ = loaded(root_client, order)
    response = root_client.post(
        f"{ORDERS}{order.pk}/change/", form_data(order, version, status="paid")
    )
    assert response.status_code == 302
    # A form posted without the hidden input (a page from before the app, a script): no check.
    Order.objects.filter(pk=order.pk).update(status="shipped")
    response = root_client.post(f"{ORDERS}{order.pk}/change/", form_data(order, None, status="new"))
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "new"


def test_a_damaged_version_on_save_is_a_form_error_that_keeps_the_input(root_client):
    """Until the page is reloaded: the version its input was made on is lost, so no save of
    it can be checked."""
    order = factories.order(status="new")
    data = form_data(order, '"><b>garbage!', amount="42.00")
    for _ in range(2):
        response = root_client.post(f"{ORDERS}{order.pk}/change/", data)
        assert response.status_code == 200
        html = response.content.decode()
        assert "version marker is damaged" in html
        assert 'value="42.00"' in html
        data[VERSION_FIELD] = re.search(rf'name="{VERSION_FIELD}" value="([^"]*)"', html).group(1)
        assert data[VERSION_FIELD] == "&quot;&gt;&lt;b&gt;garbage!"  # carried on, escaped
        data[VERSION_FIELD] = '"><b>garbage!'  # (as the browser posts it back)
    order.refresh_from_db()
    assert str(order.amount) == "10.00"


def test_a_damaged_told_input_is_told_nothing(root_client):
    order = factories.order(status="new")
    version, _ = loaded(root_client, order)
    Order.objects.filter(pk=order.pk).update(status="shipped")
    data = {**form_data(order, version, status="paid"), TOLD_FIELD: "garbage!"}
    response = root_client.post(f"{ORDERS}{order.pk}/change/", data)
    assert "since you opened it: Status." in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_changes_made_in_the_admin_name_their_user(root_client, monkeypatch):
    from realtime_admin import bus

    published = []
    monkeypatch.setattr(bus, "publish", lambda changes, by=None: published.append(by))
    order = factories.order(status="new")
    published.clear()
    version, _ = loaded(root_client, order)
    response = root_client.post(
        f"{ORDERS}{order.pk}/change/", form_data(order, version, status="paid")
    )
    assert response.status_code == 302
    assert published and published[0] == {"id": root_client.user.pk, "name": "root"}


ASYNC_CUSTOMERS = "/async-admin/shop/customer/"  # tests/async_site.py: orders as an inline


def customer_form(customer, version: str, orders=(), **changes) -> dict:
    """The async site's customer change form as posted, with its orders inline unchanged."""
    data = {
        "name": customer.name,
        "email": customer.email,
        "city": customer.city,
        "orders-TOTAL_FORMS": str(len(orders) + 1),
        "orders-INITIAL_FORMS": str(len(orders)),
        "orders-MIN_NUM_FORMS": "0",
        "orders-MAX_NUM_FORMS": "1000",
        VERSION_FIELD: version,
        **changes,
    }
    for index, order in enumerate(orders):
        data[f"orders-{index}-id"] = str(order.pk)
        data[f"orders-{index}-customer"] = str(customer.pk)
        data[f"orders-{index}-number"] = order.number
        data[f"orders-{index}-amount"] = str(order.amount)
    return data


def test_a_changed_inline_is_listed_and_asks_before_a_save(root_client):
    customer = factories.customer("Grace Hopper", "Arlington")
    order = factories.order(customer=customer, number="H-1", amount="5.00")
    html = root_client.get(f"{ASYNC_CUSTOMERS}{customer.pk}/change/").content.decode()
    version = re.search(rf'name="{VERSION_FIELD}" value="([^"]*)"', html).group(1)
    assert "_inline_orders" in decode(version)
    url = f"{ASYNC_CUSTOMERS}{customer.pk}/__live__/"
    assert root_client.get(url, {"version": version}).json()["state"] == "same"

    Order.objects.filter(pk=order.pk).update(amount="7.00")  # someone else, on a row inline
    answer = root_client.get(url, {"version": version}).json()
    assert answer["fields"] == [
        {
            "name": "_inline_orders",
            "label": "Orders",
            "value": "1 order: H-1",
            "editable": True,
            "selector": '[id="orders-group"]',
        }
    ]
    # Saving the customer (only its city changed here) would save the inline as loaded:
    # it asks first, naming the inline.
    order.amount = "5.00"
    data = customer_form(customer, version, [order], city="Boston")
    response = root_client.post(f"{ASYNC_CUSTOMERS}{customer.pk}/change/", data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "since you opened it: Orders." in html
    order.refresh_from_db()
    assert str(order.amount) == "7.00"
    # Saving again, told, overwrites the inline as the page shows it.
    response = root_client.post(
        f"{ASYNC_CUSTOMERS}{customer.pk}/change/", {**data, TOLD_FIELD: told_input(html)}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert str(order.amount) == "5.00"


@pytest.mark.parametrize("page", ["order", "customer"])
def test_the_version_costs_the_change_form_no_query(root_client, monkeypatch, page):
    """Worked out from what the page reads anyway (its form's initial data, its inline
    formsets): Django's own admin tests count the queries of a change form."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from realtime_admin.templatetags import realtime_admin as tags

    customer = factories.customer()
    order = factories.order(customer=customer)
    order.tags.create(name="gift")
    url = (
        f"{ORDERS}{order.pk}/change/"
        if page == "order"
        else f"{ASYNC_CUSTOMERS}{customer.pk}/change/"
    )

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert root_client.get(url).status_code == 200
        return len(captured)

    queries()  # warm the caches (content types, the site's permissions)
    with_version = queries()
    monkeypatch.setattr(tags, "version_of", lambda *args, **kwargs: {})
    assert with_version == queries()


def test_a_masked_field_is_named_never_shown_and_never_refuses_a_save(client):
    """A password hash: the stock page shows a summary, never the hash. Its change is told
    without its value, and a save (which cannot overwrite it) is not held up by it."""
    from django.contrib.auth import get_user_model

    root = factories.superuser()
    viewer = factories.staff("viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_user"))
    bob = factories.staff("bob")
    url = f"/admin/auth/user/{bob.pk}/"
    for user in (root, viewer):
        client.force_login(user)
        html = client.get(f"{url}change/").content.decode()
        version = re.search(rf'name="{VERSION_FIELD}" value="([^"]*)"', html).group(1)
        bob.set_password("a new one")
        bob.save()
        answer = client.get(f"{url}__live__/", {"version": version}).json()
        password = [part for part in answer["fields"] if part["name"] == "password"]
        assert password and password[0]["value"] is None, answer
        assert password[0]["editable"] is False
        assert bob.password not in json.dumps(answer)

    client.force_login(root)
    html = client.get(f"{url}change/").content.decode()
    version = re.search(rf'name="{VERSION_FIELD}" value="([^"]*)"', html).group(1)
    bob.set_password("yet another")
    bob.save()
    data = {
        "username": "bob",
        "first_name": "Robert",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "is_staff": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": bob.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": bob.date_joined.strftime("%H:%M:%S"),
        VERSION_FIELD: version,
    }
    response = client.post(f"{url}change/", data)
    assert response.status_code == 302, response.context["errors"]
    assert get_user_model().objects.get(pk=bob.pk).first_name == "Robert"


def test_the_check_is_told_even_when_the_forms_own_clean_fails(root_client, monkeypatch):
    """A form whose clean() rejects the input: the page it returns to still says what the
    save would overwrite, and a later save on it is still checked."""
    from django import forms
    from django.contrib import admin

    class PickyForm(forms.ModelForm):
        def clean(self):
            cleaned = super().clean()
            if cleaned.get("amount") is not None and cleaned["amount"] < 0:
                raise forms.ValidationError("No negative amounts.")
            return cleaned

    monkeypatch.setattr(admin.site._registry[Order], "form", PickyForm)
    order = factories.order(status="new", amount="10.00")
    version, _ = loaded(root_client, order)
    Order.objects.filter(pk=order.pk).update(status="shipped")  # someone else
    response = root_client.post(
        f"{ORDERS}{order.pk}/change/", form_data(order, version, status="paid", amount="-5.00")
    )
    html = response.content.decode()
    assert "No negative amounts." in html
    assert "Someone else changed this order since you opened it: Status." in html


def test_an_unrefused_page_keeps_the_version_it_was_loaded_with(root_client):
    """A save refused for the user's own mistake, with no conflict yet: the page goes on
    carrying the version it was loaded with, so a change made since is still caught."""
    order = factories.order(status="new", amount="10.00")
    version, _ = loaded(root_client, order)
    response = root_client.post(
        f"{ORDERS}{order.pk}/change/", form_data(order, version, amount="not a number")
    )
    carried = re.search(rf'name="{VERSION_FIELD}" value="([^"]*)"', response.content.decode())
    assert carried.group(1) == version
    Order.objects.filter(pk=order.pk).update(status="shipped")  # someone else, now
    response = root_client.post(
        f"{ORDERS}{order.pk}/change/",
        form_data(order, carried.group(1), status="paid", amount="11.00"),
    )
    assert "since you opened it: Status." in response.content.decode()


def test_two_inlines_of_one_model_are_two_parts(root_client, monkeypatch):
    from tests.async_site import OrderInline, site

    class BigOrderInline(OrderInline):
        verbose_name_plural = "big orders"

    customer_admin = site._registry[type(factories.customer())]
    monkeypatch.setattr(customer_admin, "inlines", [OrderInline, BigOrderInline])
    customer = factories.customer("Grace Hopper", "Arlington")
    order = factories.order(customer=customer, number="H-1", amount="5.00")
    html = root_client.get(f"{ASYNC_CUSTOMERS}{customer.pk}/change/").content.decode()
    version = re.search(rf'name="{VERSION_FIELD}" value="([^"]*)"', html).group(1)
    assert {"_inline_orders", "_inline_orders_2"} <= set(decode(version))
    url = f"{ASYNC_CUSTOMERS}{customer.pk}/__live__/"
    assert root_client.get(url, {"version": version}).json()["state"] == "same"
    Order.objects.filter(pk=order.pk).update(amount="7.00")
    fields = root_client.get(url, {"version": version}).json()["fields"]
    assert [(part["label"], part["selector"]) for part in fields] == [
        ("Orders", '[id="orders-group"]'),
        ("Big orders", '[id="orders-2-group"]'),
    ]


def test_a_kept_field_is_what_the_forms_own_cleaning_sees(root_client, monkeypatch):
    """clean_<field>() and clean() see the merged values, as the stock form would give them
    (a queryset of a many-to-many field)."""
    from django import forms
    from django.contrib import admin

    class ShippedStaysShipped(forms.ModelForm):
        def clean_status(self):
            if self.initial["status"] == "shipped" != self.cleaned_data["status"]:
                raise forms.ValidationError("A shipped order stays shipped.")
            return self.cleaned_data["status"]

        def clean(self):
            cleaned = super().clean()
            self.gifts = list(cleaned["tags"].filter(name="gift"))
            return cleaned

    monkeypatch.setattr(admin.site._registry[Order], "form", ShippedStaysShipped)
    order = factories.order(status="new", amount="10.00")
    version, _ = loaded(root_client, order)
    Order.objects.filter(pk=order.pk).update(status="shipped")  # someone else
    order.tags.add(Tag.objects.create(name="gift"))
    response = root_client.post(
        f"{ORDERS}{order.pk}/change/", form_data(order, version, amount="99.00")
    )
    assert response.status_code == 302, response.context["errors"]
    order.refresh_from_db()
    assert (order.status, str(order.amount), order.tags.count()) == ("shipped", "99.00", 1)


def test_text_as_the_form_cleans_it_is_not_taken_for_a_change(root_client):
    """Saved by a script with a trailing space, shown and posted back as is, stripped by the
    form: still the value the user loaded."""
    customer = factories.customer("Grace Hopper", "Arlington ")
    html = root_client.get(f"{ASYNC_CUSTOMERS}{customer.pk}/change/").content.decode()
    version = re.search(rf'name="{VERSION_FIELD}" value="([^"]*)"', html).group(1)
    type(customer).objects.filter(pk=customer.pk).update(city="Boston")  # someone else
    data = customer_form(customer, version, name="Grace B. Hopper")
    response = root_client.post(f"{ASYNC_CUSTOMERS}{customer.pk}/change/", data)
    assert response.status_code == 302, response.context["errors"]
    customer.refresh_from_db()
    assert (customer.name, customer.city) == ("Grace B. Hopper", "Boston")


@pytest.mark.parametrize("hook", ["get_fields", "get_readonly_fields"])
def test_a_field_the_loaded_page_did_not_let_the_user_edit_is_kept(root_client, monkeypatch, hook):
    """The owner is shown only on paid orders (get_fields), or read-only unless the order is
    paid (get_readonly_fields): someone else pays the order and sets its owner; my save,
    from a page without an owner field (or with a read-only one), keeps their owner."""
    from django.contrib import admin

    order_admin = admin.site._registry[Order]
    stock = getattr(order_admin, hook)

    def paid(obj) -> bool:
        return obj is not None and obj.status == "paid"

    def hidden_owner(request, obj=None):
        return [name for name in stock(request, obj) if name != "owner" or paid(obj)]

    def read_only_owner(request, obj=None):
        return [*stock(request, obj), *([] if paid(obj) else ["owner"])]

    narrowed = hidden_owner if hook == "get_fields" else read_only_owner
    monkeypatch.setattr(order_admin, hook, narrowed)
    alice, bob = factories.staff("alice"), factories.staff("bob")
    order = factories.order(status="new", amount="10.00", owner=bob)
    version, _ = loaded(root_client, order)
    Order.objects.filter(pk=order.pk).update(status="paid", owner=alice)  # someone else
    mine = form_data(order, version, amount="99.00")
    del mine["owner"]  # not on my page, or read-only there
    response = root_client.post(f"{ORDERS}{order.pk}/change/", mine)
    assert response.status_code == 302, response.context["errors"]
    order.refresh_from_db()
    assert (order.status, order.owner, str(order.amount)) == ("paid", alice, "99.00")


def test_nothing_is_said_kept_when_the_save_fails_on_an_inline(root_client):
    customer = factories.customer("Grace Hopper", "Arlington")
    order = factories.order(customer=customer, number="H-1", amount="5.00")
    html = root_client.get(f"{ASYNC_CUSTOMERS}{customer.pk}/change/").content.decode()
    version = re.search(rf'name="{VERSION_FIELD}" value="([^"]*)"', html).group(1)
    type(customer).objects.filter(pk=customer.pk).update(city="Boston")  # someone else
    data = customer_form(customer, version, [order], name="Grace B. Hopper")
    data["orders-0-amount"] = "not a number"
    response = root_client.post(f"{ASYNC_CUSTOMERS}{customer.pk}/change/", data)
    assert response.status_code == 200
    assert "their change is kept" not in response.content.decode()
    data["orders-0-amount"] = "5.00"
    response = root_client.post(f"{ASYNC_CUSTOMERS}{customer.pk}/change/", data, follow=True)
    assert "Someone else changed City since you opened this customer" in (response.content.decode())


@pytest.mark.parametrize("field", ["owner", "tags"])
def test_a_field_read_only_on_the_loaded_page_keeps_its_saved_value(
    root_client, monkeypatch, field
):
    """The field is read-only until the order is paid. Someone else pays it; my page showed
    the field read-only, so it posts nothing for it, and now the form would take that for
    "empty". The save keeps the field as saved, whoever changed it."""
    read_only_once_paid(monkeypatch, field, until_paid=True)
    bob = factories.staff("bob")
    order = factories.order(status="new", owner=bob)
    order.tags.add(Tag.objects.create(name="gift"))
    version, _ = loaded(root_client, order)
    assert f"-{field}:" in version  # shown, not editable
    Order.objects.filter(pk=order.pk).update(status="paid")
    mine = form_data(order, version, amount="99.00", tags=[tag.pk for tag in order.tags.all()])
    del mine[field]  # not posted by a page that shows it read-only
    response = root_client.post(f"{ORDERS}{order.pk}/change/", mine)
    assert response.status_code == 302, response.context["errors"]
    order.refresh_from_db()
    assert (order.status, str(order.amount), order.owner) == ("paid", "99.00", bob)
    assert [tag.name for tag in order.tags.all()] == ["gift"]


def test_a_change_to_a_field_that_became_read_only_is_refused_once_not_dropped(
    root_client, monkeypatch
):
    """The amount is read-only once the order is paid. I change the amount; meanwhile
    someone else pays the order. The stock admin would save the rest and drop my amount
    without a word: the save is refused once and says so; saving again saves the rest."""
    read_only_once_paid(monkeypatch, "amount")
    order = factories.order(status="new", amount="10.00", number="A-1")
    version, _ = loaded(root_client, order)
    Order.objects.filter(pk=order.pk).update(status="paid")
    mine = form_data(order, version, amount="99.00", number="A-2")
    mine.pop("status")  # (so as not to conflict over the status too)
    response = root_client.post(f"{ORDERS}{order.pk}/change/", mine)
    assert response.status_code == 200
    assert "and Amount can no longer be edited: your change to it is not saved." in (
        response.content.decode()
    )
    order.refresh_from_db()
    assert (order.number, str(order.amount)) == ("A-1", "10.00")  # nothing saved yet
    told = told_input(response.content.decode())
    response = root_client.post(f"{ORDERS}{order.pk}/change/", {**mine, TOLD_FIELD: told})
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.number, str(order.amount)) == ("paid", "A-2", "10.00")


def test_a_field_left_alone_that_became_read_only_refuses_nothing(root_client, monkeypatch):
    read_only_once_paid(monkeypatch, "amount")
    order = factories.order(status="new", amount="10.00", number="A-1")
    version, _ = loaded(root_client, order)
    Order.objects.filter(pk=order.pk).update(status="paid")
    mine = form_data(order, version, number="A-2")
    mine.pop("status")
    assert root_client.post(f"{ORDERS}{order.pk}/change/", mine).status_code == 302
    order.refresh_from_db()
    assert (order.status, order.number, str(order.amount)) == ("paid", "A-2", "10.00")


def test_a_page_a_failed_save_returns_to_shows_what_it_could_not_edit_as_saved(
    root_client, monkeypatch
):
    """The amount was read-only on my page, and is editable now (someone paid the order).
    My save fails on another field: the page it returns to shows the amount as saved,
    disabled (my page posted none, and the stock admin would show an empty input), and
    says so in its version: saving from there keeps it."""
    read_only_once_paid(monkeypatch, "amount", until_paid=True)
    order = factories.order(status="new", amount="10.00")
    version, _ = loaded(root_client, order)
    assert "-amount:" in version
    Order.objects.filter(pk=order.pk).update(status="paid")
    mine = form_data(order, version, number="")  # a required field left empty
    del mine["amount"], mine["status"]
    html = root_client.post(f"{ORDERS}{order.pk}/change/", mine).content.decode()
    assert re.search(r'<input[^>]*name="amount"[^>]*value="10.00"[^>]*disabled', html)
    assert "-amount:" in version_input(html)
    again = {**mine, "number": "A-9", "amount": "99.00", VERSION_FIELD: version_input(html)}
    assert root_client.post(f"{ORDERS}{order.pk}/change/", again).status_code == 302
    order.refresh_from_db()
    assert (order.number, str(order.amount)) == ("A-9", "10.00")


def test_a_field_shown_read_only_after_a_refusal_is_not_taken_for_a_lost_change(
    root_client, monkeypatch
):
    """Tags were editable on my page; someone else pays the order (tags become read-only)
    and changes the amount, as I do. Refused once for the amount, the page shows the tags
    read-only and posts none: saving again is not refused over tags I never touched."""
    read_only_once_paid(monkeypatch, "tags")
    order = factories.order(status="new", amount="10.00")
    order.tags.add(Tag.objects.create(name="gift"))
    version, _ = loaded(root_client, order)
    Order.objects.filter(pk=order.pk).update(status="paid", amount="12.00")
    mine = form_data(order, version, amount="99.00", tags=[tag.pk for tag in order.tags.all()])
    mine.pop("status")
    html = root_client.post(f"{ORDERS}{order.pk}/change/", mine).content.decode()
    assert "since you opened it: Amount." in html and "-tags:" in version_input(html)
    again = {**mine, VERSION_FIELD: version_input(html), TOLD_FIELD: told_input(html)}
    del again["tags"]  # shown read-only now: not posted
    response = root_client.post(f"{ORDERS}{order.pk}/change/", again)
    assert response.status_code == 302, response.context["errors"]
    order.refresh_from_db()
    assert (str(order.amount), [tag.name for tag in order.tags.all()]) == ("99.00", ["gift"])
