from django.conf import settings
from django.db import models
from django.utils import timezone


class Customer(models.Model):
    name = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    city = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=30, unique=True)

    def __str__(self) -> str:
        return self.name


class Order(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        PAID = "paid", "Paid"
        SHIPPED = "shipped", "Shipped"
        CANCELLED = "cancelled", "Cancelled"

    number = models.CharField(max_length=20, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    # The account manager: staff who are not superusers see only their own orders.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    tags = models.ManyToManyField(Tag, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.number


class OpenOrder(Order):
    """The orders still to ship: a proxy with a changelist of its own."""

    class Meta:
        proxy = True
        verbose_name = "open order"


class Coupon(models.Model):
    """A discount code: its code is its primary key (any text, slashes and quotes included)."""

    code = models.CharField(max_length=40, primary_key=True)
    description = models.CharField(max_length=100, blank=True)
    percent_off = models.PositiveSmallIntegerField(default=10)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code
