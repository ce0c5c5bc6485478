"""What the benchmarks share: a Redis to publish through, and the example project's
environment (a fresh SQLite database, DEBUG off)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "example_project"


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
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"daphne did not start ({app})") from None
                time.sleep(0.1)
        yield server
    finally:
        server.terminate()
        server.wait()
