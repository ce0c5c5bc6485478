import multiprocessing
import os

import pytest

from tests import services

# Live-server tests start daphne in a child process; fork after async tests breaks its
# websocket handshake (a "multi-threaded fork"), spawn does not.
multiprocessing.set_start_method("spawn", force=True)


def pytest_report_header(config):
    return [
        f"realtime_admin: database={os.environ.get('RA_TEST_DB', 'sqlite')}, "
        f"redis={os.environ.get('RA_TEST_REDIS_URL', 'none')}, CI={bool(os.environ.get('CI'))}"
    ]


@pytest.fixture(autouse=True)
def no_tail_outlives_its_test():
    """A tail due from one test would reach the next one's hubs at a random moment."""
    yield
    from realtime_admin import bus

    bus.forget_tails()


@pytest.fixture
def redis_url():
    if not services.redis_available():
        services.missing("Redis")
    return os.environ["RA_TEST_REDIS_URL"]


@pytest.fixture
def redis_layer(settings, redis_url):
    """The channels_redis core layer against the real Redis, emptied before the test."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    settings.CHANNEL_LAYERS = settings.REDIS_LAYERS
    yield


@pytest.fixture
def pubsub_layer(settings, redis_url, monkeypatch):
    """channels_redis' pub/sub layer against the real Redis, here and in the processes the
    test starts."""
    monkeypatch.setenv("RA_TEST_REDIS_BACKEND", "pubsub")
    layers = {"default": {**settings.REDIS_LAYERS["default"], "BACKEND": settings.PUBSUB_LAYER}}
    settings.CHANNEL_LAYERS = layers
    yield


@pytest.fixture(params=["core", "pubsub"])
def any_redis_layer(request):
    """Each of channels_redis' layers in turn."""
    request.getfixturevalue("redis_layer" if request.param == "core" else "pubsub_layer")


class OtherProcess:
    """tests/other_process.py running beside the test, with the Redis channel layer."""

    def __init__(self):
        import subprocess
        import sys
        from pathlib import Path

        root = Path(__file__).resolve().parent.parent
        env = {
            **os.environ,
            "RA_TEST_LAYER": "redis",
            "PYTHONPATH": os.pathsep.join([str(root), str(root / "example_project")]),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.other_process"],
            cwd=root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def __call__(self, do: str, **fields) -> dict:
        import json

        self.process.stdin.write(json.dumps({"do": do, **fields}) + "\n")
        self.process.stdin.flush()
        reply = json.loads(self.process.stdout.readline())
        assert "error" not in reply, reply["error"]
        return reply

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture
def other_process(redis_url):
    process = OtherProcess()
    yield process
    process.close()


def pytest_sessionstart(session):
    """A PostgreSQL run needs the server: under CI its absence fails the run."""
    if os.environ.get("RA_TEST_DB") != "postgres":
        return
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    try:
        psycopg.connect(
            host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], connect_timeout=3
        ).close()
    except psycopg.OperationalError as error:
        if os.environ.get("CI"):
            pytest.exit(f"PostgreSQL is required under CI: {error}", returncode=1)
        pytest.exit(
            f"PostgreSQL is not reachable, skipping the PostgreSQL run: {error}", returncode=0
        )


@pytest.fixture
def mti_tables():
    from django.db import connection

    from realtime_admin.capture import registry_changed
    from tests.mti import Place, Restaurant

    registry_changed()  # (the "mti" site registered them on import)
    with connection.schema_editor() as editor:
        editor.create_model(Place)
        editor.create_model(Restaurant)
    yield Place, Restaurant
    with connection.schema_editor() as editor:
        editor.delete_model(Restaurant)
        editor.delete_model(Place)
