"""The process hub: one group membership per process, and every way the channel layer can
lose events (dropped at capacity, group expired, Redis emptied) turned into a resync."""

import asyncio
import itertools
import time

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from realtime_admin import bus
from realtime_admin.consumers import FRAME_INTERVAL
from realtime_admin.hub import hub_for
from tests import factories, services
from tests.test_consumer import connect, session_cookie, subscribe

pytestmark = pytest.mark.django_db(transaction=True)

GROUP = bus.group_name("shop.order")
RESYNC = {"type": "resync", "model": "shop.order"}
make = database_sync_to_async
usernames = (f"admin{n}" for n in itertools.count())


@pytest.fixture
def quick_heartbeat(settings):
    settings.REALTIME_ADMIN = {**settings.REALTIME_ADMIN, "HEARTBEAT_INTERVAL": 0.3}


async def subscribed_socket(user=None, **frame):
    frame = {"type": "subscribe", "model": "shop.order", **frame}
    communicator, _ = await connect(user or await make(factories.superuser)(next(usernames)))
    await communicator.send_json_to(frame)
    assert await communicator.receive_json_from() == {"type": "subscribed", "model": frame["model"]}
    return communicator


async def test_an_expired_group_membership_is_renewed_and_the_page_resyncs(quick_heartbeat):
    communicator = await subscribed_socket()
    hub = hub_for(get_channel_layer())
    # What channels_redis does to a member after group_expiry (a day, by default).
    await get_channel_layer().group_discard(GROUP, hub.channel)
    assert await communicator.receive_json_from(timeout=3) == RESYNC
    order = await make(factories.order)()  # and it hears changes again
    frame = await communicator.receive_json_from(timeout=3)
    assert frame["changes"] == [{"pk": str(order.pk), "op": "created"}]
    await communicator.disconnect()


async def test_a_healthy_layer_causes_no_resync(quick_heartbeat):
    communicator = await subscribed_socket()
    assert await communicator.receive_nothing(timeout=1.5)  # several heartbeats
    await communicator.disconnect()


async def test_a_dropped_last_message_is_caught_by_its_tail(settings):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1}}
    }
    orders = [await make(factories.order)() for _ in range(5)]
    await asyncio.sleep(bus.TAIL_DELAY + 0.2)  # their own tails are out of the way
    communicator = await subscribed_socket()
    # Five batches in a row, with no chance for the hub to read: its channel holds one, the
    # layer drops the others (as channels_redis does over capacity), the last included.
    for order in orders:
        bus.publish({"shop.order": {str(order.pk): bus.UPDATED}})
    first = await communicator.receive_json_from()
    assert first["changes"] == [{"pk": str(orders[0].pk), "op": "updated"}]
    while (frame := await communicator.receive_json_from(timeout=3))["type"] == "changes":
        pass  # perhaps one more got in before the channel filled
    # About a second later the tail names the last one sent: the page catches up.
    assert frame == RESYNC
    await communicator.disconnect()


async def test_a_tail_with_nothing_missed_is_silent():
    communicator = await subscribed_socket()
    order = await make(factories.order)()
    frame = await communicator.receive_json_from()
    assert frame["changes"] == [{"pk": str(order.pk), "op": "created"}]
    assert await communicator.receive_nothing(timeout=bus.TAIL_DELAY + 0.5)
    await communicator.disconnect()


async def test_a_page_rendered_before_a_change_resyncs_when_it_subscribes():
    model = {"model": "shop.customer"}  # no row rules (see the next tests)
    listening = await subscribed_socket(**model)  # the hub has been in the group for a while
    await asyncio.sleep(0.1)
    quiet = await subscribed_socket(since=time.time(), **model)
    assert await quiet.receive_nothing(timeout=0.3)  # nothing happened since its render

    rendered = time.time()
    await make(factories.customer)()  # committed after that page read its rows
    await listening.receive_json_from()
    late = await subscribed_socket(since=rendered, **model)
    assert await late.receive_json_from() == {"type": "resync", "model": "shop.customer"}
    for communicator in (listening, quiet, late):
        await communicator.disconnect()


async def test_under_row_rules_a_new_page_always_resyncs():
    """Whether anything changed since its render would tell of rows it may not see."""
    listening = await subscribed_socket()
    await asyncio.sleep(0.1)
    manager = await make(factories.staff)("manager", "view_order")  # sees their own orders
    quiet = await subscribed_socket(manager, since=time.time())
    assert await quiet.receive_json_from() == RESYNC
    for communicator in (listening, quiet):
        await communicator.disconnect()


