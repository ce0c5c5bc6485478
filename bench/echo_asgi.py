"""A bare Channels echo consumer, the baseline of bench/idle_memory.py:

    daphne bench.echo_asgi:application     (from the repository's root)

Settings are made here, in code: no apps, no database, no auth. With REDIS_URL set it has the
same channels_redis layer as the example project, so that each socket's channel-layer
registration (Channels' cost, not realtime_admin's) is in the baseline too.
"""

import os

import django
from django.conf import settings

if not settings.configured:
    layers = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    if os.environ.get("REDIS_URL"):
        layers = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [{"address": os.environ["REDIS_URL"], "socket_timeout": 10}]},
            }
        }
    settings.configure(DEBUG=False, ALLOWED_HOSTS=["127.0.0.1"], CHANNEL_LAYERS=layers)
    django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


class Echo(AsyncWebsocketConsumer):
    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=text_data, bytes_data=bytes_data)


application = ProtocolTypeRouter({"websocket": URLRouter([path("ws/echo/", Echo.as_asgi())])})
