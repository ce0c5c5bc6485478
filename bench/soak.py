"""Soak: many open sockets, a second process writing steadily, a real Redis; at the end
every socket's view must equal the database, the server log must hold no error, and the
server's memory must have stopped growing.

    python bench/soak.py [--sockets 200] [--rate 100] [--seconds 60]

It starts its own throwaway redis-server (or uses REDIS_URL), a daphne process serving the
example project (DEBUG off) on a fresh SQLite database, and a writer process making
``--rate`` single-row transactions a second on orders: creates (owned by demo, by alice or
by nobody), updates and deletes. A quarter of the sockets belong to alice, whose ModelAdmin
row rules show her own orders only; the rest to the superuser demo.

Each socket keeps a *view* as a live page does: the set of order pks it may see, read from
the database when it subscribes or is told to resync, then kept by the ``changes`` frames
(created and updated rows are in it, deleted ones are not). Exits 1 if any view is wrong,
the server logged an error, or its memory grew by more than 10 % over the second half.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "example_project"
sys.path[:0] = [str(ROOT), str(PROJECT)]

from bench.demo_server import (  # noqa: E402
    daphne,
    errors_in,
    prepare,
    project_env,
    redis_url,
    session_cookies,
)

WRITER = """
import os, random, time
from decimal import Decimal
from django.contrib.auth import get_user_model
from django.db import transaction
from shop.models import Customer, Order

rate, seconds = float(os.environ["SOAK_RATE"]), float(os.environ["SOAK_SECONDS"])
rng = random.Random(7)
owners = list(get_user_model().objects.filter(username__in=["demo", "alice"])) + [None]
customers = list(Customer.objects.all())
live = list(Order.objects.values_list("pk", flat=True))
started = time.monotonic()
for n in range(int(rate * seconds)):
    time.sleep(max(0, started + n / rate - time.monotonic()))
    roll = rng.random()
    with transaction.atomic():
        if roll < 0.3 or len(live) < 10:  # as many creates as deletes: the table stays small
            live.append(Order.objects.create(
                number=f"S-{n}", customer=rng.choice(customers), amount=Decimal(n % 500),
                owner=rng.choice(owners)).pk)
        elif roll < 0.7:
            order = Order.objects.get(pk=rng.choice(live))
            order.status = rng.choice(["new", "paid", "shipped"])
            order.amount = Decimal(n % 700)
            order.save()
        else:
            Order.objects.filter(pk=live.pop(rng.randrange(len(live)))).delete()
print(f"{n + 1} writes in {time.monotonic() - started:.1f} s", flush=True)
"""


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Socket:
    """One admin tab's socket, keeping its view of the orders its user may see."""

    def __init__(self, number: int, user: str, cookie: str, port: int):
        self.number, self.user, self.cookie, self.port = number, user, cookie, port
        self.view: set[str] = set()
        self.frames = self.resyncs = self.errors = 0
        self.last_frame = time.monotonic()

    async def run(self, truth, stop: asyncio.Event) -> None:
        from websockets.asyncio.client import connect

        url = f"ws://127.0.0.1:{self.port}/ws/realtime-admin/"
        async with connect(
            url,
            origin=f"http://127.0.0.1:{self.port}",
            additional_headers={"Cookie": f"sessionid={self.cookie}"},
            max_queue=None,
        ) as socket:
            await socket.send(json.dumps({"type": "subscribe", "model": "shop.order"}))
            await self.resync(socket, truth)
            receiving = asyncio.ensure_future(self.receive(socket, truth))
            await stop.wait()
            receiving.cancel()

    async def resync(self, socket, truth) -> None:
        """Read the view again, and tell the server which rows it shows (as a page does)."""
        self.view = set(await truth(self.user))
        shown = sorted(self.view)
        await socket.send(json.dumps({"type": "subscribe", "model": "shop.order", "shown": shown}))

    async def receive(self, socket, truth) -> None:
        async for text in socket:
            frame = json.loads(text)
            self.frames += 1
            self.last_frame = time.monotonic()
            if frame["type"] == "changes":
                for change in frame["changes"]:
                    if change["op"] == "deleted":
                        self.view.discard(change["pk"])
                    else:
                        self.view.add(change["pk"])
            elif frame["type"] == "resync":
                self.resyncs += 1
                await self.resync(socket, truth)
            elif frame["type"] == "error":
                self.errors += 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100, help="writes per second")
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()

    with redis_url("soak") as redis:
        return soak(args, redis)


