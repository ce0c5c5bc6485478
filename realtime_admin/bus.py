"""Group names and publishing change batches to the channel layer.

A batch is ``{(model label, pk): op}``. It goes out as one message per model group:
``{"type": "realtime_admin.changes", "group": ..., "model": label, "origin": ..., "seq": n,
"at": time, "changes": [[pk, op], ...]}``. Only primitives travel (channels_redis' msgpack
refuses UUIDs, dates and lazy strings), and never row data: browsers fetch rows over HTTP.

``origin`` names this process and ``seq`` counts its messages per group, so a hub that sees
``seq`` jump knows it missed something (see hub.py). About a second after its last message
to a group, a process also sends a ``tail`` repeating that ``seq``, so that a lost *last*
message is noticed as well; also when that message could not be sent at all, and until the
tail itself gets through. Each tail goes out once more a few seconds later, for hubs that
were not listening the first time (a pub/sub subscription being renewed).

Sending happens off the save path, on the publisher thread (publisher.py), which merges what
committed meanwhile: one message per model group per batch. The in-memory layer is the
exception: its queues belong to the server's event loop, so it is sent to there.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import itertools
import logging
import math
import os
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from . import conf
from .actor import Actor
from .publisher import Publisher

logger = logging.getLogger("realtime_admin")

CREATED, UPDATED, DELETED = "created", "updated", "deleted"
OPS = (CREATED, UPDATED, DELETED)
EVENT_TYPE = "realtime_admin.changes"
JOB_EVENT_TYPE = "realtime_admin.job"
USER_JOBS_EVENT_TYPE = "realtime_admin.user_jobs"  # a user started or dismissed a job
TAIL_EVENT_TYPE = "realtime_admin.tail"
PROBE_EVENT_TYPE = "realtime_admin.probe"
MARKER_EVENT_TYPE = "realtime_admin.marker"
PRESENCE_EVENT_TYPE = "realtime_admin.presence"
TAIL_DELAY = 1.0  # seconds after a group's last message before its tail goes out
# Seconds after a tail before it goes out once more: on channels_redis' pub/sub layer a hub
# re-subscribing after a Redis restart misses what was published meanwhile, the tail included.
TAIL_REPEAT_DELAY = 5.0
TAIL_RETRY_MAX = 10.0  # seconds between two tries of a tail at most, while sends fail
PUBLISH_INTERVAL = 0.25  # seconds between two batches from one process (publisher.py)

ORIGIN = uuid.uuid4().hex[:12]
_counters: dict[str, itertools.count] = defaultdict(lambda: itertools.count(1))
_counters_lock = threading.Lock()
# The event loop serving websockets in this process, once one connected. InMemoryChannelLayer's
# queues belong to that loop, so in-memory publishes from other threads must run on it.
_server_loop: asyncio.AbstractEventLoop | None = None
_warned_in_memory = threading.Event()
_warned_broken_layer = threading.Event()
_tasks: set[asyncio.Task] = set()  # keeps fire-and-forget sends alive until done
# group -> (when due, on the monotonic clock; the tail to send for it), under _counters_lock
_tails: dict[str, tuple[float, dict]] = {}
_tail_timer: threading.Timer | None = None  # fires when the earliest tail is due
_tail_timer_at = 0.0
_failed_tails = 0  # tails that failed in a row (Redis unreachable): the retries back off
_last_sent: dict[str, dict] = {}  # group -> stamp of this process's last message to it


def _new_origin() -> None:
    """A forked child (a prefork worker, a preloaded server) is a publisher of its own: with
    its parent's origin, its sequence numbers would mix with its siblings'."""
    global ORIGIN, _counters_lock
    ORIGIN = uuid.uuid4().hex[:12]
    _counters_lock = threading.Lock()  # another thread may have held it at the fork
    _counters.clear()
    _last_sent.clear()
    forget_tails()
    _publisher.reset()


def forget_tails() -> None:
    """Drop every tail due, unsent, and stop their timer (a forked child; a test's end)."""
    global _tail_timer, _failed_tails
    with _counters_lock:
        if _tail_timer is not None:
            _tail_timer.cancel()
        _tails.clear()
        _tail_timer, _failed_tails = None, 0


os.register_at_fork(after_in_child=_new_origin)


def serving(loop: asyncio.AbstractEventLoop) -> None:
    """Called by the consumer: this process serves websockets on ``loop``."""
    global _server_loop
    _server_loop = loop


def group_name(label: str) -> str:
    """The channel-layer group of a model, from its ``app_label.model_name``."""
    return f"{conf.get('GROUP_PREFIX')}.{label}"


def numbered(group: str, event: dict) -> dict:
    """``event`` for ``group``, stamped with this process's next sequence number."""
    with _counters_lock:
        stamp = {"group": group, "origin": ORIGIN, "seq": next(_counters[group])}
        stamp["at"] = time.time()
        previous, _last_sent[group] = _last_sent.get(group), stamp
    # When this process last sent to the group, so that a hub that never heard from it
    # can tell whether it missed that message.
    return {**event, **stamp, "prev_at": previous["at"] if previous else None}


def _tail_due(event: dict, delay: float | None = None, repeat: bool = False) -> None:
    """``event`` was sent (or failed to be): a tail repeating its number goes out ``delay``
    seconds later (``TAIL_DELAY`` by default). Only once it was tried, so that the tail
    cannot overtake it. A later message's tail replaces an earlier one's."""
    stamp = {key: event[key] for key in ("group", "origin", "seq", "at")}
    tail = {"type": TAIL_EVENT_TYPE, **stamp, "repeat": repeat}
    due_at = time.monotonic() + (TAIL_DELAY if delay is None else delay)
    with _counters_lock:
        due = _tails.get(event["group"])
        if due is None or due[1]["seq"] <= tail["seq"]:
            _tails[event["group"]] = (due_at, tail)
            _start_tail_timer()


def _start_tail_timer() -> None:
    """Have the timer fire when the earliest tail is due (under ``_counters_lock``)."""
    global _tail_timer, _tail_timer_at
    if not _tails:
        return
    at = min(due_at for due_at, _ in _tails.values())
    if _tail_timer is not None:
        if _tail_timer_at <= at:
            return
        _tail_timer.cancel()
    timer = threading.Timer(max(0.0, at - time.monotonic()), send_tails)
    timer.daemon = True
    try:
        timer.start()
    except RuntimeError:  # the interpreter is exiting: _flush_at_exit sends the tails
        _tail_timer = None
        return
    _tail_timer, _tail_timer_at = timer, at


def _due_tails(now: float = math.inf) -> list[dict]:
    """Take the tails due by ``now`` (all of them by default); the timer is set for the rest."""
    global _tail_timer
    with _counters_lock:
        due = [group for group, (due_at, _) in _tails.items() if due_at <= now]
        tails = [_tails.pop(group)[1] for group in due]
        if _tail_timer is not None:  # (a no-op when it is the timer calling)
            _tail_timer.cancel()
        _tail_timer = None
        _start_tail_timer()
    return tails


def send_tails() -> None:
    """Send the tails that are due (from the timer thread)."""
    tails = _due_tails(time.monotonic() + 0.01)
    if tails:  # at once, not behind the interval: a tail is small, one a second at most
        _deliver("tails", tails, spaced=False)


def publish(changes: Mapping[str, Mapping[str, str]], by: Actor | None = None) -> None:
    """Send ``{model label: {pk: op}}``, one message per model group; never raises (the
    writes already committed). The mappings are not copied: do not change them after.
    ``by`` is who made the changes (actor.py), if known."""
    if changes:
        _deliver("changes", (changes, by))


def job_group(job_id: int) -> str:
    return f"{conf.get('GROUP_PREFIX')}.job.{job_id}"


def publish_job(job_id: int, state: dict) -> None:
    """Send a background job's state to the pages watching it."""
    _deliver("job", (job_id, state))


def user_jobs_group(user_id: int) -> str:
    return f"{conf.get('GROUP_PREFIX')}.jobs.user.{user_id}"


def publish_user_jobs(user_id: int) -> None:
    """Tell a user's pages that their list of jobs changed (one started, or was dismissed),
    so that their other tabs show it too."""
    _deliver("user_jobs", user_id)


def _deliver(kind: str, payload, spaced: bool = True) -> None:
    """Hand a message to the publisher thread, or, for the in-memory layer, send it on the
    loop that owns the layer's queues."""
    try:
        layer = get_channel_layer()
    except Exception:  # a broken CHANNEL_LAYERS (check E006): the writes committed anyway
        if not _warned_broken_layer.is_set():
            _warned_broken_layer.set()
            logger.exception(
                "realtime_admin: the channel layer cannot be made; nothing is published"
            )
        return
    if layer is None:
        logger.warning("realtime_admin: no CHANNEL_LAYERS configured; nothing published.")
        return
    if not isinstance(layer, InMemoryChannelLayer):
        item = (layer, kind, payload)
        if spaced:
            _publisher.submit(item)
        else:
            _publisher.send_soon(item)
        return
    batch = [(layer, kind, payload)]
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is not None:  # called from async code: send without blocking its loop
        task = running.create_task(_send_batch(batch))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
        return
    loop = _server_loop
    if loop is not None and loop.is_running():
        try:
            asyncio.run_coroutine_threadsafe(_send_batch(batch), loop).result(timeout=10)
        except TimeoutError:
            logger.error("realtime_admin: the server loop did not take a message within 10 s")
        except concurrent.futures.CancelledError:
            pass  # the server is shutting down: its loop cancelled the send, nobody is left
    else:
        if not _serves_asgi():
            _warn_in_memory_once()
        async_to_sync(_send_batch)(batch)


async def _send_batch(items: list[tuple]) -> None:
    """Send what was submitted since the last batch: the changes of all its transactions
    merged into one message per model group (a row's last op wins, as in a socket's outbox),
    job states and tails as they came."""
    for layer in dict.fromkeys(layer for layer, _, _ in items):
        parts: dict[str, list[tuple[Mapping[str, str], Actor | None]]] = defaultdict(list)
        events = []
        for _, kind, payload in (item for item in items if item[0] is layer):
            if kind == "changes":
                changed, by = payload
                for label, rows in changed.items():
                    parts[label].append((rows, by))
            elif kind == "job":
                job_id, state = payload
                events.append(numbered(job_group(job_id), {"type": JOB_EVENT_TYPE, "job": state}))
            elif kind == "user_jobs":
                events.append(numbered(user_jobs_group(payload), {"type": USER_JOBS_EVENT_TYPE}))
            else:
                events.extend(payload)
        listed: dict[int, dict] = {}  # a model's proxies share their rows: list them once
        changes = []
        for label, rows_of in parts.items():
            rows, by = rows_of[0]
            key = id(rows)
            if len(rows_of) > 1:  # several transactions: a row's last op (and actor) wins
                rows, by, key = {}, _Authors(), label
                for part, actor in rows_of:
                    rows.update(part)
                    by.made(part, actor)
            if key not in listed:
                listed[key] = {"changes": [[pk, op] for pk, op in rows.items()]}
                listed[key].update(_Authors.of(rows, by))
            event = {"type": EVENT_TYPE, "model": label, **listed[key]}
            changes.append(numbered(group_name(label), event))
        await _send_events(layer, changes + events)


class _Authors:
    """Who made each row's last change, when several transactions are merged: sent as
    ``"actors": [actor, ...]`` and ``"by": {pk: index}`` (rows by nobody known left out)."""

    def __init__(self) -> None:
        self.actors: list[Actor] = []
        self.by: dict[str, int] = {}

    def made(self, rows: Mapping[str, str], actor: Actor | None) -> None:
        if actor is None:
            for pk in rows:
                self.by.pop(pk, None)
            return
        if actor not in self.actors:
            self.actors.append(actor)
        index = self.actors.index(actor)
        self.by.update(dict.fromkeys(rows, index))

    @staticmethod
    def of(rows: Mapping[str, str], by: _Authors | Actor | None) -> dict:
        """The event fields saying who made ``rows``' changes (none if nobody is known)."""
        if isinstance(by, _Authors):
            return {"actors": by.actors, "by": by.by} if by.by else {}
        return {"actors": [by], "by": dict.fromkeys(rows, 0)} if by else {}


_publisher = Publisher(_send_batch, interval=PUBLISH_INTERVAL)


def flush(timeout: float = 5.0) -> bool:
    """Wait until this process's messages so far went out (or failed); False on timeout."""
    return _publisher.flush(timeout)


def _flush_at_exit() -> None:
    """A shell or cron process may exit right after its last write: send what is queued,
    then its tails, before the interpreter stops the publisher thread."""
    if not _publisher.started or not flush() or not (tails := _due_tails()):
        return  # (no thread can start now: tails are due only after it sent something)
    layer = get_channel_layer()
    if layer is not None and not isinstance(layer, InMemoryChannelLayer):
        _publisher.submit((layer, "tails", tails))
        flush()


# threading's pre-shutdown hook runs before concurrent.futures shuts the executor down that
# asyncio resolves host names in (a plain atexit handler runs after); it is what
# concurrent.futures itself uses.
getattr(threading, "_register_atexit", atexit.register)(_flush_at_exit)


def _serves_asgi() -> bool:
    """Whether this process loaded the ASGI application (a server does; a worker, cron job
    or shell does not, and its in-memory publishes reach nobody)."""
    module = (getattr(settings, "ASGI_APPLICATION", None) or "").rpartition(".")[0]
    return module in sys.modules


def _warn_in_memory_once() -> None:
    if not _warned_in_memory.is_set():
        _warned_in_memory.set()
        logger.warning(
            "realtime_admin: changes were published through InMemoryChannelLayer by a process "
            "that does not serve the ASGI application (a worker, cron job or shell?): open "
            "admin tabs will not see them. Use channels_redis when several processes write."
        )


async def _send_events(layer, events: list[dict]) -> None:
    """Never raises: the writes already committed, and delivery is best effort by design
    (hubs notice what they missed and pages resync).

    A message that could not be sent (Redis unreachable) still gets its tail, and a tail that
    could not be sent is tried again, a little later each time: a hub learns of a lost
    message only from a later number, and if it was the last one, only its tail brings that
    number."""
    global _failed_tails
    for event in events:
        is_tail = event["type"] == TAIL_EVENT_TYPE
        try:
            await layer.group_send(event["group"], event)
        except Exception:
            if not is_tail:
                logger.exception("realtime_admin: could not publish to %s", event["group"])
                _tail_due(event)
                continue
            if not _failed_tails:  # (once an outage: its tails are retried quietly)
                logger.warning("realtime_admin: could not send a tail; retrying", exc_info=True)
            # Tried again after 1 s, 2 s, 4 s... at most every TAIL_RETRY_MAX seconds.
            delay = min(TAIL_DELAY * 2 ** min(_failed_tails, 16), TAIL_RETRY_MAX)
            _failed_tails += 1
            _tail_due(event, delay, repeat=event["repeat"])
        else:
            if is_tail:
                _failed_tails = 0
                if not event["repeat"]:
                    _tail_due(event, TAIL_REPEAT_DELAY, repeat=True)
            else:
                _tail_due(event)
