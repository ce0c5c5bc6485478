"""channels_redis' pub/sub layer: what it loses differs from the core layer's.

Its subscriptions survive a Redis restart (redis-py subscribes again when it reconnects), so
the hub's probes come back and notice nothing; what it loses is whatever was published while
a hub's connection was down, tails included. A message lost so is noticed by its tail, and if
the tail was lost too, by the same tail sent once more a few seconds later (test_hub.py
checks that on the in-memory layer)."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from realtime_admin import bus
from tests import factories, services
from tests.test_hub import RESYNC, subscribed_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]
make = database_sync_to_async


@pytest.fixture
def private_redis():
    """A redis-server of the test's own, which it may restart."""
    server = services.RedisServer()
    if not server.start():
        services.missing("redis-server")
    yield server
    server.stop()


@pytest.fixture
def pubsub_on_private_redis(settings, private_redis, monkeypatch):
    monkeypatch.setattr(bus, "TAIL_REPEAT_DELAY", 2.0)
    config = {"hosts": [{"address": private_redis.url, "socket_timeout": 10}], "prefix": "ra-ps"}
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": settings.PUBSUB_LAYER, "CONFIG": config}}
    return private_redis


async def test_a_change_published_while_a_hub_reconnects_is_caught_and_the_page_resyncs(
    pubsub_on_private_redis,
):
    """End to end on a real restart. Which of the tails tells the hub depends on timing
    (the test on the in-memory layer in test_hub.py makes sure of the repeated one); what
    matters here is that the page hears of the change and stays live."""
    communicator = await subscribed_socket()
    first = await make(factories.order)()  # the hub now knows this process's numbers
    assert (await communicator.receive_json_from(timeout=3))["changes"][0]["pk"] == str(first.pk)

    # Killed as a crash would, back at once: the publisher reconnects at its next send, the
    # hub's subscriber only after channels_redis' pause of a second.
    await asyncio.to_thread(pubsub_on_private_redis.restart)
    await make(factories.order)()
    # Lost on the way in (or, if the hub was quick, told): either way the page is right.
    frame = await communicator.receive_json_from(
        timeout=bus.TAIL_DELAY + 2 * bus.TAIL_REPEAT_DELAY + 3
    )
    assert frame == RESYNC or frame["type"] == "changes", frame
    quiet = bus.TAIL_DELAY + bus.TAIL_REPEAT_DELAY + 1
    while await communicator.receive_nothing(timeout=quiet) is False:
        await communicator.receive_json_from()  # (a late resync, if the frame was lost)

    # Subscribed again: the next change arrives as usual.
    order = await make(factories.order)()
    frame = await communicator.receive_json_from(timeout=3)
    assert frame["changes"] == [{"pk": str(order.pk), "op": "created"}]
    await communicator.disconnect()


async def test_a_hub_whose_last_socket_leaves_while_it_handles_an_event_unsubscribes(
    pubsub_on_private_redis, settings
):
    """channels_redis' pub/sub layer unsubscribes a channel only when a receive on it is
    cancelled; a hub stopped from inside its own listener had none pending."""
    import redis
    from django.utils.module_loading import import_string

    from realtime_admin.hub import Hub

    layer_settings = settings.CHANNEL_LAYERS["default"]
    layer = import_string(layer_settings["BACKEND"])(**layer_settings["CONFIG"])
    hub = Hub(layer)
    group = bus.group_name("shop.order")

    class LeavesOnItsFirstEvent:
        async def hub_event(self, event: dict) -> None:
            await hub.leave(group, self)  # (a followed object was deleted, say)

        async def hub_lost(self, group: str) -> None: ...

        async def hub_presence(self, place: str, users: list) -> None: ...

        async def hub_layer(self, up: bool) -> None: ...

    await hub.join(group, LeavesOnItsFirstEvent())
    channel, listener = hub.channel, hub.tasks[0]
    client = redis.Redis.from_url(pubsub_on_private_redis.url)
    assert client.pubsub_numsub(channel) == [(channel.encode(), 1)]
    await layer.group_send(group, {"type": bus.EVENT_TYPE, "group": group, "changes": []})
    await asyncio.wait_for(listener, 3)
    assert hub.channel is None
    assert client.pubsub_numsub(channel) == [(channel.encode(), 0)]
    assert client.pubsub_channels("ra-ps*") == []  # its group's subscription went too
    await layer.flush()
