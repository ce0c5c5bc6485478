"""The real services the suite needs (Redis, PostgreSQL, Chromium): found, or started, or,
under CI, a failure. Outside CI a missing service skips the tests that need it."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

CHROMIUM = os.environ.get("RA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def missing(what: str) -> None:
    """A needed service is absent: fail under CI, skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required under CI", pytrace=False)
    pytest.skip(f"{what} is not available")


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_redis() -> str | None:
    """A Redis URL: the one in RA_TEST_REDIS_URL, one on 127.0.0.1:6379, or a throwaway
    redis-server on a free loopback port. None when there is none to be had."""
    if os.environ.get("RA_TEST_REDIS_URL"):
        return os.environ["RA_TEST_REDIS_URL"]
    url = "redis://127.0.0.1:6379/0" if _answers("127.0.0.1", 6379) else start_redis()
    if url:
        os.environ["RA_TEST_REDIS_URL"] = url
    return url


def start_redis(port: int | None = None) -> str | None:
    server = RedisServer(port)
    return server.url if server.start() else None


class RedisServer:
    """A throwaway redis-server on loopback, keeping nothing on disk (so a restart empties
    it, as a Redis without persistence does)."""

    def __init__(self, port: int | None = None):
        self.port = port or _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> bool:
        binary = shutil.which("redis-server")
        if not binary:
            return False
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port)]
            + ["--save", "", "--appendonly", "no"],
            cwd=tempfile.mkdtemp(prefix="ra-redis-"),
            stdout=subprocess.DEVNULL,
        )
        atexit.register(self.process.terminate)
        for _ in range(50):
            if _answers("127.0.0.1", self.port):
                return True
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        self.process.kill()  # as a crash would: no goodbye to the clients
        self.process.wait()

    def restart(self) -> None:
        self.stop()
        assert self.start(), "redis-server did not come back"


def redis_available() -> bool:
    url = os.environ.get("RA_TEST_REDIS_URL", "")
    host_port = url.removeprefix("redis://").split("/")[0]
    host, _, port = host_port.partition(":")
    return bool(url) and _answers(host, int(port or 6379))
