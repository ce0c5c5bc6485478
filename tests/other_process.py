"""A second process that writes like a worker or cron job would, driven over stdin/stdout.

Each input line is JSON ``{"do": "create"|"update"|"delete", "model": "shop.order", ...}``;
each output line is JSON with the pk touched and ``committed_at`` (epoch ms after commit).
``{"do": "churn", "count": n, "customer_id": c, "per_transaction": k}`` makes n writes as fast
as it can, k to a transaction: creates, updates and deletes of orders, in a fixed random order.
``{"do": "burst", "count": n, ...}`` creates n orders and announces each in a batch of its own,
all at once from an event loop, as n writers committing at the same moment would.
"""

import asyncio
import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ["RA_TEST_USE_TEST_DB"] = "1"

import django  # noqa: E402

django.setup()

from django.apps import apps  # noqa: E402
from django.db import transaction  # noqa: E402
from shop.models import Customer, Order  # noqa: E402

from tests import factories  # noqa: E402


def handle(command: dict) -> dict:
    if command["do"] == "burst":
        return burst(command["count"], command["customer_id"])
    if command["do"] == "churn":
        return churn(command["count"], command["customer_id"], command.get("per_transaction", 1))
    action = command.pop("do")
    model = apps.get_model(command.pop("model", "shop.order"))
    with transaction.atomic():
        if action == "create" and model is Customer:
            pk = factories.customer(**command).pk
        elif action == "create" and model is Order:
            pk = factories.order(**command).pk
        elif action == "create":
            pk = model.objects.create(**command).pk
        elif action == "update":
            pk = command.pop("pk")
            row = model.objects.get(pk=pk)
            for field, value in command.items():
                setattr(row, field, value)
            row.save()
        elif action == "delete":
            pk = command["pk"]
            model.objects.get(pk=pk).delete()
        else:
            raise ValueError(action)
    return {"pk": pk, "committed_at": time.time() * 1000}


def churn(count: int, customer_id: int, per_transaction: int = 1) -> dict:
    import random

    rng = random.Random(4)
    live = []
    started = time.time()
    for first in range(0, count, per_transaction):
        with transaction.atomic():
            for n in range(first, min(count, first + per_transaction)):
                roll = rng.random()
                if roll < 0.4 or len(live) < 5:
                    number = f"W-{n}"
                    live.append(
                        handle({"do": "create", "customer_id": customer_id, "number": number})["pk"]
                    )
                elif roll < 0.85:
                    status = rng.choice(["new", "paid", "shipped"])
                    pk = rng.choice(live)
                    handle({"do": "update", "pk": pk, "status": status, "amount": n % 97})
                else:
                    handle({"do": "delete", "pk": live.pop(rng.randrange(len(live)))})
    return {"seconds": time.time() - started, "committed_at": time.time() * 1000}


def burst(count: int, customer_id: int) -> dict:
    from channels.layers import get_channel_layer
    from shop.models import Order

    from realtime_admin import bus

    orders = Order.objects.bulk_create(
        Order(customer_id=customer_id, number=f"Z-{n:04d}", amount=1) for n in range(count)
    )

    async def announce():
        # One message per row, all at once (not merged as publish() would): to overflow a
        # small channel capacity.
        layer = get_channel_layer()
        group = bus.group_name("shop.order")
        events = [
            bus.numbered(
                group,
                {
                    "type": bus.EVENT_TYPE,
                    "model": "shop.order",
                    "changes": [[str(order.pk), bus.CREATED]],
                },
            )
            for order in orders
        ]
        await asyncio.gather(*(bus._send_events(layer, [event]) for event in events))

    asyncio.run(announce())
    return {"pks": [order.pk for order in orders], "committed_at": time.time() * 1000}


for line in sys.stdin:
    try:
        reply = handle(json.loads(line))
    except Exception as error:  # report, keep serving
        reply = {"error": repr(error)}
    print(json.dumps(reply), flush=True)
