import asyncio
import csv
import time

from django.contrib import admin, messages
from django.http import HttpResponse

from realtime_admin import background_action

from .models import Coupon, Customer, OpenOrder, Order, Tag

try:  # Django 6.1+: an action may also be offered on the change form
    from django.contrib.admin.options import ActionLocation

    ALSO_ON_THE_CHANGE_FORM = {"location": [ActionLocation.CHANGE_LIST, ActionLocation.CHANGE_FORM]}
except ImportError:
    ALSO_ON_THE_CHANGE_FORM = {}


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "customer", "status", "amount_display", "owner", "created_at"]
    list_filter = ["status", "owner"]
    search_fields = ["number", "customer__name"]
    date_hierarchy = "created_at"
    list_select_related = ["customer", "owner"]
    list_per_page = 25
    actions = ["mark_paid", "mark_shipped", "recalculate", "email_customers"]

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj: Order) -> str:
        return f"${obj.amount:,.2f}"

    @admin.action(description="Mark selected orders as paid")
    def mark_paid(self, request, queryset):
        updated = 0
        for order in queryset.exclude(status=Order.Status.PAID):
            order.status = Order.Status.PAID
            order.save(update_fields=["status"])
            updated += 1
        self.message_user(request, f"{updated} orders marked as paid.", messages.SUCCESS)

    @admin.action(description="Mark selected orders as shipped (async)", permissions=["change"])
    async def mark_shipped(self, request, queryset):
        # An async def action: Django alone would never run this body (realtime_admin does).
        shipped = 0
        async for order in queryset.exclude(status=Order.Status.SHIPPED):
            order.status = Order.Status.SHIPPED
            await order.asave(update_fields=["status"])
            shipped += 1
        self.message_user(request, f"{shipped} orders marked as shipped.", messages.SUCCESS)

    @admin.action(description="Recalculate amounts (in the background)", **ALSO_ON_THE_CHANGE_FORM)
    @background_action
    def recalculate(self, job, queryset):
        count = 0
        for order in job.track(queryset):
            time.sleep(0.4)  # stands for slow work
            order.save(update_fields=["amount"])
            count += 1
        return f"Recalculated {count} order{'' if count == 1 else 's'}."

    @admin.action(description="Email the customers (in the background, async)")
    @background_action
    async def email_customers(self, job, queryset):
        count = 0
        async for order in job.track(queryset.select_related("customer")):
            await asyncio.sleep(0.3)  # stands for an SMTP call
            print(f"Emailed {order.customer.email} about {order.number}")
            count += 1
        return f"Emailed {count} customer{'' if count == 1 else 's'}."

    def get_queryset(self, request):
        # A row-level rule: account managers see their own orders only.
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(owner=request.user)


@admin.action(description="Export selected customers as CSV (async)")
async def export_as_csv(modeladmin, request, queryset):
    """An async def action that answers with its own response."""
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="customers.csv"'
    writer = csv.writer(response)
    writer.writerow(["name", "email", "city"])
    async for customer in queryset.order_by("name"):
        writer.writerow([customer.name, customer.email, customer.city])
    return response


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "city"]
    list_editable = ["city"]
    list_filter = ["city"]
    search_fields = ["name", "email"]
    actions = [export_as_csv]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name"]


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    list_display = ["code", "description", "percent_off"]
    search_fields = ["code", "description"]


@admin.register(OpenOrder)
class OpenOrderAdmin(admin.ModelAdmin):
    list_display = ["number", "customer", "status", "created_at"]
    list_filter = ["status", ("customer", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["customer"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status__in=["new", "paid"])
