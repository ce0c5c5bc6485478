"""One channel-layer listener per server process: it joins each group once for all of the
process's sockets, fans events out to them, and notices when the layer lost something.

Delivery over a channel layer is best effort: channels_redis drops messages
to a channel over capacity, forgets groups when Redis restarts and expires membership after a
day. The hub turns each of those into a ``lost(group)`` call on the sockets concerned, which
then tell their pages to re-read their view over HTTP:

- every event carries its publisher's ``origin`` and a per-group ``seq``: a jump is a drop;
- publishers send a ``tail`` (their last ``seq``) shortly after a burst, so a dropped *last*
  message is noticed too;
- on a heartbeat the hub sends itself a probe through each group, then a marker straight to
  its own channel, and re-adds itself to the groups. The channel is first in, first out, so
  once the marker is back every probe that was delivered is back too, however long the
  queue: a missing probe means membership was lost (Redis restarted, or the group expired),
  and anything may have been missed in between.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import weakref
from collections import defaultdict
from typing import Protocol

from . import bus, conf, presence
from .actor import Actor
from .presence import PresenceBook

logger = logging.getLogger("realtime_admin")

MARKER_TIMEOUT = 30.0  # seconds the marker may take to come back through a long queue
RETRY_AFTER_ERROR = 1.0  # seconds to wait after the layer failed a receive
# Heartbeats another process's presence announcement lasts without being renewed.
PRESENCE_RENEWALS = 3


class Member(Protocol):
    """What the hub needs of a socket."""

    async def hub_event(self, event: dict) -> None: ...

    async def hub_lost(self, group: str) -> None: ...

    async def hub_presence(self, place: str, users: list[Actor]) -> None: ...

    async def hub_layer(self, up: bool) -> None: ...


class Hub:
    def __init__(self, layer) -> None:
        self.layer = layer
        self.channel: str | None = None
        self.members: dict[str, set[Member]] = defaultdict(set)
        self.last_seq: dict[str, dict[str, int]] = defaultdict(dict)  # group -> origin -> seq
        # Since when this hub has heard everything sent to a group, and when it last heard
        # something (wall clock, as publishers stamp their events).
        self.complete_from: dict[str, float] = {}
        self.last_event_at: dict[str, float] = {}
        self.probes_back: set[str] = set()
        self.probe_token = 0
        self.marker_back = asyncio.Event()
        self.layer_failed = False  # events may have been lost since the last heartbeat
        self.layer_up = True  # as last told to the sockets (layer_state)
        self.tasks: list[asyncio.Task] = []
        self.starting = asyncio.Lock()
        self.probe_counter = itertools.count(1)
        self.presence = PresenceBook()
        self.presence_groups: dict[str, str] = {}  # group -> place, for the places joined
        self.lingering: set[asyncio.Task] = set()  # users shown a little after they left

    async def join(self, group: str, member: Member) -> None:
        async with self.starting:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
                self.tasks = [
                    asyncio.create_task(self.listen()),
                    asyncio.create_task(self.every_heartbeat(self.check, self.check_failed)),
                    # Presence on a timer of its own: a check may wait long for its marker
                    # on a busy channel, and the others must not expire our users meanwhile.
                    asyncio.create_task(
                        self.every_heartbeat(self.renew_presence, self.renew_failed)
                    ),
                ]
        first = not self.members[group]
        self.members[group].add(member)  # (before telling it: a layer_state meanwhile finds it)
        if not self.layer_up:
            await member.hub_layer(False)
        if first:
            try:
                await self.layer.group_add(group, self.channel)
            except Exception:
                # e.g. Redis down (the server started without it): the socket stays, is told,
                # and its group is joined by the next heartbeat that gets through, which then
                # has its page catch up (complete_from is not set: nothing was heard yet).
                logger.warning("realtime_admin: could not join %s; retrying", group)
                await self.layer_down()
                return
            self.complete_from[group] = time.time()

    def heard_everything_since(self, group: str, since: float) -> bool:
        """Whether no event reached ``group`` after ``since`` and the hub would have heard
        one: a page rendered at ``since`` whose socket joined just now then missed nothing."""
        return (
            self.complete_from.get(group, float("inf")) <= since
            and self.last_event_at.get(group, 0) < since
        )

    # Presence (presence.py): who else looks at the same list or object

    async def here(self, place: str, member: Member, user: Actor) -> None:
        """``member``'s user is in ``place`` until ``gone``."""
        group = presence.group_of(conf.get("GROUP_PREFIX"), place)
        first = place not in self.presence.local
        self.presence_groups[group] = place
        await self.join(group, member)
        if self.presence.join(place, member, user):
            # The first of this process there asks the others for their users.
            await self.announce(place, ask=first)
            await self.tell_roster(place)
        else:
            await member.hub_presence(place, self.presence.roster(place))

    async def gone(self, place: str, member: Member) -> None:
        """``member`` left ``place``: its user is shown for ``PRESENCE_GRACE`` seconds more
        unless they come back (a reconnect), and the hub keeps listening there meanwhile."""
        grace = float(conf.get("PRESENCE_GRACE"))
        if self.presence.leave(place, member, time.monotonic() + grace if grace else 0.0):
            await self.told_changes([place])
        if not grace:
            return await self.left_place(place, member)
        task = asyncio.create_task(self.after_grace(place, member, grace))
        self.lingering.add(task)  # (kept alive until done)
        task.add_done_callback(self.lingering.discard)

    async def after_grace(self, place: str, member: Member, grace: float) -> None:
        await asyncio.sleep(grace)
        try:
            await self.told_changes(self.presence.sweep(time.monotonic()))
        finally:
            if member not in self.presence.members(place):  # (not if it came back meanwhile)
                await self.left_place(place, member)

    async def left_place(self, place: str, member: Member) -> None:
        group = presence.group_of(conf.get("GROUP_PREFIX"), place)
        if place not in self.presence.places():
            self.presence_groups.pop(group, None)
        await self.leave(group, member)

    async def told_changes(self, places: list[str]) -> None:
        """This process's users of ``places`` changed: tell the others and our sockets."""
        for place in places:
            await self.announce(place)
            await self.tell_roster(place)

    async def announce(self, place: str, ask: bool = False) -> None:
        """Tell the other processes this one's users of ``place`` (none: it left)."""
        if self.channel is None:
            return
        group = presence.group_of(conf.get("GROUP_PREFIX"), place)
        event = {
            "type": bus.PRESENCE_EVENT_TYPE,
            "group": group,
            "place": place,
            "hub": self.channel,
            "users": self.presence.local_users(place),
            "ask": ask,
            # How long the others keep this without a renewal: our heartbeat, not theirs.
            "ttl": PRESENCE_RENEWALS * conf.get("HEARTBEAT_INTERVAL"),
        }
        try:
            await self.layer.group_send(group, event)
        except Exception:  # e.g. Redis down: the next heartbeat announces again
            logger.warning("realtime_admin: could not announce presence", exc_info=True)

    async def heard_presence(self, event: dict) -> None:
        place, hub = event["place"], event["hub"]
        if hub == self.channel or place not in self.presence.local:
            return
        ttl = event.get("ttl") or PRESENCE_RENEWALS * conf.get("HEARTBEAT_INTERVAL")
        expires = time.monotonic() + float(ttl)
        if self.presence.heard(place, hub, event["users"], expires):
            await self.tell_roster(place)
        if event.get("ask"):
            await self.announce(place)

    async def tell_roster(self, place: str) -> None:
        users = self.presence.roster(place)
        for member in self.presence.members(place):
            try:
                await member.hub_presence(place, users)
            except Exception:
                logger.exception("realtime_admin: a socket failed to take a roster")

    async def renew_presence(self) -> None:
        """Announce this process's users again; forget those of silent processes, unless
        our own link to the layer failed since the last heartbeat check (then their silence
        may be ours: the check finds out, and asks them again)."""
        for place in self.presence.places():
            await self.announce(place)
        if self.layer_failed:
            return
        for place in self.presence.expire(time.monotonic()):
            await self.tell_roster(place)

    async def leave(self, group: str, member: Member) -> None:
        members = self.members.get(group)
        if members is None:
            return
        members.discard(member)
        if members:
            return
        del self.members[group]
        for state in (self.last_seq, self.complete_from, self.last_event_at):
            state.pop(group, None)
        channel = self.channel
        if not self.members:
            self.stop()
        if channel is not None:
            try:
                await self.layer.group_discard(group, channel)
            except Exception:  # e.g. Redis down: the membership expires on its own
                logger.warning("realtime_admin: could not leave %s", group, exc_info=True)

    def stop(self) -> None:
        # The last socket may leave from inside the listener (a deleted object it followed):
        # that task ends by itself once it sees the channel is no longer its own.
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        self.tasks = []
        self.channel = None

    async def listen(self) -> None:
        channel = self.channel
        while self.channel == channel:
            try:
                event = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                # e.g. Redis restarted: what was sent meanwhile is gone, and so are the groups.
                # The next heartbeat re-joins them and has every page catch up.
                logger.warning("realtime_admin: the channel layer failed a receive; retrying")
                await self.layer_down()
                await asyncio.sleep(RETRY_AFTER_ERROR)
                continue
            try:
                await self.dispatch(event)
            except Exception:
                logger.exception("realtime_admin: could not dispatch %r", event.get("type"))
        # The hub stopped from inside this task (its last socket left while handling an
        # event), so no receive was pending for stop() to cancel; channels_redis' pub/sub
        # layer lets go of a channel (UNSUBSCRIBE) only when a receive on it is cancelled.
        receive = asyncio.ensure_future(self.layer.receive(channel))
        await asyncio.sleep(0)
        receive.cancel()
        await asyncio.wait([receive])
        if not receive.cancelled():
            receive.exception()  # (read: a late message or error has nobody left to go to)

    async def dispatch(self, event: dict) -> None:
        group = event.get("group")
        if event["type"] == bus.PRESENCE_EVENT_TYPE:
            return await self.heard_presence(event)
        if event["type"] in (bus.PROBE_EVENT_TYPE, bus.MARKER_EVENT_TYPE):
            if event.get("hub") == self.channel and event.get("token") == self.probe_token:
                if event["type"] == bus.MARKER_EVENT_TYPE:
                    self.marker_back.set()
                else:
                    self.probes_back.add(group)
            return
        members = list(self.members.get(group, ()))
        if not members:
            return
        missed = self.missed(group, event)
        if event["type"] == bus.TAIL_EVENT_TYPE:
            if missed:
                await self.lost(group)
            return
        self.last_event_at[group] = time.time()
        # One after another, not a task each: members of one viewer share one row-rule query
        # (the first awaits it, the rest find it done), the queries of different viewers run
        # one at a time in the database thread anyway, and a task per socket was a good part
        # of the cost of fanning out to a thousand sockets.
        for member in members:
            await self.deliver(member, event, missed)

    def missed(self, group: str, event: dict) -> bool:
        """Whether messages from this event's publisher were lost before it."""
        origin, seq = event.get("origin"), event.get("seq")
        if origin is None or seq is None:
            return False
        seen = self.last_seq[group]
        last = seen.get(origin)
        seen[origin] = max(seq, last or 0)
        if last is None:
            # A publisher not heard from before: was its previous message (for a tail, the
            # message it repeats) sent while this hub listened?
            sent = event.get("at" if event["type"] == bus.TAIL_EVENT_TYPE else "prev_at")
            return sent is not None and sent >= self.complete_from.get(group, float("inf"))
        if event["type"] == bus.TAIL_EVENT_TYPE:
            return seq > last  # a tail repeats the last seq sent
        return seq > last + 1

    async def deliver(self, member: Member, event: dict, missed: bool) -> None:
        try:
            if missed:
                await member.hub_lost(event["group"])
            await member.hub_event(event)
        except Exception:
            logger.exception("realtime_admin: a socket failed to handle %r", event["type"])

    async def lost(self, group: str) -> None:
        self.complete_from[group] = time.time()  # the pages re-read everything from now
        # What came before is covered by that: a publisher's next message (or the tail of a
        # message lost just now) is judged by its time against complete_from, not taken for
        # a second gap.
        self.last_seq.pop(group, None)
        if group in self.presence_groups:  # other processes' renewals may have been lost
            place = self.presence_groups[group]
            ttl = PRESENCE_RENEWALS * conf.get("HEARTBEAT_INTERVAL")
            self.presence.extend(place, time.monotonic() + ttl)  # until they answer
            await self.announce(place, ask=True)
        await asyncio.gather(
            *(self.deliver_lost(member, group) for member in list(self.members.get(group, ())))
        )

    async def deliver_lost(self, member: Member, group: str) -> None:
        try:
            await member.hub_lost(group)
        except Exception:
            logger.exception("realtime_admin: a socket failed to resync %s", group)

    async def every_heartbeat(self, step, failed) -> None:
        """Run ``step`` every ``HEARTBEAT_INTERVAL`` for as long as this hub listens on the
        channel it started with; ``failed()`` when it raises."""
        channel = self.channel
        while True:
            await asyncio.sleep(conf.get("HEARTBEAT_INTERVAL"))
            if self.channel != channel:
                return
            try:
                await step()
            except Exception:
                await failed()

    async def check_failed(self) -> None:
        # e.g. Redis down, or our own channel full.
        logger.warning("realtime_admin: heartbeat failed; retrying", exc_info=True)
        await self.layer_down()

    @staticmethod
    async def renew_failed() -> None:
        logger.warning("realtime_admin: could not renew presence", exc_info=True)

    async def layer_down(self) -> None:
        """The layer failed us: assume events were lost (the next heartbeat that gets
        through has every page catch up), and have the pages say so meanwhile."""
        self.layer_failed = True
        await self.layer_state(up=False)

    async def layer_state(self, up: bool) -> None:
        """Tell every socket when the layer stops working (a receive or a heartbeat failed)
        and when it works again (a whole heartbeat went through): meanwhile their pages may
        be behind, and say so."""
        if up == self.layer_up:
            return
        self.layer_up = up
        for member in {member for members in self.members.values() for member in members}:
            try:
                # The state now, not ``up``: another call may have changed it during a send.
                await member.hub_layer(self.layer_up)
            except Exception:
                logger.exception("realtime_admin: a socket failed to take the layer's state")

    async def check(self) -> None:
        """Probe every group through the layer and wait for the marker behind the probes;
        then re-join every group (which also renews its expiry). The groups whose probe did
        not come back may have missed events."""
        groups = list(self.members)
        self.probe_token = next(self.probe_counter)
        self.probes_back = set()
        self.marker_back.clear()
        stamp = {"hub": self.channel, "token": self.probe_token}
        for group in groups:
            await self.layer.group_send(
                group, {"type": bus.PROBE_EVENT_TYPE, "group": group, **stamp}
            )
        await self.layer.send(self.channel, {"type": bus.MARKER_EVENT_TYPE, **stamp})
        try:
            await asyncio.wait_for(self.marker_back.wait(), MARKER_TIMEOUT)
        except TimeoutError:
            self.layer_failed = True  # our own channel lost a message: assume the worst
        for group in groups:
            if group in self.members and self.channel is not None:
                await self.layer.group_add(group, self.channel)
        failed, self.layer_failed = self.layer_failed, False
        await self.layer_state(up=True)
        for group in groups:
            if failed or group not in self.probes_back:
                logger.info("realtime_admin: %s may have lost events; its pages resync", group)
                await self.lost(group)


_hubs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> {layer id: Hub}


def hub_for(layer) -> Hub:
    """This event loop's hub for ``layer`` (one per server process in practice)."""
    hubs = _hubs.setdefault(asyncio.get_running_loop(), {})
    hub = hubs.get(id(layer))
    if hub is None or hub.layer is not layer:
        hub = hubs[id(layer)] = Hub(layer)
    return hub
