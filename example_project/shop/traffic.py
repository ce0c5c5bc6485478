"""Demo data and a stream of writes, like a worker or a cron job would make."""

import random
import threading
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.utils import timezone

from .models import Coupon, Customer, Order, Tag

CUSTOMERS = [
    ("Ada Lovelace", "London"),
    ("Grace Hopper", "Arlington"),
    ("Alan Turing", "Manchester"),
    ("Katherine Johnson", "Hampton"),
    ("Edsger Dijkstra", "Eindhoven"),
    ("Barbara Liskov", "Boston"),
    ("Donald Knuth", "Stanford"),
    ("Margaret Hamilton", "Cambridge"),
    ("Tim Berners-Lee", "Geneva"),
    ("Frances Allen", "Peru, NY"),
]
TAGS = ["gift", "express", "wholesale", "returning"]
# Coupons are keyed by their code: any text, slashes included.
COUPONS = [("WELCOME10", "New customers", 10), ("SPRING/25", "Spring sale", 25)]
NEXT_STATUS = {
    Order.Status.NEW: Order.Status.PAID,
    Order.Status.PAID: Order.Status.SHIPPED,
}


def ensure_users() -> None:
    User = get_user_model()
    if not User.objects.filter(username="demo").exists():
        User.objects.create_superuser("demo", "demo@example.com", "demo")
    alice, created = User.objects.get_or_create(
        username="alice", defaults={"is_staff": True, "email": "alice@example.com"}
    )
    if created:
        alice.set_password("alice")
        alice.save()
        alice.user_permissions.set(
            Permission.objects.filter(
                content_type__app_label="shop",
                codename__in=["view_order", "change_order", "view_customer", "view_tag"],
            )
        )


def seed(orders: int = 40, rng: random.Random | None = None) -> None:
    rng = rng or random.Random(1)
    ensure_users()
    if not Coupon.objects.exists():  # (also in a demo database seeded before coupons)
        for code, description, percent_off in COUPONS:
            Coupon.objects.create(code=code, description=description, percent_off=percent_off)
    if Customer.objects.exists():
        return
    owners = list(get_user_model().objects.filter(username__in=["demo", "alice"])) + [None]
    with transaction.atomic():
        customers = [
            Customer.objects.create(
                name=name, city=city, email=name.split()[0].lower() + "@example.com"
            )
            for name, city in CUSTOMERS
        ]
        tags = [Tag.objects.create(name=name) for name in TAGS]
        now = timezone.now()
        for number in range(1, orders + 1):
            order = Order.objects.create(
                number=f"A-{1000 + number}",
                customer=rng.choice(customers),
                status=rng.choice(list(Order.Status)),
                amount=Decimal(rng.randrange(1000, 90000)) / 100,
                owner=rng.choice(owners),
                created_at=now - timedelta(days=rng.randrange(0, 90), minutes=number),
            )
            order.tags.set(rng.sample(tags, rng.randrange(0, 3)))


def step(rng: random.Random) -> str:
    """One write: a new order, an order moving on, or a cancelled order going away."""
    roll = rng.random()
    orders = Order.objects.all()
    if roll < 0.35 or not orders.exists():
        last = orders.order_by("-pk").first()
        number = f"A-{1000 + (last.pk if last else 0) + 1}"
        owner = rng.choice(list(get_user_model().objects.filter(is_staff=True)) + [None])
        Order.objects.create(
            number=number,
            customer=rng.choice(list(Customer.objects.all())),
            amount=Decimal(rng.randrange(1000, 90000)) / 100,
            owner=owner,
        )
        return f"created {number}"
    if roll < 0.9:
        order = rng.choice(list(orders.exclude(status=Order.Status.SHIPPED)[:50]) or [None])
        if order is None:
            return "nothing to update"
        order.status = NEXT_STATUS.get(order.status, Order.Status.NEW)
        if rng.random() < 0.3:
            order.status = Order.Status.CANCELLED
        order.save()
        return f"{order.number} is now {order.status}"
    order = orders.filter(status=Order.Status.CANCELLED).order_by("created_at").first()
    if order is None:
        return "nothing to delete"
    order.delete()
    return f"deleted {order.number}"


def run(interval: float, count: int = 0, stop: threading.Event | None = None, log=print) -> None:
    rng = random.Random()
    stop = stop or threading.Event()
    done = 0
    while not stop.is_set() and (not count or done < count):
        log(step(rng))
        done += 1
        stop.wait(interval * rng.uniform(0.5, 1.5))
