"""The publisher thread (publisher.py): off the save path, what piles up while it sends goes
out together, batches are spaced, and nothing is lost when the process exits or forks."""

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from channels.layers import get_channel_layer

from realtime_admin import bus
from realtime_admin.publisher import Publisher

ROOT = Path(__file__).resolve().parent.parent


class Recorder:
    """A ``send`` that records its batches; the first one takes ``first_takes`` seconds."""

    def __init__(self, first_takes: float = 0.0, fail_first: bool = False):
        self.batches: list[tuple[float, list]] = []
        self.first_takes, self.fail_first = first_takes, fail_first
        self.sending = threading.Event()

    async def __call__(self, items: list) -> None:
        self.batches.append((time.monotonic(), items))
        self.sending.set()
        if len(self.batches) == 1:
            await asyncio.sleep(self.first_takes)
            if self.fail_first:
                raise ConnectionError("Redis went away")


def test_what_is_submitted_while_a_batch_is_sent_goes_out_in_the_next_one():
    send = Recorder(first_takes=0.2)
    publisher = Publisher(send, interval=0)
    publisher.submit(1)
    assert send.sending.wait(5)
    for item in (2, 3, 4):
        publisher.submit(item)
    assert publisher.flush(5)
    assert [items for _, items in send.batches] == [[1], [2, 3, 4]]


def test_batches_are_spaced_by_the_interval_but_the_first_after_a_quiet_spell_goes_at_once():
    send = Recorder()
    publisher = Publisher(send, interval=0.3)
    publisher.submit(1)
    assert send.sending.wait(5)
    publisher.submit(2)
    assert publisher.flush(5)
    (first, _), (second, _) = send.batches
    assert second - first >= 0.29

    publisher.submit(3)  # within the interval of the last batch: waits for it
    assert publisher.flush(5)
    assert send.batches[-1][0] - second >= 0.29

    time.sleep(0.35)
    quiet = time.monotonic()
    publisher.submit(4)
    assert publisher.flush(5)
    assert send.batches[-1][0] - quiet < 0.1
    assert [items for _, items in send.batches] == [[1], [2], [3], [4]]


def test_flush_returns_once_sent_without_waiting_out_the_interval():
    send = Recorder()
    publisher = Publisher(send, interval=5)
    started = time.monotonic()
    publisher.submit(1)
    assert publisher.flush(2)
    assert time.monotonic() - started < 1


def test_a_message_sent_soon_goes_at_once_and_does_not_hold_the_next_batch_back():
    send = Recorder()
    publisher = Publisher(send, interval=0.5)
    publisher.submit(1)
    assert publisher.flush(5)
    publisher.send_soon("tail")  # within the interval of batch 1: still at once
    deadline = time.monotonic() + 5
    while len(send.batches) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert send.batches[1][0] - send.batches[0][0] < 0.2
    time.sleep(0.6)
    publisher.send_soon("tail")
    time.sleep(0.05)
    submitted = time.monotonic()
    publisher.submit(2)  # a quiet spell since batch 1, whatever was sent soon meanwhile
    assert publisher.flush(5)
    assert send.batches[-1][0] - submitted < 0.2
    assert [items for _, items in send.batches] == [[1], ["tail"], ["tail"], [2]]


def test_a_failed_batch_is_logged_and_the_thread_keeps_serving(caplog):
    send = Recorder(fail_first=True)
    publisher = Publisher(send, interval=0)
    publisher.submit(1)
    assert publisher.flush(5)
    publisher.submit(2)
    assert publisher.flush(5)
    assert [items for _, items in send.batches] == [[1], [2]]
    assert "could not publish 1 messages" in caplog.text


def test_flush_times_out_while_a_batch_is_stuck():
    send = Recorder(first_takes=1.0)
    publisher = Publisher(send, interval=0)
    publisher.submit(1)
    assert not publisher.flush(0.1)
    assert publisher.flush(5)


ALICE, BOB = {"id": 1, "name": "Alice"}, {"id": 2, "name": "Bob"}


