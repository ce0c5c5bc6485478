"""What the benchmarks share: a Redis to publish through, the example project's environment
(a fresh SQLite database, DEBUG off) and server, and how a benchmark reports that it could
not run."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "example_project"


class CouldNotRun(Exception):
    """The benchmark could not measure (as opposed to measuring a miss)."""


def run_with_redis(name: str, measure: Callable[..., int], args) -> int:
    """``measure(args, redis_url)``, timed; 2 if it could not run, with the reason."""
    started = time.monotonic()
    try:
        with redis_url(name) as redis:
            return measure(args, redis)
    except Exception as error:  # could not run (a missed target is not an exception)
        print(f"{name}: could not run: {error!r}", file=sys.stderr)
        return 2
    finally:
        print(f"{name}: {time.monotonic() - started:.0f} s", file=sys.stderr)


def wait_for_port(port: int, process: subprocess.Popen, what: str, seconds: float = 30) -> None:
    """Wait until ``process`` accepts connections on ``port``; CouldNotRun if it dies first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise CouldNotRun(f"{what} did not start") from None
            time.sleep(0.05)


@contextlib.contextmanager
def redis_url(bench: str) -> Iterator[str]:
    """REDIS_URL if set, else a throwaway redis-server for as long as the benchmark runs."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from tests.services import RedisServer

    server = RedisServer()
    if not server.start():
        sys.exit(f"{bench}: needs redis-server (or REDIS_URL)")
    try:
        yield server.url
    finally:
        server.stop()


def project_env(redis: str, settings: str = "demo.settings", database: Path | None = None):
    """The environment of an example-project process: its own database, unless given."""
    database = database or Path(tempfile.mkdtemp(prefix="ra-bench-")) / "db.sqlite3"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings,
        "DEMO_DB": str(database),
        "DEMO_DEBUG": "0",
        "REDIS_URL": redis,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(PROJECT)]),
    }


def prepare(env: dict) -> None:
    """Migrate and seed the example project's database (logins demo/demo and alice/alice)."""
    manage = [sys.executable, str(PROJECT / "manage.py")]
    subprocess.run([*manage, "migrate", "--verbosity", "0"], env=env, check=True)
    subprocess.run([*manage, "seed_demo"], env=env, check=True, stdout=subprocess.DEVNULL)


def session_cookies(env: dict, *usernames: str) -> dict[str, str]:
    """Log the users in, in this process (set up on ``env``'s project): their session ids."""
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    cookies = {}
    for name in usernames:
        client = Client()
        client.force_login(get_user_model().objects.get(username=name))
        cookies[name] = client.cookies["sessionid"].value
    return cookies


@contextlib.contextmanager
def daphne(
    env: dict, log: IO | int = subprocess.DEVNULL, app: str = "demo.asgi:application"
) -> Iterator[subprocess.Popen]:
    """A daphne process serving ``app`` (the example project, or an application importable
    from the repository's root) on a free loopback port (``.port``), stopped on leaving."""
    from tests.services import _free_port

    port = _free_port()
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(
        [*command, app],
        env=env,
        cwd=PROJECT if app.startswith("demo.") else ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server.port = port
    try:
        wait_for_port(port, server, f"daphne ({app})")
        yield server
    finally:
        server.terminate()
        server.wait()


def errors_in(log: IO) -> list[str]:
    """The lines of a server's log that report an error."""
    log.flush()
    log.seek(0)
    return [line.rstrip() for line in log if "Traceback" in line or "ERROR" in line]


def socket_bench_setup(name: str, redis: str) -> tuple[Path, dict, str, str]:
    """A fresh example project for a benchmark of admin sockets: its work directory, its
    environment, the superuser demo's session cookie, and the subscribe frame of an orders
    page showing the 25 newest orders."""
    workdir = Path(tempfile.mkdtemp(prefix=f"ra-{name}-"))
    env = project_env(redis, database=workdir / "db.sqlite3")
    prepare(env)
    cookie = session_cookies(env, "demo")["demo"]
    from shop.models import Order

    shown = [str(pk) for pk in Order.objects.order_by("-pk").values_list("pk", flat=True)[:25]]
    subscribe = {"type": "subscribe", "model": "shop.order", "site": "admin", "shown": shown}
    print(f"server logs: {workdir}")
    return workdir, env, cookie, json.dumps(subscribe)
