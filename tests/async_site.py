"""An admin site whose ModelAdmins' hooks are all ``async def`` (realtime_admin's
AsyncModelAdmin), mounted at /async-admin/ by tests/async_urls.py.

Each hook records that it ran, and in which transaction state, in ``ran``; each changes
something a test can see, so a hook that was dropped (never awaited) is noticed.
"""

from asgiref.sync import sync_to_async
from django.contrib import admin
from django.db import connection
from shop.admin import export_as_csv
from shop.models import Customer, Order, Tag

from realtime_admin import AsyncModelAdmin

ran: list[tuple[str, bool]] = []  # (hook, whether inside a transaction), in call order


def note(hook: str) -> None:
    ran.append((hook, connection.in_atomic_block))


class OrderInline(admin.TabularInline):
    model = Order
    fields = ["number", "amount"]
    extra = 1


class AsyncCustomerAdmin(AsyncModelAdmin):
    inlines = [OrderInline]
    search_fields = ["name"]
    actions = [export_as_csv]  # an async def function action

    async def get_queryset(self, request):
        await sync_to_async(note)("get_queryset")
        return super().get_queryset(request).exclude(name__startswith="Hidden")

    async def get_search_results(self, request, queryset, search_term):
        await sync_to_async(note)("get_search_results")
        if not search_term:
            return queryset, False
        return queryset.filter(city__iexact=search_term), False  # search by city instead

    async def get_object(self, request, object_id, from_field=None):
        await sync_to_async(note)("get_object")
        return await (await self.get_queryset(request)).filter(pk=object_id).afirst()

    async def save_model(self, request, obj, form, change):
        await sync_to_async(note)("save_model")
        obj.email = f"{request.user.username}@example.com"  # the seed's "modified by"
        await obj.asave()

    async def save_related(self, request, form, formsets, change):
        await sync_to_async(note)("save_related")
        await sync_to_async(super().save_related)(request, form, formsets, change)

    async def save_formset(self, request, form, formset, change):
        await sync_to_async(note)("save_formset")
        for order in await sync_to_async(formset.save)(commit=False):
            order.status = Order.Status.PAID
            await order.asave()

    async def delete_model(self, request, obj):
        await sync_to_async(note)("delete_model")
        obj.name = f"Deleted {obj.name}"  # soft delete: kept, renamed
        await obj.asave()

    async def delete_queryset(self, request, queryset):
        await sync_to_async(note)("delete_queryset")
        await queryset.aupdate(city="")  # bulk "delete": cleared instead

    async def has_view_permission(self, request, obj=None):
        await sync_to_async(note)("has_view_permission")
        return request.user.is_superuser

    async def has_add_permission(self, request):
        await sync_to_async(note)("has_add_permission")
        return request.user.is_superuser

    async def has_change_permission(self, request, obj=None):
        await sync_to_async(note)("has_change_permission")
        return request.user.is_superuser and (obj is None or obj.city != "Locked")

    async def has_delete_permission(self, request, obj=None):
        await sync_to_async(note)("has_delete_permission")
        return request.user.is_superuser

    async def has_module_permission(self, request):
        await sync_to_async(note)("has_module_permission")
        return request.user.is_superuser


async def stamp_city(modeladmin, request, queryset):
    """A site-wide async def action."""
    await queryset.aupdate(city="Stamped")
    modeladmin.message_user(request, "Stamped.")


site = admin.AdminSite(name="async_admin")
site.register(Customer, AsyncCustomerAdmin)
site.register(Tag)
site.add_action(stamp_city, "stamp_city")
