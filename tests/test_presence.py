"""Presence: who else is on a changelist or a change form.

First the bookkeeping of one process (presence.PresenceBook), then hubs (hub.Hub) that share
one channel layer, standing in for the server processes of a deployment: each hub tells the
others its users of a place, asks them for theirs when it arrives, and forgets those of a
process that stopped announcing (a crash) after PRESENCE_RENEWALS heartbeats.
"""

import asyncio
import time
from collections import defaultdict
from types import SimpleNamespace

import pytest
from channels.layers import InMemoryChannelLayer

from realtime_admin import bus, conf
from realtime_admin import hub as hub_module
from realtime_admin.hub import PRESENCE_RENEWALS, Hub
from realtime_admin.presence import PresenceBook, group_of, place_of

ALICE = {"id": 1, "name": "Alice"}
BOB = {"id": 2, "name": "Bob"}
CAROL = {"id": 3, "name": "carol"}
PLACE = "shop.order:7"
LIST = "shop.order"


# The book of one process


def names(users) -> list[str]:
    return [user["name"] for user in users]


def test_local_members_join_and_leave():
    book = PresenceBook()
    assert book.join(PLACE, "tab-a", ALICE)  # the process's users there changed
    assert book.join(PLACE, "tab-b", BOB)
    assert book.roster(PLACE) == [ALICE, BOB]
    assert book.members(PLACE) == ["tab-a", "tab-b"]
    assert book.leave(PLACE, "tab-a")
    assert book.roster(PLACE) == [BOB]
    assert book.leave(PLACE, "tab-b")
    assert book.roster(PLACE) == []
    assert book.places() == []  # nothing kept for an empty place
    assert not book.leave(PLACE, "tab-b")  # leaving twice changes nothing
    assert not book.leave("shop.order:8", "tab-b")  # nor leaving a place never joined


def test_places_are_kept_apart():
    book = PresenceBook()
    book.join(PLACE, "tab-a", ALICE)
    book.join(LIST, "tab-b", BOB)
    book.join("shop.order:8", "tab-c", CAROL)
    assert book.roster(PLACE) == [ALICE]
    assert book.roster(LIST) == [BOB]
    assert sorted(book.places()) == sorted([PLACE, LIST, "shop.order:8"])


def test_a_user_with_several_tabs_is_counted_once():
    book = PresenceBook()
    assert book.join(PLACE, "tab-1", ALICE)
    assert not book.join(PLACE, "tab-2", ALICE)  # her second tab: nothing new to announce
    assert book.roster(PLACE) == [ALICE]
    assert book.local_users(PLACE) == [ALICE]
    assert not book.leave(PLACE, "tab-1")  # still there in her other tab
    assert book.roster(PLACE) == [ALICE]
    assert book.leave(PLACE, "tab-2")
    assert book.roster(PLACE) == []


def test_the_roster_is_sorted_by_name_whatever_the_case():
    book = PresenceBook()
    book.join(PLACE, "c", CAROL)
    book.join(PLACE, "b", BOB)
    book.join(PLACE, "a", ALICE)
    book.heard(PLACE, "other-hub", [{"id": 4, "name": "aaron"}, {"id": 5, "name": "Zoe"}], 100)
    assert names(book.roster(PLACE)) == ["aaron", "Alice", "Bob", "carol", "Zoe"]
    # Namesakes stay two people, in a stable order.
    book.join(PLACE, "d", {"id": 9, "name": "Bob"})
    assert [(user["name"], user["id"]) for user in book.roster(PLACE)][2:4] == [
        ("Bob", 2),
        ("Bob", 9),
    ]


def test_other_processes_announcements_are_merged_each_user_once():
    book = PresenceBook()
    book.join(PLACE, "tab", ALICE)
    assert book.heard(PLACE, "hub-2", [BOB], expires=100)
    assert book.heard(PLACE, "hub-3", [CAROL, BOB, CAROL], expires=100)
    assert book.roster(PLACE) == [ALICE, BOB, CAROL]
    # Alice has a tab on another process too: still one Alice.
    assert not book.heard(PLACE, "hub-4", [ALICE], expires=100)
    assert book.roster(PLACE) == [ALICE, BOB, CAROL]
    # The same announcement again (a heartbeat) changes nothing.
    assert not book.heard(PLACE, "hub-2", [BOB], expires=200)
    # The process's own users are not the others' business.
    assert book.local_users(PLACE) == [ALICE]


