"""Idle memory: how much a daphne process's RSS grows per idle admin socket, over 1,000
sockets, against a bare Channels echo consumer measured the same way in the same run.

    python bench/idle_memory.py [--sockets 1000]

Starts its own throwaway redis-server (or uses REDIS_URL), all on loopback:

- realtime_admin: daphne serving the example project (DEBUG off) on a fresh SQLite
  database; each socket logged in as the superuser demo and subscribed to shop.order as a
  changelist page does (with the 25 pks of a page), then idle.
- bare: daphne serving bench/echo_asgi.py, an ``AsyncWebsocketConsumer`` that echoes, with
  the same channels_redis layer and no auth; each socket sends the same frame, gets its
  echo, then idles.

Each side is warmed up first (20 sockets opened, answered and closed), then the server's
VmRSS is read, 1,000 sockets are opened (each answered), and after 3 s of quiet VmRSS is
read again: (after - before) / sockets. The 20 warm-up sockets' freed memory may be reused
by the first new ones, so both figures may be low by up to 2 %. Exits 0 when it measured, 2
when it could not (a socket did not connect or was not answered, a server did not start).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
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
from bench.fanout import CONNECTING, raise_open_files  # noqa: E402
from bench.soak import rss_kib  # noqa: E402

TARGET_KIB = 64
WARMUP_SOCKETS = 20
SETTLE = 3.0  # seconds of quiet before reading the RSS


async def open_sockets(url: str, cookie: str, frame: str, answer: str, count: int) -> list:
    """``count`` sockets, each having sent ``frame`` and read one answer of type ``answer``."""
    from websockets.asyncio.client import connect

    origin = url.replace("ws://", "http://").split("/ws/")[0]
    gate = asyncio.Semaphore(CONNECTING)
    sockets = []

    async def open_one():
        async with gate:
            websocket = await connect(
                url,
                origin=origin,
                additional_headers={"Cookie": f"sessionid={cookie}"},
                compression=None,
                ping_interval=None,
                open_timeout=60,
                close_timeout=2,
            )
            sockets.append(websocket)
            await websocket.send(frame)
            got = json.loads(await asyncio.wait_for(websocket.recv(), 60))
            if got.get("type") != answer:
                raise CouldNotRun(f"a socket was answered {got}")

    results = await asyncio.gather(*(open_one() for _ in range(count)), return_exceptions=True)
    failed = [result for result in results if isinstance(result, BaseException)]
    if failed:
        await close_all(sockets)
        raise CouldNotRun(f"{len(failed)} of {count} sockets failed: {failed[0]!r}")
    return sockets


async def close_all(sockets: list) -> None:
    await asyncio.gather(*(websocket.close() for websocket in sockets), return_exceptions=True)


async def measure(pid: int, url: str, cookie: str, frame: str, answer: str, count: int):
    """The server's VmRSS (KiB) after warming up, and with ``count`` idle sockets."""
    await close_all(await open_sockets(url, cookie, frame, answer, WARMUP_SOCKETS))
    await asyncio.sleep(1)
    before = rss_kib(pid)
    started = time.monotonic()
    sockets = await open_sockets(url, cookie, frame, answer, count)
    print(f"  {count} sockets answered in {time.monotonic() - started:.1f} s")
    await asyncio.sleep(SETTLE)
    after = rss_kib(pid)
    await close_all(sockets)
    print(f"  server RSS: {before / 1024:.1f} MiB -> {after / 1024:.1f} MiB")
    return before, after


def run(args, redis: str) -> int:
    workdir, env, cookie, frame = socket_bench_setup("idle-memory", redis)

    print("realtime_admin (daphne, the example project):")
    with (workdir / "daphne.log").open("w+") as log:
        with daphne(env, log) as server:
            url = f"ws://127.0.0.1:{server.port}/ws/realtime-admin/"
            admin = asyncio.run(measure(server.pid, url, cookie, frame, "subscribed", args.sockets))
        admin_errors = errors_in(log)

    print("bare Channels echo consumer (daphne, bench/echo_asgi.py):")
    echo_env = {**os.environ, "REDIS_URL": redis, "PYTHONPATH": str(ROOT)}
    echo_env.pop("DJANGO_SETTINGS_MODULE", None)
    with (workdir / "echo.log").open("w+") as log:
        with daphne(echo_env, log, app="bench.echo_asgi:application") as server:
            url = f"ws://127.0.0.1:{server.port}/ws/echo/"
            bare = asyncio.run(measure(server.pid, url, cookie, frame, "subscribe", args.sockets))
        echo_errors = errors_in(log)

    print(f"server log errors: realtime_admin {len(admin_errors)}, echo {len(echo_errors)}")
    for line in (admin_errors + echo_errors)[:10]:
        print("  log:", line)
    admin_kib = (admin[1] - admin[0]) / args.sockets
    bare_kib = (bare[1] - bare[0]) / args.sockets
    ratio = f"{admin_kib / bare_kib:.2f}x" if bare_kib > 0 else "n/a"
    print(
        f"idle memory, {args.sockets} sockets: {admin_kib:.1f} KiB a socket with realtime_admin, "
        f"{bare_kib:.1f} KiB bare Channels echo: {ratio}, "
        f"realtime_admin adds {admin_kib - bare_kib:.1f} KiB a socket "
        f"(target <= {TARGET_KIB} KiB a socket with realtime_admin)",
        flush=True,
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=1000)
    args = parser.parse_args()

    raise_open_files(args.sockets + 100)
    return run_with_redis("idle_memory", run, args)


if __name__ == "__main__":
    sys.exit(main())
