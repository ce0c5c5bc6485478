"""Save path: what realtime_admin adds to ``save()``. 10,000 order saves in transactions of 1
and of 100, with the app installed and publishing to a real Redis, against the same saves
without the app, measured in the same run.

    python bench/save_path.py [--count 10000] [--rounds 3]

Starts a throwaway redis-server (or uses REDIS_URL). Each run is a fresh process on a fresh
SQLite database, so neither side warms the other's caches; the two variants alternate and
the median of ``--rounds`` runs is taken. The clock starts after 100 warm-up saves (so that
first-use imports and connections are not counted). The publisher thread's work counts
where it competes with the saves for the interpreter.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "example_project")]

from bench.demo_server import project_env, redis_url  # noqa: E402

WARM_UP = 100  # saves before the clock starts: first-use imports and connections aside
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

    def saves(prefix: str, count: int) -> None:
        for first in range(0, count, per_transaction):
            with transaction.atomic():
                for n in range(first, min(count, first + per_transaction)):
                    Order.objects.create(number=f"{prefix}-{n}", customer=customer, amount=n % 100)

    saves("W", WARM_UP)
    started = time.perf_counter()
    saves("B", count)
    print(time.perf_counter() - started)


def measure(variant: str, count: int, per_transaction: int, redis: str) -> float:
    env = project_env(redis, settings=SETTINGS[variant])
    command = [sys.executable, __file__, "--child", str(per_transaction), "--count", str(count)]
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return float(output.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each variant")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.count, args.child)
        return 0

    with redis_url("save_path") as redis:
        for per_transaction in (1, 100):
            runs = {"with": [], "without": []}
            for _ in range(args.rounds):  # alternating, so both see the same machine
                for variant, times in runs.items():
                    times.append(measure(variant, args.count, per_transaction, redis))
            with_app, without = (statistics.median(runs[v]) for v in ("with", "without"))
            print(
                f"save path, {args.count} saves, {per_transaction} per transaction, median of "
                f"{args.rounds}: {with_app:.2f} s with realtime_admin, {without:.2f} s without: "
                f"{with_app / without:.2f}x (target <= 1.10x)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