def test_an_empty_announcement_removes_that_hub_only():
    book = PresenceBook()
    book.join(PLACE, "tab", ALICE)
    book.heard(PLACE, "hub-2", [BOB], expires=100)
    book.heard(PLACE, "hub-3", [BOB, CAROL], expires=100)
    assert book.heard(PLACE, "hub-3", [], expires=100)  # its last tab there closed
    assert book.roster(PLACE) == [ALICE, BOB]  # Bob is still there through hub-2
    assert not book.heard(PLACE, "hub-9", [], expires=100)  # a hub never heard of
    assert book.heard(PLACE, "hub-2", [], expires=100)
    assert book.roster(PLACE) == [ALICE]
    assert PLACE not in book.remote  # no empty leftovers


def test_an_announcement_not_renewed_in_time_expires():
    book = PresenceBook()
    book.join(PLACE, "tab", ALICE)
    book.heard(PLACE, "crashed", [BOB], expires=10.0)
    book.heard(PLACE, "alive", [CAROL], expires=10.0)
    assert book.expire(now=5.0) == []
    book.heard(PLACE, "alive", [CAROL], expires=20.0)  # renewed on its heartbeat
    assert book.expire(now=9.99) == []
    assert book.roster(PLACE) == [ALICE, BOB, CAROL]
    assert book.expire(now=10.0) == [PLACE]  # the crashed process's users vanish
    assert book.roster(PLACE) == [ALICE, CAROL]
    assert book.expire(now=19.0) == []
    assert book.expire(now=20.0) == [PLACE]
    assert book.roster(PLACE) == [ALICE]
    assert PLACE not in book.remote


def test_expiry_names_only_the_places_whose_roster_changed():
    book = PresenceBook()
    book.join(PLACE, "tab", ALICE)
    book.join(LIST, "tab", ALICE)
    book.heard(PLACE, "crashed", [ALICE], expires=10.0)  # Alice is here locally anyway
    book.heard(LIST, "crashed", [BOB], expires=10.0)
    assert book.expire(now=11.0) == [LIST]
    assert book.roster(PLACE) == [ALICE]
    assert book.roster(LIST) == [ALICE]


def test_leaving_the_last_local_member_forgets_what_was_heard():
    book = PresenceBook()
    book.join(PLACE, "tab", ALICE)
    book.heard(PLACE, "hub-2", [BOB], expires=100)
    assert book.leave(PLACE, "tab")
    assert book.remote == {} and book.local == {}
    # Back later: what was heard then is stale, the hub asks again.
    book.join(PLACE, "tab", ALICE)
    assert book.roster(PLACE) == [ALICE]


def test_places_are_lists_or_objects():
    assert place_of("shop.order") == "shop.order"
    assert place_of("shop.order", None) == "shop.order"
    assert place_of("shop.order", "7") == "shop.order:7"
    assert place_of("shop.order", "") == "shop.order:"  # an empty pk is still an object
    assert place_of("shop.order", "") != place_of("shop.order")


@pytest.mark.parametrize(
    "pk",
    [None, "7", "a b/é:ü", "", "x" * 1000, "日本語", "a.b-c_d", "tab\tnew\nline", "💥"],
)
def test_every_place_has_a_valid_group_name(pk):
    place = place_of("shop.order", pk)
    group = group_of("realtime_admin", place)
    assert InMemoryChannelLayer().require_valid_group_name(group)
    assert group.isascii() and len(group) < 100
    assert group.startswith("realtime_admin.presence.")
    assert group == group_of("realtime_admin", place)  # the same in every process


def test_different_places_get_different_groups():
    places = [
        place_of("shop.order"),
        *(place_of("shop.order", pk) for pk in ["7", "07", "a b/é:ü", "a b/é:u", "", "x" * 1000]),
        place_of("shop.customer", "7"),
    ]
    groups = {group_of("realtime_admin", place) for place in places}
    assert len(groups) == len(places)
    assert group_of("other", PLACE) != group_of("realtime_admin", PLACE)


async def test_a_presence_group_name_is_accepted_by_the_layer():
    layer = InMemoryChannelLayer()
    group = group_of("realtime_admin", place_of("shop.order", "a b/é:ü"))
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    await layer.group_send(group, {"type": "x"})
    assert await layer.receive(channel) == {"type": "x"}


