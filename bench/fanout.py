"""Fan-out: one change, 1,000 admin sockets connected to one daphne process; the time from
the commit until the last socket has its notice. The baseline, measured in the same run: a
bare ``websockets`` server broadcasting a Redis pub/sub message to 1,000 clients.

    python bench/fanout.py [--sockets 1000] [--samples 20] [--spacing 1.0]

Starts its own throwaway redis-server (or uses REDIS_URL), all on loopback:

- realtime_admin: daphne serving the example project (DEBUG off) on a fresh SQLite
  database; every socket logged in as the superuser demo and subscribed to shop.order as a
  changelist page does (with the 25 pks of a page). A writer process (``manage.py shell``)
  creates one order per change; the clock starts in an ``on_commit`` callback registered
  before realtime_admin's own, so it includes publishing.
- bare: bench/bare_relay.py, in its own process: it subscribes to a Redis pub/sub channel
  and hands each message to ``websockets.broadcast`` for all its clients.
  A trigger process (``--bare-trigger``) reads the clock, then PUBLISHes a frame shaped
  like realtime_admin's.

Both sides use the same client code, in this process, on one asyncio loop: each socket
stamps ``time.time()`` when its frame is read. With 1,000 sockets in Python on a small
machine, that client loop is itself a large part of both figures (it must read 1,000 frames
one after the other), so the ratio understates the server's own difference; it is the same
for both sides. Changes are ``--spacing`` seconds apart so that realtime_admin's frame
coalescing (at most one frame per socket per 100 ms) never merges two. The first two
changes of each side warm it up and are not counted.

Prints the median over the changes of the last socket's latency (the figure with a target),
and of the median socket's. Exits 0 when it measured, 2 when it could not (a socket did not
connect or never got a notice, a process failed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "example_project"
sys.path[:0] = [str(ROOT), str(PROJECT)]

from bench.demo_server import (  # noqa: E402
    CouldNotRun,
    daphne,
    errors_in,
    run_with_redis,
    socket_bench_setup,
)

TARGET = 3.0
WARMUP = 2  # changes per side not counted
CHANNEL = "bench-fanout"  # the bare server's Redis pub/sub channel
CONNECTING = 50  # sockets opening at once (daphne's listen backlog is 50)
NOTICE_TIMEOUT = 15.0  # seconds every socket has to get a change's notice

WRITER = """
import json, sys, time
from decimal import Decimal
from django.db import transaction
from shop.models import Customer, Order
customer = Customer.objects.first()
for line in sys.stdin:
    stamp = []
    with transaction.atomic():
        transaction.on_commit(lambda: stamp.append(time.time()))  # before realtime_admin's
        order = Order.objects.create(
            number=line.strip(), customer=customer, amount=Decimal("1.00"))
    print(json.dumps({"pk": str(order.pk), "at": stamp[0]}), flush=True)
"""


def raise_open_files(needed: int) -> None:
    """Raise this process's open-file limit to the hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
    if soft != resource.RLIM_INFINITY and soft < limit:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    if limit != resource.RLIM_INFINITY and limit < needed:
        raise CouldNotRun(f"the open-file limit is {limit}, {needed} are needed")


# The clients, the same for both sides


class Clients:
    """``count`` sockets on one loop, each stamping when it reads a notice of a pk."""

    def __init__(self, count: int):
        self.count = count
        self.sockets: list = []
        self.readers: list[asyncio.Task] = []
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.complete: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.other_frames: dict[str, int] = defaultdict(int)

    async def open(self, url: str, cookie: str, subscribe: str) -> None:
        from websockets.asyncio.client import connect

        origin = url.replace("ws://", "http://").split("/ws/")[0]
        gate = asyncio.Semaphore(CONNECTING)

        async def open_one():
            async with gate:
                socket = await connect(
                    url,
                    origin=origin,
                    additional_headers={"Cookie": f"sessionid={cookie}"},
                    compression=None,
                    ping_interval=None,
                    open_timeout=60,
                    close_timeout=2,
                    max_queue=None,
                )
                self.sockets.append(socket)
                await socket.send(subscribe)
                answer = json.loads(await asyncio.wait_for(socket.recv(), 60))
                if answer.get("type") != "subscribed":
                    raise CouldNotRun(f"a socket was answered {answer}")
            self.readers.append(asyncio.ensure_future(self.read(socket)))

        results = await asyncio.gather(
            *(open_one() for _ in range(self.count)), return_exceptions=True
        )
        failed = [result for result in results if isinstance(result, BaseException)]
        if failed:
            raise CouldNotRun(f"{len(failed)} of {self.count} sockets failed: {failed[0]!r}")

    async def read(self, socket) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for text in socket:
                at = time.time()
                frame = json.loads(text)
                if frame["type"] != "changes":
                    self.other_frames[frame["type"]] += 1
                    continue
                for change in frame["changes"]:
                    arrivals = self.arrivals[change["pk"]]
                    arrivals.append(at)
                    if len(arrivals) == self.count:
                        self.complete[change["pk"]].set()
        except ConnectionClosed:
            pass

    async def close(self) -> None:
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*(socket.close() for socket in self.sockets), return_exceptions=True)


