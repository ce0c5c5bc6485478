"""Admin sites whose Order rules the socket finds hard (imported by the tests that use them):

- "team": staff see the orders of their team's city (the user's last name), a rule that
  changes when the user moves, with no change to any order;
- "url_bound": the rule reads the request's URL, as multi-tenant admins do; the socket's
  request has none, so there it raises.
"""

from django.contrib import admin
from shop.models import Order


class TeamOrderAdmin(admin.ModelAdmin):
    def get_queryset(self, request):
        return super().get_queryset(request).filter(customer__city=request.user.last_name)


class UrlBoundOrderAdmin(admin.ModelAdmin):
    def get_queryset(self, request):
        request.resolver_match.url_name  # noqa: B018 (None on a socket's request)
        return super().get_queryset(request).filter(owner=request.user)


team_site = admin.AdminSite(name="team")
team_site.register(Order, TeamOrderAdmin)
url_bound_site = admin.AdminSite(name="url_bound")
url_bound_site.register(Order, UrlBoundOrderAdmin)