# Hubs sharing one channel layer: one per server process


class Member:
    """A socket as the hub sees it: records what it is told."""

    def __init__(self, label: str = "") -> None:
        self.label = label
        self.rosters: dict[str, list[list[str]]] = defaultdict(list)
        self.events: list[dict] = []
        self.lost: list[str] = []

    async def hub_event(self, event: dict) -> None:
        self.events.append(event)

    async def hub_lost(self, group: str) -> None:
        self.lost.append(group)

    async def hub_presence(self, place: str, users: list) -> None:
        self.rosters[place].append(names(users))

    async def hub_layer(self, up: bool) -> None: ...

    def sees(self, place: str = PLACE) -> list[str] | None:
        told = self.rosters.get(place)
        return told[-1] if told else None

    def __repr__(self) -> str:
        return f"<Member {self.label}>"


async def until(condition, timeout: float = 2.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.005)


async def sees(member: Member, expected: list[str], place: str = PLACE, timeout=2.0) -> None:
    await until(
        lambda: member.sees(place) == expected,
        timeout,
        f"{member} to see {expected}, it saw {member.rosters.get(place)}",
    )


def settled(member: Member, place: str = PLACE) -> int:
    """How many rosters the member was told so far (to look at the later ones only)."""
    return len(member.rosters[place])


@pytest.fixture
async def hubs(settings):
    """Makes hubs, and stops them (their listener and heartbeat tasks) after the test. No
    heartbeat comes within a test unless it sets a shorter HEARTBEAT_INTERVAL."""
    settings.REALTIME_ADMIN = {**settings.REALTIME_ADMIN, "HEARTBEAT_INTERVAL": 5}
    made: list[Hub] = []

    def make(layer) -> Hub:
        hub = Hub(layer)
        made.append(hub)
        return hub

    yield make
    for hub in made:
        tasks = hub.tasks
        hub.stop()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
def layer():
    return InMemoryChannelLayer()


@pytest.fixture
def announcements(layer, monkeypatch):
    """The presence announcements sent through the layer, in order."""
    sent: list[dict] = []
    real = layer.group_send

    async def spy(group, message):
        if message["type"] == bus.PRESENCE_EVENT_TYPE:
            sent.append(message)
        await real(group, message)

    monkeypatch.setattr(layer, "group_send", spy)
    return sent


async def test_a_user_joining_on_another_process_is_seen(layer, hubs):
    a, b = hubs(layer), hubs(layer)
    alice, bob = Member("alice"), Member("bob")
    await a.here(PLACE, alice, ALICE)
    assert alice.sees() == ["Alice"]  # told at once, herself included (the socket drops her)
    await b.here(PLACE, bob, BOB)
    await sees(alice, ["Alice", "Bob"])
    await sees(bob, ["Alice", "Bob"])
    assert a.channel != b.channel


async def test_a_process_arriving_late_asks_for_the_roster(layer, hubs, announcements):
    a, b = hubs(layer), hubs(layer)
    alice, carol, bob = Member("alice"), Member("carol"), Member("bob")
    await a.here(PLACE, alice, ALICE)
    await a.here(PLACE, carol, CAROL)
    announcements.clear()
    await b.here(PLACE, bob, BOB)
    # Far sooner than a heartbeat (5 s): B asked, A answered.
    await sees(bob, ["Alice", "Bob", "carol"], timeout=1.0)
    assert bob.rosters[PLACE] == [["Bob"], ["Alice", "Bob", "carol"]]
    assert [(event["hub"], names(event["users"]), event["ask"]) for event in announcements] == [
        (b.channel, ["Bob"], True),
        (a.channel, ["Alice", "carol"], False),
    ]
    await sees(alice, ["Alice", "Bob", "carol"])
    await sees(carol, ["Alice", "Bob", "carol"])


async def test_leaving_is_told_to_the_other_process_at_once(layer, hubs, announcements):
    a, b = hubs(layer), hubs(layer)
    alice, bob = Member("alice"), Member("bob")
    await a.here(PLACE, alice, ALICE)
    await b.here(PLACE, bob, BOB)
    await sees(alice, ["Alice", "Bob"])
    channel_of_b = b.channel
    await b.gone(PLACE, bob)
    await sees(alice, ["Alice"], timeout=1.0)  # not after an expiry (15 s here): at once
    assert (announcements[-1]["hub"], announcements[-1]["users"]) == (channel_of_b, [])
    assert b.channel is None  # its last socket left: the hub stopped listening
    assert not a.presence.remote  # nothing left of B's users


