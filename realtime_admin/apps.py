from django.apps import AppConfig


class RealtimeAdminConfig(AppConfig):
    name = "realtime_admin"
    verbose_name = "Realtime admin"

    def ready(self) -> None:
        from . import capture, checks, integration  # noqa: F401  (checks registers itself)

        capture.connect()
        integration.install()