async def test_one_transaction_names_its_maker_for_every_row():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(bus.group_name("shop.order"), channel)
    await bus._send_batch([(layer, "changes", ({"shop.order": {"1": bus.CREATED}}, ALICE))])
    message = await asyncio.wait_for(layer.receive(channel), 1)
    assert (message["actors"], message["by"]) == ([ALICE], {"1": 0})
    await bus._send_batch([(layer, "changes", ({"shop.order": {"2": bus.CREATED}}, None))])
    message = await asyncio.wait_for(layer.receive(channel), 1)
    assert "actors" not in message and "by" not in message


async def test_a_batch_merges_its_transactions_into_one_message_per_model_last_op_winning():
    layer = get_channel_layer()  # in-memory: sent on this loop
    channel = await layer.new_channel()
    await layer.group_add(bus.group_name("shop.order"), channel)
    await bus._send_batch(
        [
            (layer, "changes", ({"shop.order": {"1": bus.CREATED, "2": bus.UPDATED}}, ALICE)),
            (layer, "changes", ({"shop.order": {"1": bus.DELETED, "3": bus.CREATED}}, None)),
            (layer, "changes", ({"shop.order": {"4": bus.CREATED}}, BOB)),
        ]
    )
    message = await asyncio.wait_for(layer.receive(channel), 1)
    assert message["changes"] == [
        ["1", bus.DELETED],
        ["2", bus.UPDATED],
        ["3", bus.CREATED],
        ["4", bus.CREATED],
    ]
    # Each row's last change names its maker; row 1's last change was by nobody known.
    authors = {pk: message["actors"][index] for pk, index in message["by"].items()}
    assert authors == {"2": ALICE, "4": BOB}
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(channel), 0.2)


def redis_listener(groups: list[str]):
    """A channels_redis layer of our own with a channel in ``groups``, read synchronously."""
    from asgiref.sync import async_to_sync
    from channels_redis.core import RedisChannelLayer
    from django.conf import settings

    layer = RedisChannelLayer(**settings.REDIS_LAYERS["default"]["CONFIG"])
    channel = async_to_sync(layer.new_channel)()
    for group in groups:
        async_to_sync(layer.group_add)(group, channel)

    def receive(seconds: float) -> list[dict]:
        async def gather():
            messages = []
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                try:
                    messages.append(await asyncio.wait_for(layer.receive(channel), left))
                except TimeoutError:
                    break
            return messages

        return async_to_sync(gather)()

    return receive


@pytest.mark.redis
def test_a_process_that_exits_right_after_publishing_still_sends_it_and_its_tail(redis_url):
    receive = redis_listener([bus.group_name("shop.order")])
    script = (
        "import django; django.setup()\n"
        "from realtime_admin import bus\n"
        "bus.publish({'shop.order': {'41': 'created'}})\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "RA_TEST_LAYER": "redis",
        "RA_TEST_REDIS_URL": redis_url,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example_project")]),
    }
    subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, check=True, timeout=60)
    messages = receive(2)
    assert [message["type"] for message in messages] == [bus.EVENT_TYPE, bus.TAIL_EVENT_TYPE]
    assert messages[0]["changes"] == [["41", "created"]]
    assert messages[1]["seq"] == messages[0]["seq"]


