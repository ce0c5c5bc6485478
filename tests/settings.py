"""Settings for the test suite: the example project's shop app, SQLite or PostgreSQL.

RA_TEST_DB=postgres runs against PostgreSQL (127.0.0.1:5432, user postgres, database test).
RA_TEST_LAYER=redis (with RA_TEST_REDIS_URL) switches the channel layer to channels_redis;
the live-server tests set it for their server process. RA_TEST_REDIS_BACKEND=pubsub makes
that channels_redis' pub/sub layer instead of its core layer.
"""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "example_project"))

# The demo project's settings (apps, middleware, templates, ASGI app), with the test services.
from demo.settings import *  # noqa: E402, F403

SECRET_KEY = "tests-only"
# The demo's URLs, plus an admin site whose hooks are async def (tests/async_site.py).
ROOT_URLCONF = "tests.async_urls"
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
# A live server in another language (its pages' texts come from the French catalog).
LANGUAGE_CODE = os.environ.get("RA_TEST_LANGUAGE_CODE", "en-us")

from tests.services import ensure_redis  # noqa: E402  (finds or starts one; None if none)

REDIS_URL = ensure_redis() or "redis://127.0.0.1:6379/0"
IN_MEMORY_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
REDIS_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # A socket timeout above the layer's 5 s blocking pop (channels_redis#422).
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 10}], "prefix": "ra-test"},
    }
}
PUBSUB_LAYER = "channels_redis.pubsub.RedisPubSubChannelLayer"
if os.environ.get("RA_TEST_REDIS_BACKEND") == "pubsub":
    REDIS_LAYERS["default"]["BACKEND"] = PUBSUB_LAYER
if os.environ.get("RA_TEST_LAYER_CAPACITY"):  # a tiny capacity, so the layer drops messages
    REDIS_LAYERS["default"]["CONFIG"]["capacity"] = int(os.environ["RA_TEST_LAYER_CAPACITY"])
CHANNEL_LAYERS = REDIS_LAYERS if os.environ.get("RA_TEST_LAYER") == "redis" else IN_MEMORY_LAYERS

if os.environ.get("RA_TEST_DB") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("RA_TEST_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("RA_TEST_PG_PORT", "5432"),
            "USER": os.environ.get("RA_TEST_PG_USER", "postgres"),
            "NAME": "test",
            # One test database per Python/Django job, so two CI jobs can share a server.
            "TEST": {"NAME": os.environ.get("RA_TEST_PG_NAME", "test_realtime_admin")},
        }
    }
else:
    # A file, so the live server's process shares it (ChannelsLiveServerTestCase).
    _db_dir = os.environ.setdefault("RA_TEST_SQLITE_DIR", tempfile.mkdtemp(prefix="ra-test-"))
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(_db_dir, "db.sqlite3"),
            "TEST": {"NAME": os.path.join(_db_dir, "test.sqlite3")},
            # Several processes write (server, workers, shell): take the write lock up front and
            # wait for it, rather than fail with "database is locked" on a read-to-write upgrade.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }

if os.environ.get("RA_TEST_USE_TEST_DB"):
    # A helper process (tests/other_process.py) writes into the test database.
    DATABASES["default"]["NAME"] = DATABASES["default"]["TEST"]["NAME"]

# Background jobs on Django's tasks framework, with django-tasks-db's worker.
try:
    import django.tasks  # noqa: F401
except ImportError:  # Django 5.2: the backport
    INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks"]  # noqa: F405
INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks_db"]  # noqa: F405
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Live-server tests tune the server process's realtime_admin settings through the environment.
REALTIME_ADMIN = {
    name: float(os.environ[f"RA_TEST_{name}"])
    for name in ("JOB_STALE_AFTER", "HEARTBEAT_INTERVAL", "RECHECK_INTERVAL", "PRESENCE_GRACE")
    if os.environ.get(f"RA_TEST_{name}")
}
# Leaving is told at once in tests, unless a test is about the grace (tests/test_presence.py).
REALTIME_ADMIN.setdefault("PRESENCE_GRACE", 0.0)

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Server errors in the live-server tests' daphne process go to its stderr, with the traceback
# (Django sends them only to mail_admins when DEBUG is off).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
}
