"""``async def`` ModelAdmin hooks through realtime_admin.AsyncModelAdmin (tests/async_site.py),
driven through the admin's own views: in the test client (no event loop) and through
Django's ASGI handler. And check E005 for async hooks Django would drop."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib import admin
from django.contrib.admin.sites import AdminSite
from django.test import AsyncClient
from shop.models import Customer, Order, Tag

from realtime_admin import AsyncHooks, AsyncModelAdmin
from realtime_admin.async_admin import run_to_completion
from realtime_admin.checks import check_async_hooks
from tests import async_site, factories

CUSTOMERS = "/async-admin/shop/customer/"


@pytest.fixture(autouse=True)
def ran():
    async_site.ran.clear()
    return async_site.ran


def hooks(ran) -> list[str]:
    return [hook for hook, _ in ran]


def add_form(**fields) -> dict:
    """The add form of a customer, with one inline order."""
    return {
        "name": "Grace Hopper",
        "email": "",
        "city": "Arlington",
        "orders-TOTAL_FORMS": "1",
        "orders-INITIAL_FORMS": "0",
        "orders-MIN_NUM_FORMS": "0",
        "orders-MAX_NUM_FORMS": "1000",
        "orders-0-number": "H-1",
        "orders-0-amount": "12.50",
        **fields,
    }


@pytest.mark.django_db(transaction=True)  # no test transaction around the admin's own
def test_saving_runs_the_async_save_hooks_inside_the_admins_transaction(admin_client, ran):
    response = admin_client.post(CUSTOMERS + "add/", add_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    customer = Customer.objects.get(name="Grace Hopper")
    assert customer.email == "admin@example.com"  # save_model ran (admin_client's user)
    assert [o.status for o in customer.orders.all()] == ["paid"]  # save_formset ran
    saving = [(hook, atomic) for hook, atomic in ran if hook.startswith("save")]
    assert saving == [("save_model", True), ("save_related", True), ("save_formset", True)]
    async_site.ran.clear()
    admin_client.get(CUSTOMERS)  # the changelist: no transaction
    assert ("get_queryset", False) in async_site.ran


@pytest.mark.django_db(transaction=True)
def test_a_failing_save_hook_rolls_the_whole_save_back(admin_client, monkeypatch):
    async def fail(self, request, form, formset, change):
        raise RuntimeError("mail server down")

    # save_formset fails, after save_model has saved the customer.
    monkeypatch.setattr(async_site.AsyncCustomerAdmin, "save_formset", run_to_completion(fail))
    with pytest.raises(RuntimeError, match="mail server down"):
        admin_client.post(CUSTOMERS + "add/", add_form())
    assert not Customer.objects.filter(name="Grace Hopper").exists()  # save_model undone


@pytest.mark.django_db
def test_the_change_view_gets_its_object_and_permission_from_async_hooks(admin_client, ran):
    customer = factories.customer()
    locked = factories.customer("Linus", "Locked")
    page = admin_client.get(f"{CUSTOMERS}{customer.pk}/change/")
    assert page.status_code == 200
    assert {"get_object", "has_change_permission", "has_view_permission"} <= set(hooks(ran))
    assert b'name="_save"' in page.content
    # has_change_permission(obj) says no for this one: the form is read-only.
    assert b'name="_save"' not in admin_client.get(f"{CUSTOMERS}{locked.pk}/change/").content
    assert admin_client.post(f"{CUSTOMERS}{locked.pk}/change/", {}).status_code == 403
    hidden = factories.customer("Hidden Figure")  # left out by the async get_queryset
    assert admin_client.get(f"{CUSTOMERS}{hidden.pk}/change/").status_code == 302


@pytest.mark.django_db
def test_the_changelist_uses_the_async_queryset_and_search(admin_client, ran):
    factories.customer("Ada Lovelace", "London")
    factories.customer("Grace Hopper", "Arlington")
    factories.customer("Hidden Figure", "London")
    page = admin_client.get(CUSTOMERS, {"q": "london"})
    rows = page.context["cl"].result_list
    assert [c.name for c in rows] == ["Ada Lovelace"]  # by city; Hidden left out
    assert {"get_queryset", "get_search_results"} <= set(hooks(ran))


@pytest.mark.django_db
def test_deleting_one_and_many_runs_the_async_delete_hooks(admin_client, ran):
    one, two, three = (factories.customer(name, "Paris") for name in ("A", "B", "C"))
    response = admin_client.post(f"{CUSTOMERS}{one.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert Customer.objects.get(pk=one.pk).name == "Deleted A"  # delete_model: renamed
    data = {"action": "delete_selected", "_selected_action": [two.pk, three.pk], "post": "yes"}
    response = admin_client.post(CUSTOMERS, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert set(Customer.objects.filter(name__in="BC").values_list("city", flat=True)) == {""}
    assert {"delete_model", "delete_queryset", "has_delete_permission"} <= set(hooks(ran))


@pytest.mark.django_db
def test_async_permission_hooks_decide_who_gets_in(client, ran):
    staff = factories.staff("sam", "view_customer", "change_customer")
    client.force_login(staff)
    assert client.get(CUSTOMERS).status_code == 403  # the async hooks say superusers only
    index = client.get("/async-admin/")
    assert b"/async-admin/shop/customer/" not in index.content
    assert "has_module_permission" in hooks(ran)


@pytest.mark.django_db(transaction=True)
async def test_async_hooks_run_through_the_asgi_handler(ran):
    user = await sync_to_async(factories.superuser)("asgi")
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.post(CUSTOMERS + "add/", add_form())
    assert response.status_code == 302
    customer = await Customer.objects.aget(name="Grace Hopper")
    assert customer.email == "asgi@example.com"
    assert [o.status async for o in Order.objects.filter(customer=customer)] == ["paid"]
    assert ("save_model", True) in ran


def test_an_async_hook_calls_another_by_awaiting_it():
    """From async code a wrapped hook hands back its coroutine (get_object awaits
    get_queryset above); from sync code it runs it."""
    model_admin = async_site.site._registry[Customer]
    assert hasattr(type(model_admin).get_queryset, "__wrapped__")


class PlainWithAsyncHook(admin.ModelAdmin):
    async def save_model(self, request, obj, form, change):
        await obj.asave()


class PlainWithAsyncAction(admin.ModelAdmin):
    actions = ["go"]

    async def go(self, request, queryset):
        pass


class MixedIn(AsyncModelAdmin):
    async def has_add_permission(self, request):
        return False


def test_check_e005_flags_async_hooks_django_would_drop_and_nothing_else():
    site = AdminSite(name="checked")
    site.register(Tag, PlainWithAsyncHook)
    site.register(Order, PlainWithAsyncAction)
    site.register(Customer, MixedIn)
    errors = [e for e in check_async_hooks(None) if e.obj in (PlainWithAsyncHook,)]
    assert [e.id for e in errors] == ["realtime_admin.E005"]
    assert "save_model" in errors[0].msg and "AsyncModelAdmin" in errors[0].hint
    flagged = {e.obj for e in check_async_hooks(None)}
    assert PlainWithAsyncAction not in flagged and MixedIn not in flagged


class StampsTheCity:
    """A mixin of the user's own with an async hook, used before AsyncModelAdmin."""

    async def save_model(self, request, obj, form, change):
        obj.city = "Stamped"
        await obj.asave()


