"""What the benchmarks share: a Redis to publish through, and the example project's
environment (a fresh SQLite database, DEBUG off)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

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