async def test_another_tab_of_someone_already_there_changes_nothing_elsewhere(
    layer, hubs, announcements
):
    a, b = hubs(layer), hubs(layer)
    alice, bob, bob_again = Member("alice"), Member("bob"), Member("bob's second tab")
    await a.here(PLACE, alice, ALICE)
    await b.here(PLACE, bob, BOB)
    await sees(alice, ["Alice", "Bob"])
    await sees(bob, ["Alice", "Bob"])
    told, sent = settled(alice), len(announcements)
    await b.here(PLACE, bob_again, BOB)
    assert bob_again.rosters[PLACE] == [["Alice", "Bob"]]  # the new tab learns who is there
    await b.gone(PLACE, bob)  # one of his tabs closes: he is still there
    await asyncio.sleep(0.05)  # (anything sent would be delivered by now)
    assert len(announcements) == sent
    assert alice.rosters[PLACE][told:] == []
    await b.gone(PLACE, bob_again)
    await sees(alice, ["Alice"])


async def test_places_do_not_mix_across_processes(layer, hubs):
    a, b = hubs(layer), hubs(layer)
    alice, bob = Member("alice"), Member("bob")
    await a.here(PLACE, alice, ALICE)
    await b.here("shop.order:8", bob, BOB)
    await b.here(LIST, bob, BOB)
    await asyncio.sleep(0.05)
    assert alice.sees() == ["Alice"]
    assert alice.rosters[PLACE] == [["Alice"]]
    assert bob.sees("shop.order:8") == ["Bob"] and bob.sees(LIST) == ["Bob"]
    assert PLACE not in b.presence.remote and "shop.order:8" not in a.presence.remote


async def test_a_hub_ignores_its_own_announcements_and_places_it_is_not_in(layer, hubs):
    a = hubs(layer)
    alice = Member("alice")
    await a.here(PLACE, alice, ALICE)
    event = {"type": bus.PRESENCE_EVENT_TYPE, "place": PLACE, "users": [BOB], "ask": False}
    await a.heard_presence({**event, "hub": a.channel})
    await a.heard_presence({**event, "hub": "elsewhere", "place": "shop.order:8"})
    assert a.presence.remote == {}
    assert alice.rosters[PLACE] == [["Alice"]]
    await a.heard_presence({**event, "hub": "elsewhere"})
    assert alice.sees() == ["Alice", "Bob"]


async def test_a_socket_that_fails_to_take_a_roster_does_not_stop_the_others(layer, hubs):
    class Broken(Member):
        async def hub_presence(self, place, users):
            raise RuntimeError("a closed socket")

    a = hubs(layer)
    alice = Member("alice")
    await a.here(PLACE, Broken("broken"), CAROL)
    await a.here(PLACE, alice, ALICE)
    await a.heard_presence(
        {"type": bus.PRESENCE_EVENT_TYPE, "place": PLACE, "hub": "x", "users": [BOB], "ask": False}
    )
    assert alice.sees() == ["Alice", "Bob", "carol"]


