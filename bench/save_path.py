"""Save path: what realtime_admin adds to ``save()``. 10,000 order saves in transactions of 1
and of 100, with the app installed and publishing to a real Redis, against the same saves
without the app, measured in the same run.

    python bench/save_path.py [--count 10000]

Starts a throwaway redis-server (or uses REDIS_URL). Each figure runs in a fresh process on a
fresh SQLite database, so neither side warms the other's caches.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "example_project")]

from bench.demo_server import project_env, redis_url  # noqa: E402

SETTINGS = {"with": "demo.settings", "without": "bench.settings_without_app"}


def child(count: int, per_transaction: int) -> None:
    """Runs in the measured process: migrate, then time the saves."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from shop.models import Customer, Order

    call_command("migrate", verbosity=0, skip_checks=True)
    customer = Customer.objects.create(name="Ada Lovelace", city="London")
    started = time.perf_counter()
    for first in range(0, count, per_transaction):
        with transaction.atomic():
            for n in range(first, min(count, first + per_transaction)):
                Order.objects.create(number=f"B-{n}", customer=customer, amount=n % 100)
    print(time.perf_counter() - started)


def measure(variant: str, count: int, per_transaction: int, redis: str) -> float:
    env = project_env(redis, settings=SETTINGS[variant])
    command = [sys.executable, __file__, "--child", str(per_transaction), "--count", str(count)]
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return float(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.count, args.child)

    with redis_url("save_path") as redis:
        for per_transaction in (1, 100):
            without = measure("without", args.count, per_transaction, redis)
            with_app = measure("with", args.count, per_transaction, redis)
            print(
                f"save path, {args.count} saves, {per_transaction} per transaction: "
                f"{with_app:.2f} s with realtime_admin, {without:.2f} s without: "
                f"{with_app / without:.2f}x (target <= 1.10x)",
                flush=True,
            )


if __name__ == "__main__":
    main()
