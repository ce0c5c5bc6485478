"""Multi-table inheritance, for the tests that import it: a place and a restaurant (a child
whose pk is its parent link, as by default), both on the "mti" admin site. Their tables are
made by the ``mti_tables`` fixture of tests/test_capture.py."""

from django.contrib import admin
from django.db import models


class Place(models.Model):
    name = models.CharField(max_length=50)

    class Meta:
        app_label = "shop"

    def __str__(self) -> str:
        return self.name


class Restaurant(Place):
    serves_pizza = models.BooleanField(default=False)

    class Meta:
        app_label = "shop"


mti_site = admin.AdminSite(name="mti")
mti_site.register(Place)
mti_site.register(Restaurant)