async def test_a_lost_presence_group_asks_the_others_again(layer, hubs, announcements):
    a, b = hubs(layer), hubs(layer)
    alice, bob = Member("alice"), Member("bob")
    await a.here(PLACE, alice, ALICE)
    await b.here(PLACE, bob, BOB)
    await sees(alice, ["Alice", "Bob"])
    announcements.clear()
    await a.lost(group_of("realtime_admin", PLACE))  # as the heartbeat would, on a lost probe
    await until(lambda: len(announcements) >= 2, what="an ask and its answer")
    assert [(event["hub"], event["ask"]) for event in announcements[:2]] == [
        (a.channel, True),
        (b.channel, False),
    ]
    assert alice.sees() == ["Alice", "Bob"]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_a_process_that_stops_announcing_is_forgotten_after_its_renewals(
    layer, hubs, monkeypatch
):
    """With the hub's clock in hand: B's users last exactly PRESENCE_RENEWALS heartbeats
    after its last announcement, and each announcement renews them."""
    beat = conf.get("HEARTBEAT_INTERVAL")  # (5 s, from the hubs fixture: none comes here)
    clock = Clock(1000.0)
    monkeypatch.setattr(hub_module, "time", SimpleNamespace(time=time.time, monotonic=clock))
    a, b = hubs(layer), hubs(layer)
    alice, bob = Member("alice"), Member("bob")
    await a.here(PLACE, alice, ALICE)
    await b.here(PLACE, bob, BOB)  # heard by A at 1000: lasts until 1000 + 3 beats
    await sees(alice, ["Alice", "Bob"])

    clock.now = 1000.0 + 2 * beat
    await b.renew_presence()  # B's heartbeat: heard by A at 1010
    last_heard = clock.now
    await until(
        lambda: a.presence.remote[PLACE][b.channel][1] == last_heard + PRESENCE_RENEWALS * beat,
        what="A to hear B's renewal",
    )
    clock.now = 1000.0 + PRESENCE_RENEWALS * beat + 1  # past the first announcement's expiry
    await a.renew_presence()
    assert alice.sees() == ["Alice", "Bob"]  # renewed: still there

    for task in b.tasks:  # B's process dies: no goodbye, no more heartbeats
        task.cancel()
    clock.now = last_heard + PRESENCE_RENEWALS * beat - 0.01
    await a.renew_presence()
    assert alice.sees() == ["Alice", "Bob"]
    clock.now = last_heard + PRESENCE_RENEWALS * beat
    await a.renew_presence()
    assert alice.sees() == ["Alice"]
    assert a.presence.remote == {}


async def test_a_crashed_process_vanishes_within_a_few_real_heartbeats(layer, hubs, settings):
    beat = 0.2
    settings.REALTIME_ADMIN = {**settings.REALTIME_ADMIN, "HEARTBEAT_INTERVAL": beat}
    a, b = hubs(layer), hubs(layer)
    alice, bob = Member("alice"), Member("bob")
    await a.here(PLACE, alice, ALICE)
    await b.here(PLACE, bob, BOB)
    await sees(alice, ["Alice", "Bob"])
    await sees(bob, ["Alice", "Bob"])
    told = settled(alice)
    # Alive and announcing: nobody expires, however many heartbeats go by.
    await asyncio.sleep((PRESENCE_RENEWALS + 2) * beat)
    assert alice.rosters[PLACE][told:] == [] and alice.sees() == ["Alice", "Bob"]
    assert bob.sees() == ["Alice", "Bob"]

    for task in b.tasks:  # B crashes
        task.cancel()
    crashed = time.monotonic()
    await sees(alice, ["Alice"], timeout=(PRESENCE_RENEWALS + 5) * beat)
    after = time.monotonic() - crashed
    # B announced at most a heartbeat before it crashed; A expires it on a heartbeat of its own.
    assert (PRESENCE_RENEWALS - 1) * beat - 0.1 <= after <= (PRESENCE_RENEWALS + 3) * beat, after


@pytest.mark.redis
async def test_two_processes_over_redis_see_each_other(any_redis_layer, settings, hubs):
    """Two layer instances on one Redis, as two server processes have."""
    from django.utils.module_loading import import_string

    layer = settings.CHANNEL_LAYERS["default"]
    backend = import_string(layer["BACKEND"])
    one, two = backend(**layer["CONFIG"]), backend(**layer["CONFIG"])
    try:
        a, b = hubs(one), hubs(two)
        alice, bob, carol = Member("alice"), Member("bob"), Member("carol")
        await a.here(PLACE, alice, ALICE)
        await a.here(LIST, carol, CAROL)
        await b.here(PLACE, bob, BOB)
        await sees(bob, ["Alice", "Bob"], timeout=3)  # the ask round trip, through Redis
        await sees(alice, ["Alice", "Bob"], timeout=3)
        await b.here(LIST, bob, BOB)
        await sees(carol, ["Bob", "carol"], place=LIST, timeout=3)
        await b.gone(PLACE, bob)
        await sees(alice, ["Alice"], timeout=3)
        assert carol.sees(LIST) == ["Bob", "carol"]  # he is still on the list
        await b.gone(LIST, bob)
        await sees(carol, ["carol"], place=LIST, timeout=3)
    finally:
        for hub in (a, b):
            tasks = hub.tasks
            hub.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
        for instance in (one, two):  # (the pub/sub layer's flush closes its connections)
            close = getattr(instance, "close_pools", None) or instance.flush
            await close()


