"""A second admin site only superusers may enter, registering Order without row rules."""

from django.contrib import admin
from shop.models import Order


class VipSite(admin.AdminSite):
    def has_permission(self, request):
        return request.user.is_active and request.user.is_superuser


vip_site = VipSite(name="vip")
vip_site.register(Order)
