import logging
import sys

from django.apps import AppConfig

logger = logging.getLogger("realtime_admin")


class RealtimeAdminConfig(AppConfig):
    name = "realtime_admin"
    verbose_name = "Realtime admin"
    default_auto_field = "django.db.models.BigAutoField"  # fixed by the shipped migration

    def ready(self) -> None:
        from . import capture, checks, integration

        capture.connect()
        integration.install()
        if sys.argv[1:2] == ["runworker"] and checks.uses_in_memory_layer():
            logger.warning(
                "realtime_admin: runworker with InMemoryChannelLayer cannot reach the "
                "websockets of any other process; use channels_redis."
            )