async def test_an_announcement_lasts_as_long_as_its_sender_says(layer, hubs, monkeypatch):
    """A process with a longer heartbeat than ours is not expired by our clock."""
    clock = Clock(1000.0)
    monkeypatch.setattr(hub_module, "time", SimpleNamespace(time=time.time, monotonic=clock))
    a = hubs(layer)
    alice = Member("alice")
    await a.here(PLACE, alice, ALICE)
    await a.heard_presence(
        {"place": PLACE, "hub": "elsewhere", "users": [BOB], "ask": False, "ttl": 120}
    )
    assert alice.sees() == ["Alice", "Bob"]
    clock.now = 1000.0 + 119
    await a.renew_presence()
    assert alice.sees() == ["Alice", "Bob"]
    clock.now = 1000.0 + 120
    await a.renew_presence()
    assert alice.sees() == ["Alice"]


async def test_presence_is_renewed_while_a_heartbeat_check_hangs(layer, hubs, settings):
    """A check waits up to MARKER_TIMEOUT for its marker on a busy channel: renewals go on
    meanwhile, so the other processes do not expire this one's users."""
    beat = 0.2
    settings.REALTIME_ADMIN = {**settings.REALTIME_ADMIN, "HEARTBEAT_INTERVAL": beat}
    a, b = hubs(layer), hubs(layer)

    async def hang():
        await asyncio.sleep(3600)

    b.check = hang  # B's heartbeat is stuck in its first check
    alice, bob = Member("alice"), Member("bob")
    await a.here(PLACE, alice, ALICE)
    await b.here(PLACE, bob, BOB)
    await sees(alice, ["Alice", "Bob"])
    told = settled(alice)
    await asyncio.sleep((PRESENCE_RENEWALS + 3) * beat)
    assert alice.rosters[PLACE][told:] == [] and alice.sees() == ["Alice", "Bob"]


async def test_a_tab_that_reconnects_within_the_grace_never_leaves(
    layer, hubs, settings, announcements
):
    """A server or Redis restart drops every socket, and the tabs come back within a second
    or so: nobody else sees their users blink out and in."""
    settings.REALTIME_ADMIN = {**settings.REALTIME_ADMIN, "PRESENCE_GRACE": 0.5}
    a, b = hubs(layer), hubs(layer)
    alice, bob = Member("alice"), Member("bob")
    await a.here(PLACE, alice, ALICE)
    await b.here(PLACE, bob, BOB)
    await sees(alice, ["Alice", "Bob"])
    await sees(bob, ["Alice", "Bob"])
    told, sent = settled(alice), len(announcements)
    await b.gone(PLACE, bob)
    bob_again = Member("bob, reconnected")
    await b.here(PLACE, bob_again, BOB)
    assert bob_again.sees() == ["Alice", "Bob"]  # told at once, with Alice still there
    await asyncio.sleep(0.8)  # past the grace
    assert alice.rosters[PLACE][told:] == []  # Alice's page never changed
    assert [names(event["users"]) for event in announcements[sent:]] == []


async def test_a_tab_that_closes_leaves_after_the_grace(layer, hubs, settings):
    settings.REALTIME_ADMIN = {**settings.REALTIME_ADMIN, "PRESENCE_GRACE": 0.3}
    a, b = hubs(layer), hubs(layer)
    alice, bob = Member("alice"), Member("bob")
    await a.here(PLACE, alice, ALICE)
    await b.here(PLACE, bob, BOB)
    await sees(alice, ["Alice", "Bob"])
    left = time.monotonic()
    await b.gone(PLACE, bob)
    assert alice.sees() == ["Alice", "Bob"]
    await sees(alice, ["Alice"], timeout=2.0)
    assert time.monotonic() - left >= 0.3
    await until(lambda: b.channel is None, what="B to stop listening once the grace is over")


async def test_coming_back_within_the_grace_keeps_the_hub_listening_there(layer, hubs, settings):
    settings.REALTIME_ADMIN = {**settings.REALTIME_ADMIN, "PRESENCE_GRACE": 0.2}
    a = hubs(layer)
    alice = Member("alice")
    await a.here(PLACE, alice, ALICE)
    await a.gone(PLACE, alice)
    await a.here(PLACE, alice, ALICE)  # the same socket, back on the page
    await asyncio.sleep(0.4)  # past the grace
    assert alice in a.members[group_of(conf.get("GROUP_PREFIX"), PLACE)]
    assert a.presence.members(PLACE) == [alice]
