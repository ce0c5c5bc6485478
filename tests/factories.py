"""Small builders for the shop models and admin users."""

from decimal import Decimal
from itertools import count

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from shop.models import Customer, Order

_numbers = count(1)


def customer(name: str = "Ada Lovelace", city: str = "London") -> Customer:
    return Customer.objects.create(name=name, city=city)


def order(**fields) -> Order:
    fields.setdefault("number", f"T-{next(_numbers):05d}")
    fields.setdefault("amount", Decimal("10.00"))
    if "customer" not in fields:
        fields["customer"] = Customer.objects.first() or customer()
    return Order.objects.create(**fields)


def superuser(username: str = "root"):
    return get_user_model().objects.create_superuser(username, f"{username}@example.com", "pw")


def staff(username: str, *codenames: str, **fields):
    """A staff user with the given shop permissions (e.g. "view_order")."""
    user = get_user_model().objects.create_user(username, password="pw", is_staff=True, **fields)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="shop", codename__in=codenames)
    )
    return user