async def test_a_user_the_rules_let_see_every_row_resyncs_only_if_something_changed():
    listening = await subscribed_socket()
    await asyncio.sleep(0.1)
    quiet = await subscribed_socket(since=time.time())  # a superuser sees every order
    assert await quiet.receive_nothing(timeout=0.3)
    for communicator in (listening, quiet):
        await communicator.disconnect()


async def test_the_first_page_of_a_process_resyncs_unless_it_says_when_it_was_rendered():
    # The hub only just joined: it cannot know what happened before.
    communicator = await subscribed_socket(since=time.time() - 1)
    assert await communicator.receive_json_from() == RESYNC
    await communicator.disconnect()


async def test_sockets_take_no_channel_of_their_own():
    """The hub listens for all of a process's sockets: a channel per socket would only be a
    pending receive each (a SUBSCRIBE each on the pub/sub layer)."""
    layer = get_channel_layer()
    before = set(layer.channels)
    sockets = [await subscribed_socket() for _ in range(3)]
    order = await make(factories.order)()
    for communicator in sockets:
        frame = await communicator.receive_json_from(timeout=3)
        assert frame["changes"] == [{"pk": str(order.pk), "op": "created"}]
    assert set(layer.channels) - before == {hub_for(layer).channel}
    for communicator in sockets:
        await communicator.disconnect()


@pytest.mark.redis
async def test_many_sockets_are_one_member_of_each_group(redis_layer, redis_url):
    import redis

    sockets = [await subscribed_socket() for _ in range(3)]
    client = redis.Redis.from_url(redis_url)
    assert client.zcard(f"ra-test:group:{GROUP}") == 1
    order = await make(factories.order)()
    for communicator in sockets:
        frame = await communicator.receive_json_from(timeout=3)
        assert frame["changes"] == [{"pk": str(order.pk), "op": "created"}]
        await communicator.disconnect()
    assert client.zcard(f"ra-test:group:{GROUP}") == 0  # the last one out left the group


@pytest.mark.redis
async def test_an_emptied_redis_is_noticed_and_pages_resync(redis_layer, redis_url, settings):
    """What a Redis restart without persistence does to the core layer: the groups vanish,
    sends "succeed" and reach nobody."""
    import redis

    settings.REALTIME_ADMIN = {**settings.REALTIME_ADMIN, "HEARTBEAT_INTERVAL": 0.3}
    communicator = await subscribed_socket()
    redis.Redis.from_url(redis_url).flushall()
    await make(factories.order)()  # lost: nobody is in the group any more
    assert await communicator.receive_json_from(timeout=5) == RESYNC
    order = await make(factories.order)()
    # A second resync may come first, and rightly: on a slow machine the lost message's tail
    # can beat the heartbeat, or the message can be sent while the hub re-joins.
    while (frame := await communicator.receive_json_from(timeout=3)) == RESYNC:
        pass
    assert frame["changes"] == [{"pk": str(order.pk), "op": "created"}]
    await communicator.disconnect()


@pytest.mark.redis
async def test_while_redis_is_down_the_page_is_told_and_then_catches_up(settings):
    from tests.services import RedisServer

    redis_server = RedisServer()
    if not redis_server.start():
        services.missing("redis-server")
    try:
        hosts = [{"address": redis_server.url, "socket_timeout": 10}]
        layer = settings.REDIS_LAYERS["default"]
        settings.CHANNEL_LAYERS = {
            "default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": hosts}}
        }
        settings.REALTIME_ADMIN = {**settings.REALTIME_ADMIN, "HEARTBEAT_INTERVAL": 0.3}
        communicator = await subscribed_socket()
        redis_server.stop()
        assert await communicator.receive_json_from(timeout=5) == {"type": "layer", "up": False}
        assert await communicator.receive_nothing(timeout=1)  # told once, not every retry
        # A page that opens meanwhile, on a model whose group this process has not joined:
        # its socket stays, and is told too.
        late, _ = await connect(await make(factories.superuser)(next(usernames)))
        await late.send_json_to({"type": "subscribe", "model": "shop.customer"})
        told = [await late.receive_json_from(timeout=5) for _ in range(2)]
        assert {"type": "layer", "up": False} in told
        assert {"type": "subscribed", "model": "shop.customer"} in told
        assert redis_server.start()
        for socket, resync in (
            (communicator, RESYNC),
            (late, {**RESYNC, "model": "shop.customer"}),
        ):
            assert await socket.receive_json_from(timeout=10) == {"type": "layer", "up": True}
            assert await socket.receive_json_from(timeout=5) == resync  # anything was missed
        order = await make(factories.order)()
        while (frame := await communicator.receive_json_from(timeout=5)) == RESYNC:
            pass  # (the lost message's tail may come in too)
        assert frame["changes"] == [{"pk": str(order.pk), "op": "created"}]
        customer = await make(factories.customer)("Zed")  # the late one's group was joined
        told = {"pk": str(customer.pk), "op": "created"}
        # (Before it: a resync, and the customer that factories.order created.)
        while told not in (await late.receive_json_from(timeout=5)).get("changes", []):
            pass
        await communicator.disconnect()
        await late.disconnect()
    finally:
        redis_server.stop()


