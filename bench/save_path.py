"""Save path: what realtime_admin adds to ``save()``. 10,000 order saves in transactions of 1
and of 100, with the app installed and publishing to a real Redis, against the same saves
without the app, measured in the same run.

    python bench/save_path.py [--count 10000] [--pairs 4] [--block 1000]

Starts a throwaway redis-server (or uses REDIS_URL). For each transaction size, ``--pairs``
pairs of processes run, one pair after another, each process on a fresh SQLite database:
one with the app, one without (``settings_without_app.py``). After 100 warm-up saves each
(first-use imports and connections aside: see ``settle()``), the two of a pair take turns
saving ``--block`` orders at a time (with, without, without, with, ...), one process at a
time, until each has made its share of ``--count``.

Why so: this machine's speed drifts by 10-20 per cent from one second to the next, and one
process runs a few per cent faster or slower than another with the very same code (memory
layout, hash seed); both are larger than the cost measured. Taking turns block by block
lets both variants see the same moments; several pairs average the luck of the processes.
Runs of a whole variant one after the other gave anything from 1.03x to 1.33x for the same
code.

A process starts each turn with caches the other one has just used, as a save does in a
real request among other work; that costs the app's extra code more than a long run of saves
alone would (an in-process test that turns the receiver on and off by the block found +9 us a
save at 100 a transaction on Django 6.1, and +13 us for a receiver that does nothing: the
cost is Django's signal dispatch as much as realtime_admin's).

The figure is the ratio of the two variants' total times; each pair's own ratio is printed
beside it, to show the spread. The publisher thread's work counts where it competes with the
saves; a batch it sends after a block ended (at most one a block, every 250 ms) runs while
the other process saves.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "example_project")]

from bench.demo_server import project_env, redis_url  # noqa: E402

WARM_UP = 100  # saves before the clock starts: first-use imports and connections aside
SETTINGS = {"with": "demo.settings", "without": "bench.settings_without_app"}


def child(per_transaction: int) -> None:
    """Runs in a measured process: migrate, warm up, then time each block asked for on
    stdin (a count of saves), answering with the seconds it took."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from shop.models import Customer, Order

    call_command("migrate", verbosity=0, skip_checks=True)
    customer = Customer.objects.create(name="Ada Lovelace", city="London")
    numbers = iter(range(10**9))

    def saves(count: int) -> None:
        for first in range(0, count, per_transaction):
            with transaction.atomic():
                for _ in range(min(per_transaction, count - first)):
                    n = next(numbers)
                    Order.objects.create(number=f"B-{n}", customer=customer, amount=n % 100)

    saves(WARM_UP)
    settle()
    print("ready", flush=True)
    for line in sys.stdin:
        started = time.perf_counter()
        saves(int(line))
        print(time.perf_counter() - started, flush=True)


def settle() -> None:
    """Leave the warm-up's one-off costs out of the clock: the app's first publish connects
    to Redis and imports its client on the publisher thread, and those long-lived objects
    later set off a full garbage collection (about 40 ms, once a process), which a short
    run would charge to the saves. Both variants collect before the clock starts."""
    from django.apps import apps

    if apps.is_installed("realtime_admin"):
        from realtime_admin import bus

        bus.flush()
    gc.collect()


class Variant:
    """A measured process, driven over its stdin and stdout."""

    def __init__(self, name: str, per_transaction: int, redis: str) -> None:
        self.name, self.seconds = name, []
        command = [sys.executable, __file__, "--child", str(per_transaction)]
        self.process = subprocess.Popen(
            command,
            env=project_env(redis, settings=SETTINGS[name]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the {name} process did not start")

    def block(self, count: int) -> None:
        self.process.stdin.write(f"{count}\n")
        self.process.stdin.flush()
        self.seconds.append(float(self.process.stdout.readline()))

    def stop(self) -> None:
        self.process.stdin.close()
        if self.process.wait(timeout=30):
            raise RuntimeError(f"the {self.name} process failed")


def measure(per_transaction: int, count: int, pairs: int, block: int, redis: str) -> None:
    totals = {"with": 0.0, "without": 0.0}
    pair_ratios = []
    for pair in range(pairs):
        share = count // pairs + (pair < count % pairs)
        variants = [Variant(name, per_transaction, redis) for name in SETTINGS]
        try:
            for n in range(0, share, block):
                # with, without, then without, with: neither always goes first.
                for variant in variants if n // block % 2 == 0 else variants[::-1]:
                    variant.block(min(block, share - n))
        finally:
            for variant in variants:
                variant.stop()
        with_app, without = (sum(variant.seconds) for variant in variants)
        totals["with"] += with_app
        totals["without"] += without
        pair_ratios.append(with_app / without)
    print(
        f"save path, {count} saves, {per_transaction} per transaction, {pairs} pairs of "
        f"processes taking turns: {totals['with']:.2f} s with realtime_admin, "
        f"{totals['without']:.2f} s without: {totals['with'] / totals['without']:.2f}x "
        f"(target <= 1.10x); each pair: {', '.join(f'{r:.2f}x' for r in pair_ratios)}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000, help="saves of each variant")
    parser.add_argument("--pairs", type=int, default=4, help="pairs of processes")
    parser.add_argument("--block", type=int, default=1000, help="saves in one turn")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0

    with redis_url("save_path") as redis:
        for per_transaction in (1, 100):
            measure(per_transaction, args.count, args.pairs, args.block, redis)
    return 0


if __name__ == "__main__":
    sys.exit(main())
