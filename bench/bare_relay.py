"""The baseline transport of fanout.py and commit_to_screen.py, run as a process of its own:
a bare ``websockets`` server relaying each message of a Redis pub/sub channel to all its
clients (``websockets.broadcast``), and serving over plain HTTP one HTML page at ``/`` and a
table row at ``/row/<text>`` (``<tr><th><a href="#">text</a></th></tr>``: what the
notify-then-fetch floor's page fetches). The ``websockets`` library closes a connection after
an HTTP answer, so each of those costs a loopback connect too.

    python bench/bare_relay.py PORT REDIS_URL CHANNEL [PAGE_FILE]

A frame a client sends (a subscribe) is answered as realtime_admin answers one. Prints
``ready`` once it listens.
"""

from __future__ import annotations

import asyncio
import json
import sys
from html import escape
from pathlib import Path
from urllib.parse import unquote, urlsplit

SUBSCRIBED = json.dumps({"type": "subscribed", "model": "shop.order"})


def relay(port: int, redis: str, channel: str, page: str | None = None) -> None:
    import redis.asyncio as aioredis
    from websockets.asyncio.server import broadcast, serve

    clients = set()

    async def handler(socket) -> None:
        clients.add(socket)
        try:
            async for _ in socket:
                await socket.send(SUBSCRIBED)
        finally:
            clients.discard(socket)

    def process_request(connection, request):
        path = urlsplit(request.path).path
        if page is None or path == "/ws":
            return None  # the websocket handshake
        if path.startswith("/row/"):
            text = escape(unquote(path.removeprefix("/row/")))
            body = f'<tr><th><a href="#">{text}</a></th></tr>'
        elif path == "/":
            body = page
        else:
            return connection.respond(404, "not found")
        response = connection.respond(200, body)
        del response.headers["Content-Type"]  # respond()'s text/plain
        response.headers["Content-Type"] = "text/html; charset=utf-8"
        return response

    async def serve_forever() -> None:
        pubsub = aioredis.from_url(redis).pubsub()
        await pubsub.subscribe(channel)
        options = {"compression": None, "ping_interval": None, "backlog": 1024}
        async with serve(handler, "127.0.0.1", port, process_request=process_request, **options):
            print("ready", flush=True)
            async for message in pubsub.listen():
                if message["type"] == "message":
                    broadcast(clients, message["data"].decode())

    asyncio.run(serve_forever())


if __name__ == "__main__":
    port, redis, channel, *page_file = sys.argv[1:]
    relay(int(port), redis, channel, Path(page_file[0]).read_text() if page_file else None)