async def test_after_a_loss_is_dealt_with_the_publishers_next_message_is_no_second_gap():
    # (No tail due from an earlier test arrives here: conftest.no_tail_outlives_its_test. A
    # tail of a message from before the loss, arriving just after it, would make the next
    # message look like a gap once more: one more resync, which loses nothing.)
    communicator = await subscribed_socket()
    hub = hub_for(get_channel_layer())
    first = await make(factories.order)()  # the hub now knows this process's numbers
    assert (await communicator.receive_json_from(timeout=3))["changes"][0]["pk"] == str(first.pk)
    bus.numbered(GROUP, {})  # a message numbered and never delivered: lost
    await asyncio.sleep(0.01)
    await hub.lost(GROUP)  # noticed (as the heartbeat would): the page re-reads everything
    assert await communicator.receive_json_from(timeout=3) == RESYNC
    await asyncio.sleep(FRAME_INTERVAL)
    order = await make(factories.order)()  # its number jumps, but the resync covered that
    frame = await communicator.receive_json_from(timeout=3)
    assert frame.get("changes") == [{"pk": str(order.pk), "op": "created"}], frame
    await communicator.disconnect()


async def test_a_burst_reaches_a_page_as_few_frames_the_first_at_once():
    communicator = await subscribed_socket()
    customer = await make(factories.customer)()
    started = time.monotonic()
    orders = [await make(factories.order)(customer=customer) for _ in range(30)]
    elapsed = time.monotonic() - started
    frames = [await communicator.receive_json_from()]
    assert frames[0]["changes"] == [{"pk": str(orders[0].pk), "op": "created"}]
    while not await communicator.receive_nothing(timeout=0.3):
        frames.append(await communicator.receive_json_from())
    told = [change["pk"] for frame in frames for change in frame["changes"]]
    assert sorted(told, key=int) == [str(order.pk) for order in orders]
    # One frame at once, then at most one per FRAME_INTERVAL.
    assert len(frames) <= 2 + elapsed / FRAME_INTERVAL, (len(frames), elapsed)
    assert len(frames) < len(orders)
    await communicator.disconnect()


async def test_too_many_rows_at_once_become_one_resync(monkeypatch):
    monkeypatch.setattr("realtime_admin.consumers.MAX_PKS_PER_FRAME", 3)
    monkeypatch.setattr("realtime_admin.consumers.FRAME_INTERVAL", 1.0)  # room for 5 writes
    communicator = await subscribed_socket()
    await make(factories.order)()
    assert len((await communicator.receive_json_from())["changes"]) == 1
    for _ in range(5):  # within the next interval: held back, then too many to list
        await make(factories.order)()
    assert await communicator.receive_json_from() == RESYNC
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_a_followed_job_whose_group_was_lost_is_sent_again(quick_heartbeat):
    from realtime_admin.jobs.models import Job

    root = await make(factories.superuser)(next(usernames))
    communicator, _ = await connect(root)
    job = await make(Job.objects.create)(
        description="Recalculate", action="x", model="shop.order", user=root
    )
    await communicator.send_json_to({"type": "job", "id": job.pk})
    assert (await communicator.receive_json_from())["job"]["status"] == "queued"
    await get_channel_layer().group_discard(
        bus.job_group(job.pk), hub_for(get_channel_layer()).channel
    )
    await make(Job.objects.filter(pk=job.pk).update)(status="succeeded")  # told to nobody
    frame = await communicator.receive_json_from(timeout=3)
    assert frame["job"]["status"] == "succeeded"
    await communicator.disconnect()