async def measure(args, url: str, cookie: str, subscribe: str, trigger: list[str], env: dict):
    """Connect the clients, then make changes through ``trigger`` (a line in names a change,
    a line out gives its pk and the clock at its commit): (last, median, first socket) in ms
    for each counted change."""
    clients = Clients(args.sockets)
    started = time.monotonic()
    try:
        await clients.open(url, cookie, subscribe)
        print(f"  {args.sockets} sockets subscribed in {time.monotonic() - started:.1f} s")
        process = await asyncio.create_subprocess_exec(
            *trigger, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        samples = []
        try:
            for number in range(WARMUP + args.samples):
                due = time.monotonic() + args.spacing
                process.stdin.write(f"F-{os.getpid()}-{number}\n".encode())
                await process.stdin.drain()
                line = await asyncio.wait_for(process.stdout.readline(), 30)
                if not line:
                    raise CouldNotRun("the trigger process ended")
                change = json.loads(line)
                pk, at = change["pk"], change["at"]
                try:
                    await asyncio.wait_for(clients.complete[pk].wait(), NOTICE_TIMEOUT)
                except TimeoutError:
                    got = len(clients.arrivals[pk])
                    raise CouldNotRun(
                        f"{args.sockets - got} of {args.sockets} sockets had no notice of "
                        f"change {number} after {NOTICE_TIMEOUT:.0f} s "
                        f"(other frames: {dict(clients.other_frames)})"
                    ) from None
                latencies = [(arrival - at) * 1000 for arrival in clients.arrivals[pk]]
                if number >= WARMUP:
                    samples.append((max(latencies), statistics.median(latencies), min(latencies)))
                await asyncio.sleep(max(0.0, due - time.monotonic()))
        finally:
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
        if clients.other_frames:
            print(f"  other frames: {dict(clients.other_frames)}")
        return samples
    finally:
        await clients.close()


# The bare side's processes


def bare_trigger(redis: str) -> None:
    """One PUBLISH a line in; prints the pk and the clock read just before publishing."""
    import redis as sync_redis

    connection = sync_redis.Redis.from_url(redis)
    connection.ping()
    for seq, line in enumerate(sys.stdin, 1):
        pk = line.strip()
        change = {"pk": pk, "op": "created"}
        frame = json.dumps(
            {"type": "changes", "model": "shop.order", "seq": seq, "changes": [change]}
        )
        at = time.time()
        connection.publish(CHANNEL, frame)
        print(json.dumps({"pk": pk, "at": at}), flush=True)


# The run


def run(args, redis: str) -> int:
    from tests.services import _free_port

    workdir, env, cookie, subscribe = socket_bench_setup("fanout", redis)
    writer = [sys.executable, str(PROJECT / "manage.py"), "shell", "--verbosity", "0", "-c", WRITER]

    print("realtime_admin (daphne, the example project):")
    with (workdir / "daphne.log").open("w+") as log:
        with daphne(env, log) as server:
            url = f"ws://127.0.0.1:{server.port}/ws/realtime-admin/"
            admin = asyncio.run(measure(args, url, cookie, subscribe, writer, env))
        daphne_errors = errors_in(log)

    print("bare websockets broadcast:")
    port = _free_port()
    with (workdir / "bare.log").open("w+") as log:
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "bare_relay.py"), str(port), redis, CHANNEL],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            if server.stdout.readline().strip() != "ready":
                raise CouldNotRun("the bare server did not start")
            url = f"ws://127.0.0.1:{port}/ws/bare/"
            trigger = [sys.executable, __file__, "--bare-trigger", redis]
            bare = asyncio.run(measure(args, url, cookie, subscribe, trigger, os.environ))
        finally:
            server.terminate()
            server.wait()
        bare_errors = errors_in(log)

    for name, samples in (("realtime_admin", admin), ("bare", bare)):
        first = statistics.median(sample[2] for sample in samples)
        listed = ", ".join(f"{sample[0]:.0f}" for sample in samples)
        print(f"  {name}: first socket {first:.1f} ms (median); last per change (ms): {listed}")
    print(f"server log errors: daphne {len(daphne_errors)}, bare server {len(bare_errors)}")
    for line in (daphne_errors + bare_errors)[:10]:
        print("  log:", line)

    admin_last = statistics.median(sample[0] for sample in admin)
    bare_last = statistics.median(sample[0] for sample in bare)
    admin_mid = statistics.median(sample[1] for sample in admin)
    bare_mid = statistics.median(sample[1] for sample in bare)
    print(
        f"fan-out, {args.sockets} sockets, median socket over {args.samples} changes: "
        f"{admin_mid:.1f} ms with realtime_admin, {bare_mid:.1f} ms bare websockets: "
        f"{admin_mid / bare_mid:.2f}x (no target)"
    )
    print(
        f"fan-out, {args.sockets} sockets, last socket over {args.samples} changes: "
        f"{admin_last:.1f} ms with realtime_admin, {bare_last:.1f} ms bare websockets: "
        f"{admin_last / bare_last:.2f}x (target <= {TARGET:g}x)",
        flush=True,
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=20, help="changes measured per side")
    parser.add_argument("--spacing", type=float, default=1.0, help="seconds between changes")
    parser.add_argument("--bare-trigger", metavar="REDIS_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_trigger:
        bare_trigger(args.bare_trigger)
        return 0

    raise_open_files(args.sockets + 100)
    return run_with_redis("fanout", run, args)


if __name__ == "__main__":
    sys.exit(main())
