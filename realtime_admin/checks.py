"""System checks: a misconfigured install says what is wrong instead of staying silent."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

IN_MEMORY_LAYER = "channels.layers.InMemoryChannelLayer"


def _layer_backend() -> str | None:
    return getattr(settings, "CHANNEL_LAYERS", {}).get("default", {}).get("BACKEND")


def uses_in_memory_layer() -> bool:
    return _layer_backend() == IN_MEMORY_LAYER


@register()
def check_installation(app_configs, **kwargs) -> list:
    errors = []
    installed = list(settings.INSTALLED_APPS)
    names = [app.split(".apps.")[0] for app in installed]
    if "realtime_admin" not in names:
        return errors  # (a test may override INSTALLED_APPS without it)
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
    elif error := _layer_error():
        errors.append(
            Error(
                f"CHANNEL_LAYERS['default'] cannot be made: {error}",
                hint="Check its BACKEND (a dotted path) and CONFIG (the backend's own "
                "arguments: InMemoryChannelLayer takes no hosts).",
                id="realtime_admin.E006",
            )
        )
    return errors


def _layer_error() -> str | None:
    """Why the default channel layer cannot be built, if it cannot (a mistyped BACKEND, a
    CONFIG it does not take); building one connects to nothing."""
    from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers

    try:
        channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    except Exception as error:
        return str(error)
    return None


REDIS_CORE_LAYER = "channels_redis.core.RedisChannelLayer"
BLOCKING_POP_SECONDS = 5  # RedisChannelLayer.brpop_timeout


def _redis_py_major() -> int:
    try:
        import redis
    except ImportError:
        return 0
    return int(redis.__version__.split(".")[0])


@register(Tags.compatibility)
def check_redis_socket_timeout(app_configs, **kwargs) -> list:
    """redis-py 8 reads with a 5 s socket timeout by default, as long as channels_redis'
    blocking pop: idle consumers then crash every few seconds (channels_redis#422)."""
    layer = getattr(settings, "CHANNEL_LAYERS", {}).get("default", {})
    if layer.get("BACKEND") != REDIS_CORE_LAYER or _redis_py_major() < 8:
        return []
    hosts = layer.get("CONFIG", {}).get("hosts", [("localhost", 6379)])
    for host in hosts:
        given = isinstance(host, dict) and "socket_timeout" in host
        timeout = host["socket_timeout"] if given else 5
        if timeout is not None and timeout <= BLOCKING_POP_SECONDS:
            which = (
                f"a socket_timeout of {timeout} s"
                if given
                else "redis-py's default socket_timeout (5 s)"
            )
            return [
                Warning(
                    "With redis-py 8, channels_redis' websocket consumers crash with "
                    f"'Timeout reading from ...' every few seconds: {which} is no longer "
                    "than the layer's blocking pop.",
                    hint='Give each host a longer timeout: {"address": "redis://...", '
                    '"socket_timeout": 10} (see channels_redis issue #422).',
                    id="realtime_admin.W002",
                )
            ]
    return []


@register(Tags.compatibility, deploy=True)
def check_layer_for_deployment(app_configs, **kwargs) -> list:
    if not uses_in_memory_layer():
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


def _routes_to_consumer(app, wrappers: tuple = ()) -> list[tuple]:
    """The chains of ASGI wrappers (outermost first) through which ``app`` reaches
    realtime_admin's consumer, following Channels' routers and middleware."""
    from channels.routing import ProtocolTypeRouter, URLRouter

    from .consumers import ChangelistConsumer

    consumer = getattr(app, "consumer_class", None)
    if isinstance(consumer, type) and issubclass(consumer, ChangelistConsumer):
        return [wrappers]
    if isinstance(app, ProtocolTypeRouter):
        inner = [app.application_mapping.get("websocket")]
    elif isinstance(app, URLRouter):
        inner = [route.callback for route in app.routes]
    else:  # OriginValidator keeps its app in .application, BaseMiddleware and kin in .inner
        inner = [getattr(app, "application", None) or getattr(app, "inner", None)]
    chains = []
    for child in inner:
        if child is not None:
            chains += _routes_to_consumer(child, (*wrappers, app))
    return chains


def _asgi_application():
    """The ASGI_APPLICATION object, or None (E003 covers an unset setting; a broken module
    fails loudly elsewhere)."""
    from django.utils.module_loading import import_string

    try:
        return import_string(settings.ASGI_APPLICATION)
    except Exception:
        return None


@register(Tags.compatibility)
def check_websocket_route(app_configs, **kwargs) -> list:
    """Warn when ASGI_APPLICATION certainly serves no websocket (Django's own ASGI handler,
    as the stock asgi.py makes, or a ProtocolTypeRouter without "websocket"): no admin page
    could be live, and every one would keep retrying. Silent when it cannot tell."""
    from channels.routing import ProtocolTypeRouter
    from django.core.handlers.asgi import ASGIHandler

    application = _asgi_application()
    if not (
        isinstance(application, ASGIHandler)
        or (
            isinstance(application, ProtocolTypeRouter)
            and "websocket" not in application.application_mapping
        )
    ):
        return []
    return [
        Warning(
            f"ASGI_APPLICATION ({settings.ASGI_APPLICATION}) serves no websockets, so no "
            "admin page is live.",
            hint='Route realtime_admin.routing.websocket_urlpatterns under "websocket" in a '
            "channels.routing.ProtocolTypeRouter (README, Install, step 3).",
            id="realtime_admin.W005",
        )
    ]


@register(Tags.security)
def check_websocket_stack(app_configs, **kwargs) -> list:
    """Warn when realtime_admin's websocket route lacks Origin checking (cross-site
    websocket hijacking) or resolves users with Channels' AuthMiddleware while secret key
    fallbacks are set. Silent when the route cannot be found by following Channels' own
    routers and middleware."""
    from channels.auth import AuthMiddleware as ChannelsAuthMiddleware
    from channels.security.websocket import OriginValidator

    from .auth import AuthMiddleware

    application = _asgi_application()
    if application is None:
        return []
    messages = []
    for chain in _routes_to_consumer(application):
        if not any(isinstance(wrapper, OriginValidator) for wrapper in chain):
            messages.append(
                Warning(
                    "realtime_admin's websocket route does not check the Origin header, so "
                    "any website a logged-in admin visits can open it with their cookies "
                    "(cross-site websocket hijacking).",
                    hint="Wrap the websocket router in "
                    "channels.security.websocket.AllowedHostsOriginValidator.",
                    id="realtime_admin.W003",
                )
            )
        stock_auth = any(
            isinstance(wrapper, ChannelsAuthMiddleware) and not isinstance(wrapper, AuthMiddleware)
            for wrapper in chain
        )
        if stock_auth and settings.SECRET_KEY_FALLBACKS:
            messages.append(
                Warning(
                    "Channels' AuthMiddleware ignores SECRET_KEY_FALLBACKS and flushes "
                    "sessions signed with an old key: opening a live admin page after a key "
                    "rotation logs the user out.",
                    hint="Use realtime_admin.auth.AuthMiddlewareStack in place of "
                    "channels.auth.AuthMiddlewareStack.",
                    id="realtime_admin.W004",
                )
            )
    return messages


@register(Tags.admin)
def check_async_hooks(app_configs, **kwargs) -> list:
    """An ``async def`` hook on a plain ModelAdmin or inline is called by Django and its
    coroutine dropped: the hook silently does nothing, or (a permission) says yes.
    (``async def`` actions are fine.)"""
    from django.contrib.admin.sites import all_sites

    from .async_admin import dropped_async_hooks

    derive = "Derive it from realtime_admin.AsyncModelAdmin (or mix that in)"
    mix = "Mix realtime_admin.AsyncHooks into it (class MyInline(AsyncHooks, TabularInline))"
    classes = {}  # each class once, however many sites or models use it: its hint
    for site in all_sites:
        for model_admin in site._registry.values():
            classes[type(model_admin)] = derive
            classes.update(dict.fromkeys(model_admin.inlines, mix))
    errors = []
    for admin_class, hint in classes.items():
        if hooks := dropped_async_hooks(admin_class):
            errors.append(
                Error(
                    f"{admin_class.__qualname__} defines async def {', '.join(hooks)}, "
                    "which Django calls without awaiting: the body would never run.",
                    hint=f"{hint}, which runs async hooks to completion.",
                    obj=admin_class,
                    id="realtime_admin.E005",
                )
            )
    return errors
