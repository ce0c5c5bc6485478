"""``websocket_urlpatterns``: put them in your ASGI application's websocket router."""

from django.urls import path

from . import conf
from .consumers import ChangelistConsumer

websocket_urlpatterns = [
    path(conf.get("WEBSOCKET_PATH"), ChangelistConsumer.as_asgi()),
]