@pytest.mark.redis
def test_what_is_still_queued_at_exit_is_sent_even_when_no_thread_can_start(redis_url):
    """At exit no new thread may start (Python 3.12+), so neither may the timer of a tail
    that comes due while the last batch goes out: that batch and its tail must still go."""
    receive = redis_listener([bus.group_name("shop.order")])
    script = (
        "import time, django; django.setup()\n"
        "from realtime_admin import bus\n"
        "bus.publish({'shop.order': {'1': 'created'}})  # sent at once; its tail in 1 s\n"
        "time.sleep(0.9)\n"
        "bus.publish({'shop.order': {'2': 'created'}})  # at once too\n"
        "time.sleep(0.15)  # the first tail has gone, and no timer is pending\n"
        "bus.publish({'shop.order': {'3': 'created'}})  # queued behind the interval: exit\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "RA_TEST_LAYER": "redis",
        "RA_TEST_REDIS_URL": redis_url,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example_project")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, timeout=60, capture_output=True
    )
    assert done.returncode == 0 and b"could not publish" not in done.stderr, done.stderr
    messages = receive(2)
    changes = [m["changes"] for m in messages if m["type"] == bus.EVENT_TYPE]
    assert changes == [[["1", "created"]], [["2", "created"]], [["3", "created"]]]
    last = max(m["seq"] for m in messages if m["type"] == bus.EVENT_TYPE)
    assert any(m["type"] == bus.TAIL_EVENT_TYPE and m["seq"] == last for m in messages)


@pytest.mark.redis
# Forking a process with threads is the very case (a preforking server after Django started).
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_publishes_through_a_thread_of_its_own_under_its_own_origin(
    redis_layer, redis_url
):
    receive = redis_listener([bus.group_name("shop.order")])
    bus.publish({"shop.order": {"1": bus.CREATED}})  # the parent's thread is running
    assert bus.flush()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        bus.publish({"shop.order": {"2": bus.CREATED}})
        os._exit(0 if bus.flush() else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    changes = [m for m in receive(1.5) if m["type"] == bus.EVENT_TYPE]
    assert [m["changes"] for m in changes] == [[["1", "created"]], [["2", "created"]]]
    assert changes[0]["origin"] == bus.ORIGIN != changes[1]["origin"]
    assert changes[1]["seq"] == 1


def test_an_in_memory_send_cancelled_by_a_stopping_server_loop_is_dropped_quietly(monkeypatch):
    """A tail timer fired while the server shut down: its thread must not die of it."""
    import concurrent.futures

    loop = asyncio.new_event_loop()
    serving = threading.Thread(target=loop.run_forever, daemon=True)
    serving.start()

    def cancelled_on_the_way(coroutine, loop):
        coroutine.close()
        future = concurrent.futures.Future()
        future.cancel()
        return future

    monkeypatch.setattr(bus, "_server_loop", loop)
    monkeypatch.setattr(asyncio, "run_coroutine_threadsafe", cancelled_on_the_way)
    try:
        bus._deliver("tails", [])  # raised CancelledError in the timer's thread before
    finally:
        loop.call_soon_threadsafe(loop.stop)
        serving.join(timeout=5)
        loop.close()


def test_a_tail_due_soon_is_not_held_up_by_a_repeat_due_later(monkeypatch):
    sent = []
    monkeypatch.setattr(bus, "_deliver", lambda kind, tails, spaced=True: sent.append(tails))
    later, soon = ({"group": group, "origin": "o", "seq": 1, "at": 0.0} for group in "ab")
    bus._tail_due(later, delay=3.0, repeat=True)
    started = time.monotonic()
    bus._tail_due(soon, delay=0.2)
    while not sent and time.monotonic() - started < 2:
        time.sleep(0.02)
    assert [tail["group"] for tail in sent[0] if tail["origin"] == "o"] == ["b"]
    assert time.monotonic() - started < 1.0
    waiting = [tail["group"] for tail in bus._due_tails() if tail["origin"] == "o"]
    assert waiting == ["a"]


async def test_a_tail_that_keeps_failing_is_tried_less_and_less_often_and_warned_of_once(caplog):
    class Unreachable:
        async def group_send(self, group: str, message: dict) -> None:
            raise ConnectionError("Redis is down")

    tail = {"type": bus.TAIL_EVENT_TYPE, "group": "g", "origin": "o", "seq": 1, "at": 0.0}
    delays = []
    for _ in range(6):
        await bus._send_events(Unreachable(), [{**tail, "repeat": False}])
        due_at, _ = bus._tails["g"]
        delays.append(round(due_at - time.monotonic()))
    assert delays == [1, 2, 4, 8, 10, 10]
    assert caplog.text.count("could not send a tail") == 1