def soak(args, redis: str) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="ra-soak-"))
    env = project_env(redis, database=workdir / "soak.sqlite3")
    os.environ.update(env)
    manage = [sys.executable, str(PROJECT / "manage.py")]
    prepare(env)
    cookies = session_cookies(env, "demo", "alice")

    from asgiref.sync import sync_to_async
    from django.contrib.auth import get_user_model
    from shop.models import Order

    users = {name: get_user_model().objects.get(username=name) for name in cookies}

    @sync_to_async
    def truth(name: str) -> list[str]:
        orders = Order.objects.all()
        if name == "alice":  # OrderAdmin.get_queryset's rule for non-superusers
            orders = orders.filter(owner=users["alice"])
        return [str(pk) for pk in orders.values_list("pk", flat=True)]

    log = (workdir / "server.log").open("w+")  # noqa: SIM115 (read back at the end)
    print(f"server log: {workdir / 'server.log'}")
    writer = None
    with daphne(env, log) as server:
        port = server.port
        names = ["alice" if n % 4 == 0 else "demo" for n in range(args.sockets)]
        sockets = [Socket(n, name, cookies[name], port) for n, name in enumerate(names)]
        memory: list[tuple[float, int]] = []

        async def soak():
            stop = asyncio.Event()
            tasks = [asyncio.ensure_future(socket.run(truth, stop)) for socket in sockets]
            await asyncio.sleep(3)  # all connected and subscribed
            nonlocal writer
            writer = await asyncio.create_subprocess_exec(
                *manage,
                "shell",
                "--verbosity",
                "0",
                "-c",
                WRITER,
                env={**env, "SOAK_RATE": str(args.rate), "SOAK_SECONDS": str(args.seconds)},
                stdout=subprocess.PIPE,
            )
            started = time.monotonic()
            while writer.returncode is None:
                memory.append((time.monotonic() - started, rss_kib(server.pid)))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(writer.wait(), timeout=5)
            print("writer:", (await writer.stdout.read()).decode().strip())
            if writer.returncode:
                raise SystemExit("soak: the writer failed")
            # Quiet: no frame anywhere for 3 s (the last flushes and tails), at most 30 s.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(
                time.monotonic() - socket.last_frame < 3 for socket in sockets
            ):
                await asyncio.sleep(0.5)
            memory.append((time.monotonic() - started, rss_kib(server.pid)))
            stop.set()
            for task in tasks:
                if task.done() and task.exception():
                    raise task.exception()
            await asyncio.gather(*tasks)

        asyncio.run(soak())

    wrong = [socket for socket in sockets if socket.view != set(asyncio.run(truth(socket.user)))]
    errors = errors_in(log)
    frames = sum(socket.frames for socket in sockets)
    resyncs = sum(socket.resyncs for socket in sockets)
    half = [kib for at, kib in memory if at >= args.seconds / 2]
    growth = (half[-1] - half[0]) / half[0] if half and half[0] else 0.0
    print(f"sockets: {len(sockets)} ({sum(s.user == 'alice' for s in sockets)} with row rules)")
    print(f"views exact at the end: {len(sockets) - len(wrong)}/{len(sockets)}")
    print(f"frames received: {frames} ({frames / len(sockets):.0f} a socket), resyncs: {resyncs}")
    error_frames = sum(socket.errors for socket in sockets)
    print(f"error frames: {error_frames}; server log errors: {len(errors)}")
    print("server RSS (MiB): " + ", ".join(f"{at:.0f}s {kib / 1024:.0f}" for at, kib in memory))
    print(f"RSS growth over the second half: {growth:+.1%}")
    for line in errors[:10]:
        print("  log:", line)
    ok = not wrong and not errors and growth < 0.10
    print("soak:", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
