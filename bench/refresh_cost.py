"""Refresh cost: the server time to serve one changed row to a tab, against a full render of
the same 100-row changelist page, measured in the same run.

    python bench/refresh_cost.py [--rounds 200]

Both go through Django's whole stack in this process (middleware, session, the admin's own
view and permission checks) with the test client, logged in as the superuser ``demo``, on a
fresh SQLite database of the example project with DEBUG off. The orders changelist shows 100
rows a page here. The refresh is what a tab sends when one row changed: a POST to the
changelist's ``__live__/`` endpoint with the 100 pks it shows and the one that changed. The
two alternate, after a warm-up, and the medians are compared.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "example_project")]

from bench.demo_server import prepare, project_env  # noqa: E402

ROWS = 100


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    database = Path(tempfile.mkdtemp(prefix="ra-bench-")) / "db.sqlite3"
    # The in-memory layer: the bench publishes nothing, and needs no Redis.
    env = {k: v for k, v in project_env("", database=database).items() if k != "REDIS_URL"}
    os.environ.update(env)
    prepare(env)

    import django

    django.setup()
    # Logging in saves the user, which the in-memory layer would warn reaches nobody.
    logging.getLogger("realtime_admin").setLevel(logging.ERROR)
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.test import Client
    from shop.models import Customer, Order

    customer = Customer.objects.first()
    Order.objects.bulk_create(
        Order(number=f"R-{n:04d}", customer=customer, amount=n % 500) for n in range(2 * ROWS)
    )
    admin.site._registry[Order].list_per_page = ROWS
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(get_user_model().objects.get(username="demo"))

    page = "/admin/shop/order/"
    shown = [str(pk) for pk in Order.objects.order_by("-pk").values_list("pk", flat=True)[:ROWS]]
    body = json.dumps({"shown": shown, "changed": [shown[ROWS // 2]], "full": False})

    def full_render() -> None:
        response = client.get(page)
        assert response.status_code == 200 and response.content.count(b"<tr") > ROWS

    def refresh() -> None:
        response = client.post(page + "__live__/", body, content_type="application/json")
        state = response.json()
        assert response.status_code == 200 and len(state["pks"]) == ROWS, state.keys()
        assert list(state["rows"]) == [shown[ROWS // 2]], "expected exactly the changed row"

    timings: dict = {full_render: [], refresh: []}
    for round_ in range(20 + args.rounds):
        for measured in timings:
            started = time.perf_counter()
            measured()
            if round_ >= 20:  # warm-up
                timings[measured].append(time.perf_counter() - started)
    full = statistics.median(timings[full_render]) * 1000
    one = statistics.median(timings[refresh]) * 1000
    print(
        f"refresh cost, {args.rounds} rounds: one changed row {one:.1f} ms, full render of a "
        f"{ROWS}-row page {full:.1f} ms: {one / full:.2f}x (target <= 0.3x)",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
