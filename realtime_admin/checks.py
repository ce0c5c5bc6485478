"""System checks: a misconfigured install says what is wrong instead of staying silent."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

IN_MEMORY_LAYER = "channels.layers.InMemoryChannelLayer"


def _layer_backend() -> str | None:
    return getattr(settings, "CHANNEL_LAYERS", {}).get("default", {}).get("BACKEND")


@register()
def check_installation(app_configs, **kwargs) -> list:
    errors = []
    installed = list(settings.INSTALLED_APPS)
    names = [app.split(".apps.")[0] for app in installed]
    if "channels" not in names:
        errors.append(
            Error(
                "realtime_admin needs Django Channels.",
                hint='Add "daphne" and "channels" to INSTALLED_APPS.',
                id="realtime_admin.E001",
            )
        )
    if "django.contrib.admin" in names and names.index("realtime_admin") > names.index(
        "django.contrib.admin"
    ):
        errors.append(
            Error(
                "realtime_admin is listed after django.contrib.admin, so the admin's own "
                "change_list.html shadows realtime_admin's and no changelist is live.",
                hint='Move "realtime_admin" above "django.contrib.admin" in INSTALLED_APPS.',
                id="realtime_admin.E002",
            )
        )
    if not getattr(settings, "ASGI_APPLICATION", None):
        errors.append(
            Error(
                "ASGI_APPLICATION is not set, so nothing serves realtime_admin's websocket.",
                hint='Set ASGI_APPLICATION = "yourproject.asgi.application" and route '
                "realtime_admin.routing.websocket_urlpatterns there.",
                id="realtime_admin.E003",
            )
        )
    if not _layer_backend():
        errors.append(
            Error(
                "CHANNEL_LAYERS has no 'default' layer, so changes cannot reach browsers.",
                hint=f'One process: {{"default": {{"BACKEND": "{IN_MEMORY_LAYER}"}}}}. '
                'Several: "channels_redis.core.RedisChannelLayer".',
                id="realtime_admin.E004",
            )
        )
    return errors


@register(Tags.compatibility, deploy=True)
def check_layer_for_deployment(app_configs, **kwargs) -> list:
    if _layer_backend() != IN_MEMORY_LAYER:
        return []
    return [
        Warning(
            "CHANNEL_LAYERS uses InMemoryChannelLayer: only writes made inside the web server "
            "process reach open admin tabs; writes from workers, cron jobs, `manage.py shell` "
            "or a second server process are not shown.",
            hint='Use "channels_redis.core.RedisChannelLayer" when more than one process writes.',
            id="realtime_admin.W001",
        )
    ]
