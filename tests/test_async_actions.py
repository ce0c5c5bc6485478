"""``async def`` admin actions run to completion inside the request (async_admin.py), in the
test client (no event loop) and through Django's ASGI handler; each shape of action: a
method named in ``actions``, a function in ``actions``, and a site-wide ``add_action``."""

import dataclasses
import warnings

import pytest
from asgiref.sync import iscoroutinefunction, sync_to_async
from django.contrib import admin, messages
from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.test import AsyncClient, RequestFactory
from shop.admin import OrderAdmin, export_as_csv
from shop.models import Customer, Order

from realtime_admin.async_admin import run_to_completion
from tests import factories

ORDERS = "/admin/shop/order/"
CUSTOMERS = "/admin/shop/customer/"


def run_action(client, url: str, action: str, objects, **extra):
    data = {"action": action, "index": 0, "_selected_action": [obj.pk for obj in objects]}
    return client.post(url, {**data, **extra})


def func_of(model_admin, name: str, user):
    """The function the admin will call for action ``name`` (6.1: an Action; before: a
    tuple), as ``get_actions`` lists it for ``user``."""
    request = RequestFactory().get("/")
    request.user = user
    found = model_admin.get_actions(request)[name]
    with warnings.catch_warnings():  # 6.1 deprecates indexing its Action
        warnings.simplefilter("ignore")
        return found.func if dataclasses.is_dataclass(found) else found[0]


@pytest.fixture
def site_action():
    """Register ``func`` as a site-wide action for one test."""
    names = []

    def register(func, name: str):
        admin.site.add_action(func, name)
        names.append(name)

    yield register
    for name in names:
        admin.site._actions.pop(name, None)
        admin.site._global_actions.pop(name, None)


@pytest.mark.django_db
def test_an_async_method_action_runs_to_completion_and_its_messages_show(admin_client):
    orders = [factories.order(), factories.order(), factories.order(status="shipped")]
    response = run_action(admin_client, ORDERS, "mark_shipped", orders)
    assert response.status_code == 302  # None: back to the changelist, as for a sync action
    assert set(Order.objects.values_list("status", flat=True)) == {"shipped"}
    texts = [str(message) for message in get_messages(response.wsgi_request)]
    assert texts == ["2 orders marked as shipped."]


@pytest.mark.django_db
def test_an_async_function_action_returning_a_response_is_sent_as_is(admin_client):
    customers = [factories.customer("Grace Hopper", "Arlington"), factories.customer()]
    response = run_action(admin_client, CUSTOMERS, "export_as_csv", customers)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert response.content.decode().splitlines() == [
        "name,email,city",
        "Ada Lovelace,,London",
        "Grace Hopper,,Arlington",
    ]


@pytest.mark.django_db
def test_a_site_wide_async_action_runs(admin_client, site_action):
    async def rename_to_unknown(modeladmin, request, queryset):
        await queryset.aupdate(name="Unknown")
        modeladmin.message_user(request, "Renamed.", messages.WARNING)

    site_action(rename_to_unknown, "rename_to_unknown")
    customers = [factories.customer()]
    response = run_action(admin_client, CUSTOMERS, "rename_to_unknown", customers)
    assert response.status_code == 302
    assert Customer.objects.get().name == "Unknown"
    assert [m.level for m in get_messages(response.wsgi_request)] == [messages.WARNING]


@pytest.mark.django_db
def test_an_exception_in_an_async_action_surfaces_as_it_would_from_a_sync_one(
    admin_client, site_action
):
    async def explode(modeladmin, request, queryset):
        raise LookupError("no such warehouse")

    site_action(explode, "explode")
    with pytest.raises(LookupError, match="no such warehouse"):
        run_action(admin_client, CUSTOMERS, "explode", [factories.customer()])


@pytest.mark.django_db(transaction=True)
async def test_an_async_action_runs_through_the_asgi_handler():
    user = await sync_to_async(factories.superuser)()
    orders = [await sync_to_async(factories.order)() for _ in range(2)]
    client = AsyncClient()
    await client.aforce_login(user)
    data = {"action": "mark_shipped", "index": 0, "_selected_action": [o.pk for o in orders]}
    response = await client.post(ORDERS, data)
    assert response.status_code == 302
    statuses = [order.status async for order in Order.objects.all()]
    assert statuses == ["shipped", "shipped"]


@pytest.mark.django_db
def test_sync_actions_are_handed_over_untouched_and_async_ones_as_sync_wrappers(site_action):
    async def site_wide(modeladmin, request, queryset):
        pass

    site_action(site_wide, "site_wide")
    root = factories.superuser()
    orders = admin.site._registry[Order]
    assert func_of(orders, "mark_paid", root) is OrderAdmin.mark_paid
    assert func_of(orders, "delete_selected", root) is admin.actions.delete_selected
    wrapper = func_of(orders, "mark_shipped", root)
    assert wrapper is run_to_completion(OrderAdmin.mark_shipped)  # one wrapper per function
    assert not iscoroutinefunction(wrapper)
    assert wrapper.__name__ == "mark_shipped"
    assert wrapper.short_description == "Mark selected orders as shipped (async)"
    assert wrapper.allowed_permissions == ["change"]
    customers = admin.site._registry[Customer]
    assert func_of(customers, "export_as_csv", root) is run_to_completion(export_as_csv)
    assert func_of(customers, "site_wide", root) is run_to_completion(site_wide)


@pytest.mark.django_db
def test_an_async_actions_permissions_still_decide_who_is_offered_it(rf):
    viewer = factories.staff("vera", "view_order")
    editor = factories.staff("eddie", "view_order", "change_order")
    model_admin = admin.site._registry[Order]
    offered = {}
    for user in (viewer, editor):
        request = rf.get(ORDERS)
        request.user = user
        offered[user.username] = set(model_admin.get_actions(request))
    assert "mark_shipped" not in offered["vera"]
    assert "mark_shipped" in offered["eddie"]


def test_a_marked_coroutine_function_gives_a_wrapper_that_is_not_marked():
    from asgiref.sync import markcoroutinefunction

    def looks_sync(modeladmin, request, queryset):
        async def body():
            return HttpResponse("done")

        return body()

    markcoroutinefunction(looks_sync)
    assert iscoroutinefunction(looks_sync)
    wrapper = run_to_completion(looks_sync)
    assert not iscoroutinefunction(wrapper)
    assert wrapper(None, None, None).content == b"done"