class StampingCustomerAdmin(StampsTheCity, AsyncModelAdmin):
    pass


@pytest.mark.django_db
def test_an_async_hook_inherited_from_a_mixin_runs(rf):
    model_admin = StampingCustomerAdmin(Customer, AdminSite(name="stamping"))
    request = rf.post("/")
    request.user = factories.superuser()
    model_admin.save_model(request, Customer(name="Grace Hopper", city="Arlington"), None, False)
    assert Customer.objects.filter(name="Grace Hopper", city="Stamped").exists()
    assert StampingCustomerAdmin not in {e.obj for e in check_async_hooks(None)}


class NoDeletingOrders(admin.TabularInline):
    model = Order
    fields = ["number", "amount"]

    async def has_delete_permission(self, request, obj=None):
        return False


class AsyncNoDeletingOrders(AsyncHooks, NoDeletingOrders):
    pass


@pytest.mark.django_db
def test_an_async_permission_of_an_inline_with_async_hooks_runs(rf):
    site = AdminSite(name="inlines")
    site.register(Customer, AsyncModelAdmin, inlines=[AsyncNoDeletingOrders])
    try:
        request = rf.get("/")
        request.user = factories.superuser()
        customer = factories.customer()
        model_admin = site._registry[Customer]
        [formset] = [f for f, _ in model_admin.get_formsets_with_inlines(request, customer)]
        errors = [e for e in check_async_hooks(None) if e.obj is AsyncNoDeletingOrders]
    finally:
        site.unregister(Customer)  # (the checks of other tests look at every site)
    assert formset.can_delete is False and errors == []


def test_an_async_permission_of_an_inline_without_async_hooks_is_reported():
    """Django would take its coroutine for yes (a coroutine is truthy)."""
    site = AdminSite(name="inlines")
    site.register(Customer, AsyncModelAdmin, inlines=[NoDeletingOrders])
    try:
        errors = [e for e in check_async_hooks(None) if e.obj is NoDeletingOrders]
    finally:
        site.unregister(Customer)
    assert [e.id for e in errors] == ["realtime_admin.E005"]
    assert "has_delete_permission" in errors[0].msg and "AsyncHooks" in errors[0].hint