@pytest.fixture
def row_rule_queries(monkeypatch):
    """The pks of each row-rules query the sockets make, in order."""
    from realtime_admin import consumers

    calls = []
    real = consumers.visible_pks
    monkeypatch.setattr(
        consumers, "visible_pks", lambda *args: calls.append(args[2]) or real(*args)
    )
    return calls


async def test_a_users_tabs_share_one_row_rules_query_per_event(row_rule_queries):
    alice = await make(factories.staff)("alice", "view_order")
    cookie = await session_cookie(alice)
    tabs = [(await connect(cookie=cookie))[0] for _ in range(3)]
    other_session = (await connect(alice))[0]  # the same user, logged in elsewhere
    for communicator in [*tabs, other_session]:
        assert (await subscribe(communicator))["type"] == "subscribed"
    order = await make(factories.order)(owner=alice)
    for communicator in [*tabs, other_session]:
        frame = await communicator.receive_json_from()
        assert frame["changes"] == [{"pk": str(order.pk), "op": "created"}]
        await communicator.disconnect()
    assert row_rule_queries == [[str(order.pk)], [str(order.pk)]]  # one per session, not tab


async def test_a_user_whose_rules_let_them_see_every_row_costs_no_query_per_event(
    row_rule_queries,
):
    """A superuser under the orders' "own orders only" rule: their get_queryset() does not
    filter, so a change's pks need no check against it."""
    boss = await subscribed_socket()
    manager = await subscribed_socket(await make(factories.staff)("manager", "view_order"))
    order = await make(factories.order)()  # not the manager's
    assert (await boss.receive_json_from())["changes"] == [{"pk": str(order.pk), "op": "created"}]
    assert await manager.receive_nothing(timeout=0.3)
    assert row_rule_queries == [[str(order.pk)]]  # the manager's check only
    for communicator in (boss, manager):
        await communicator.disconnect()


def numbered_after_now(group: str):
    """Whether a message is this process's to ``group``, numbered after its last one so far
    (not a probe, nor a tail of an earlier message)."""
    last = bus._last_sent[group]["seq"]
    return lambda to, message: to == group and message.get("seq", 0) > last


async def test_a_message_that_could_not_be_sent_is_caught_by_its_tail(monkeypatch):
    """Redis unreachable for a moment: the send fails, and so does the first try of its tail.
    The tail is tried again until it gets through, and the page catches up."""
    communicator = await subscribed_socket()
    first = await make(factories.order)()  # the hub now knows this process's numbers
    assert (await communicator.receive_json_from(timeout=3))["changes"][0]["pk"] == str(first.pk)
    layer = get_channel_layer()
    real, failures, newer = layer.group_send, [], numbered_after_now(GROUP)

    async def unreachable_twice(group, message):
        if newer(group, message) and len(failures) < 2:
            failures.append(message["type"])
            raise ConnectionError("Redis is unreachable")
        await real(group, message)

    monkeypatch.setattr(layer, "group_send", unreachable_twice)
    await make(factories.order)()  # lost on the way out
    # Its tail fails a second later, gets through a second after that.
    assert await communicator.receive_json_from(timeout=2 * bus.TAIL_DELAY + 2) == RESYNC
    assert failures == [bus.EVENT_TYPE, bus.TAIL_EVENT_TYPE]
    await communicator.disconnect()


async def test_a_hub_that_missed_both_a_message_and_its_tail_hears_the_tail_again(monkeypatch):
    """What a hub re-subscribing after a Redis restart sees: nothing of a message published
    meanwhile, nor of its first tail (here on the in-memory layer, dropping both)."""
    monkeypatch.setattr(bus, "TAIL_REPEAT_DELAY", 1.0)
    communicator = await subscribed_socket()
    first = await make(factories.order)()
    assert (await communicator.receive_json_from(timeout=3))["changes"][0]["pk"] == str(first.pk)
    layer = get_channel_layer()
    real, dropped, newer = layer.group_send, [], numbered_after_now(GROUP)

    async def missed_by_the_hub(group, message):
        if newer(group, message) and len(dropped) < 2:
            dropped.append((message["type"], message["seq"]))
            return  # published, and nobody subscribed just then
        await real(group, message)

    monkeypatch.setattr(layer, "group_send", missed_by_the_hub)
    await make(factories.order)()
    assert await communicator.receive_json_from(timeout=bus.TAIL_DELAY + 1.0 + 2) == RESYNC
    (message, seq), (tail, tail_seq) = dropped
    assert (message, tail, tail_seq) == (bus.EVENT_TYPE, bus.TAIL_EVENT_TYPE, seq)
    await communicator.disconnect()
