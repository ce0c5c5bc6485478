"""ASGI applications that route realtime_admin's websocket badly, for the system checks."""

from channels.auth import AuthMiddlewareStack as ChannelsAuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application

import realtime_admin.routing

routes = URLRouter(realtime_admin.routing.websocket_urlpatterns)

without_origin_check = ProtocolTypeRouter(
    {"http": get_asgi_application(), "websocket": ChannelsAuthMiddlewareStack(routes)}
)
stock = get_asgi_application()  # what startproject's asgi.py makes: no websockets
http_only = ProtocolTypeRouter({"http": get_asgi_application()})
with_channels_auth = ProtocolTypeRouter(
    {"websocket": AllowedHostsOriginValidator(ChannelsAuthMiddlewareStack(routes))}
)
