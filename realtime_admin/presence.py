"""Who is looking at what: the bookkeeping behind "who else is here".

A *place* is a changelist (``"shop.order@admin"``: a model's list on one admin site) or one
object's change form (``"shop.order:42"``, whichever site or proxy shows it). Each server
process's hub (hub.py) keeps a ``PresenceBook``: the users of its own sockets in each place,
and the users that other processes' hubs announced there. Hubs announce their users of a
place through the channel layer when they change and on every heartbeat; an announcement
not renewed in time expires, so the users of a crashed process disappear within a few
heartbeats. A tab that closes leaves after ``PRESENCE_GRACE`` seconds, so that a tab
reconnecting meanwhile does not blink out and in.

Only server processes see places and names; a socket is told the roster of a place only
after the consumer checked that its user may view that place.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Hashable
from typing import Any

from .actor import Actor


def place_of(label: str, pk: str | None = None, site: str | None = None) -> str:
    """An object's place (``label:pk``), or a changelist's: one per admin site, since who
    may see a list (and so whom it shows as here) differs from site to site."""
    if pk is not None:
        return f"{label}:{pk}"
    return label if site is None else f"{label}@{site}"


def group_of(prefix: str, place: str) -> str:
    """The channel-layer group of a place: group names allow few characters, pks any."""
    return f"{prefix}.presence.{hashlib.blake2b(place.encode(), digest_size=10).hexdigest()}"


def _distinct(users) -> list[Actor]:
    """Each user once (several tabs are one person), in name order."""
    by_id = {user["id"]: user for user in users}
    return sorted(by_id.values(), key=lambda user: (str(user["name"]).lower(), str(user["id"])))


class PresenceBook:
    def __init__(self) -> None:
        self.local: dict[str, dict[Hashable, Actor]] = defaultdict(dict)  # place -> member -> user
        # place -> user id -> (user, until when): users whose last tab there just closed, kept
        # for a grace period so that a reconnecting tab (a server or Redis restart) does not
        # make them blink out and in on everyone's page.
        self.lingering: dict[str, dict[Any, tuple[Actor, float]]] = defaultdict(dict)
        # place -> announcing hub -> (its users there, when that announcement expires)
        self.remote: dict[str, dict[str, tuple[list[Actor], float]]] = defaultdict(dict)

    def join(self, place: str, member: Hashable, user: Actor) -> bool:
        """A socket of this process is in ``place``; whether this process's users there changed."""
        before = self.local_users(place)
        self.local[place][member] = user
        self.lingering.get(place, {}).pop(user["id"], None)
        return self.local_users(place) != before

    def leave(self, place: str, member: Hashable, linger_until: float = 0.0) -> bool:
        """A socket left ``place``; its user stays shown until ``linger_until`` unless another
        of their tabs is there. Whether this process's users there changed."""
        members = self.local.get(place)
        if not members or member not in members:
            return False
        before = self.local_users(place)
        user = members.pop(member)
        if not members:
            del self.local[place]
        if linger_until and user["id"] not in {u["id"] for u in members.values()}:
            self.lingering[place][user["id"]] = (user, linger_until)
        self.forget_if_empty(place)
        return self.local_users(place) != before

    def sweep(self, now: float) -> list[str]:
        """Stop showing users whose grace is over; the places whose local users changed."""
        changed = []
        for place in list(self.lingering):
            before = self.local_users(place)
            users = self.lingering[place]
            for user_id in [i for i, (_, until) in users.items() if until <= now]:
                del users[user_id]
            self.forget_if_empty(place)
            if self.local_users(place) != before:
                changed.append(place)
        return changed

    def forget_if_empty(self, place: str) -> None:
        """Nobody of this process is there any more: it stops listening, and what it heard
        goes stale."""
        if not self.lingering.get(place):
            self.lingering.pop(place, None)
            if place not in self.local:
                self.remote.pop(place, None)

    def heard(self, place: str, hub: str, users: list[Actor], expires: float) -> bool:
        """Another process's hub announced its users of ``place``; whether the roster changed."""
        before = self.roster(place)
        if users:
            self.remote[place][hub] = (_distinct(users), expires)
        else:
            self.remote[place].pop(hub, None)
            if not self.remote[place]:
                del self.remote[place]
        return self.roster(place) != before

    def extend(self, place: str, expires: float) -> None:
        """Keep what was heard of ``place`` at least until ``expires``: after a fault of our
        own, the others' renewals may have been lost, not the others."""
        for hub, (users, until) in self.remote.get(place, {}).items():
            self.remote[place][hub] = (users, max(until, expires))

    def expire(self, now: float) -> list[str]:
        """Forget announcements not renewed by ``now``; the places whose roster changed."""
        changed = []
        for place in list(self.remote):
            before = self.roster(place)
            hubs = self.remote[place]
            for hub in [hub for hub, (_, expires) in hubs.items() if expires <= now]:
                del hubs[hub]
            if not hubs:
                del self.remote[place]
            if self.roster(place) != before:
                changed.append(place)
        return changed

    def local_users(self, place: str) -> list[Actor]:
        lingering = [user for user, _ in self.lingering.get(place, {}).values()]
        return _distinct([*self.local.get(place, {}).values(), *lingering])

    def roster(self, place: str) -> list[Actor]:
        """Everyone in ``place`` as far as this process knows, each user once."""
        remote = [user for users, _ in self.remote.get(place, {}).values() for user in users]
        return _distinct([*self.local_users(place), *remote])

    def members(self, place: str) -> list[Hashable]:
        return list(self.local.get(place, ()))

    def places(self) -> list[str]:
        """The places this process has users in (lingering ones too)."""
        return list(dict.fromkeys([*self.local, *self.lingering]))
