"""The websocket endpoint: tells a changelist tab which rows of its model changed.

Frames from the browser::

    {"type": "subscribe", "model": "shop.order", "site": "admin", "shown": ["3", "7"],
     "since": 1764064800.5}                         # since: when the page was rendered
    {"type": "unsubscribe", "model": "shop.order"}
    {"type": "job", "id": 12}                       # follow a background job
    {"type": "jobs", "model": "shop.order", "site": "admin", "pk": null | "7"}
                                                    # this page's list of the user's jobs
    {"type": "object", "model": "shop.order", "site": "admin", "pk": "7", "since": ...}
                                                    # a change form: its object, and who is here

Frames to the browser::

    {"type": "subscribed", "model": "shop.order"}
    {"type": "changes", "model": "shop.order", "seq": 4, "changes": [{"pk": "7", "op": "updated"}]}
    {"type": "resync", "model": "shop.order"}       # something was missed: re-fetch everything
    {"type": "job", "job": {"id": 12, "status": "running", "done": 3, "total": 40, ...}}
    {"type": "jobs", "jobs": [{"id": 12, ...}]}     # the list, now and whenever it changes
    {"type": "error", "message": "..."}             # a bad frame; the socket stays open
    {"type": "layer", "up": false}                  # the server lost its channel layer (Redis):
                                                    # changes may not reach the page until "up"
    {"type": "object", "model": "shop.order", "pk": "7", "op": "updated",
     "by": {"id": 3, "name": "Alice"} | null, "at": 1764064800.5}
                                                    # op null: something may have changed
    {"type": "presence", "model": "shop.order", "pk": "7" | null,
     "users": [{"id": 3, "name": "Alice"}]}         # who else is on this page (not the user)

A changelist's ``subscribe`` with ``"presence": true`` also tells who else is on that
model's changelist.

Nothing else: no row data, and on a model whose ModelAdmin has row-level rules
(an overridden ``get_queryset``) not even the pk of a row the user may not see.

The user's rights are checked at connect, on every subscribe, and every
``RECHECK_INTERVAL`` seconds; when they no longer hold, the socket is closed with one of
the ``CLOSE_*`` codes below, and the page stops listening.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.sites import NotRegistered

from . import auth, bus, conf, presence
from .actor import describe
from .hub import hub_for
from .permissions import (
    narrows_rows,
    openable_object,
    request_for,
    site_named,
    visible_pks,
)
from .rows import MAX_CHANGED_PKS, most_pks

logger = logging.getLogger("realtime_admin")

CLOSE_SESSION_ENDED = 4401  # not logged in, logged out, session expired, password changed
# The session the socket connected with is gone or changed hands (a logout, an expiry, or the
# key cycled by a login, a password change or a secret-key rotation): the page reconnects
# with the browser's current cookie, and connecting decides again (perhaps 4401).
CLOSE_SESSION_CHANGED = 4000
CLOSE_FORBIDDEN = 4403  # not active staff, or no longer allowed to see what it follows
CLOSE_TOO_MANY_FRAMES = 4429  # more than MAX_FRAMES_PER_SECOND, sustained
CLOSE_SERVER_ERROR = 1011  # the rights could not be checked: reconnect and try again
MAX_SUBSCRIPTIONS = 50
SHOWN_KEPT = 5000  # rows a socket remembers its page showing
TOLD_KEPT = 200  # rows a socket remembers telling its page of, lately
# A burst reaches a page as at most one changes frame per model per FRAME_INTERVAL seconds
# (the first at once); past MAX_PKS_PER_FRAME rows, as one resync (the page re-reads itself).
FRAME_INTERVAL = 0.1
MAX_PKS_PER_FRAME = MAX_CHANGED_PKS


class Recent:
    """A set of pks that forgets its oldest members past ``limit``: what a socket remembers
    about its page stays bounded however long the page stays open."""

    def __init__(self, limit: int, pks=()) -> None:
        self.limit = limit
        self.pks: dict[str, None] = {}
        for pk in pks:
            self.add(pk)

    def add(self, pk: str) -> None:
        self.pks.pop(pk, None)
        self.pks[pk] = None
        if len(self.pks) > self.limit:
            del self.pks[next(iter(self.pks))]

    def discard(self, pk: str) -> None:
        self.pks.pop(pk, None)

    def __contains__(self, pk: object) -> bool:
        return pk in self.pks

    def keys(self):
        return self.pks.keys()


@dataclass
class Subscription:
    site: admin.AdminSite
    model_admin: admin.ModelAdmin
    # Whether the user's changelist may leave out rows (permissions.narrows_rows): then each
    # change is checked against their rules before its pk reaches them. Re-read on re-check.
    row_rules: bool
    # Rows the page shows, as far as the socket knows: deletes are told for these.
    shown: Recent = field(default_factory=lambda: Recent(SHOWN_KEPT))
    # Rows told to the page since it last said what it shows: its list may predate them.
    told_since: Recent = field(default_factory=lambda: Recent(TOLD_KEPT))
    # Rows recently told to the page as deleted: a page may still claim them for a moment.
    told_deleted: Recent = field(default_factory=lambda: Recent(TOLD_KEPT))

    def page_shows(self, verified: set[str]) -> None:
        """The page said which rows it shows (those its user may see): remember them, and
        what it was told of since, which its list may predate."""
        self.shown = Recent(SHOWN_KEPT, [*verified, *self.told_since.keys()])
        self.told_since = Recent(TOLD_KEPT)


@dataclass
class WatchedObject:
    """A change form's object: its changes, and who else has it open."""

    site: admin.AdminSite
    model_admin: admin.ModelAdmin


def is_pk(value) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def is_time(value) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


class ChangelistConsumer(AsyncJsonWebsocketConsumer):
    # No channel of its own: the process hub listens on the layer for all sockets and calls
    # them directly, so a channel per socket (a pending receive; a SUBSCRIBE on the pub/sub
    # layer) would only cost memory and a round trip at connect.
    channel_layer_alias = None

    async def connect(self) -> None:
        self.subscriptions: dict[str, Subscription] = {}
        self.jobs: set[int] = set()
        # The job list this page follows: (user id, label, site, pk), the user as they were
        # then (self.user is read again on every check).
        self.jobs_page: tuple[int, str, str, str | None] | None = None
        self.objects: dict[tuple[str, str], WatchedObject] = {}
        self.places: dict[str, tuple[str, str | None]] = {}  # presence place -> (label, pk)
        self.rosters: dict[str, list] = {}  # presence place -> users last told
        self.seq = 0
        self.outbox: dict[str, dict[str, str]] = {}  # model label -> {pk: op} not sent yet
        self.flush_due: asyncio.Task | None = None
        self.last_flush = 0.0
        self.hub = hub_for(get_channel_layer())
        self.frame_allowance = float(conf.get("MAX_FRAMES_PER_SECOND"))
        self.last_frame_at = time.monotonic()
        bus.serving(asyncio.get_running_loop())
        await self.accept()
        self.user = await database_sync_to_async(auth.current_user)(self.scope)
        code = self.refusal(self.user)
        if code:
            return await self.close(code=code)
        # Whose view this is, for sharing row-rule queries. Read once: the session is a lazy
        # object (costly per event with many sockets), and its key or user changing ends the
        # socket at the next re-check.
        session = self.scope.get("session")
        self.viewer = (getattr(session, "session_key", None), self.user.pk)
        self.actor = describe(self.user)
        self.rechecking = asyncio.create_task(self.recheck_periodically())

    @staticmethod
    def refusal(user) -> int | None:
        if not user.is_authenticated:
            return CLOSE_SESSION_ENDED
        if not (user.is_active and user.is_staff):
            return CLOSE_FORBIDDEN
        return None

    async def __call__(self, scope, receive, send) -> None:
        # Channels calls disconnect() only on a clean websocket.disconnect: when a handler
        # raises, this socket must still leave the hub and stop its timers.
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.disconnect(None)

    async def disconnect(self, code: int | None) -> None:
        for task in (getattr(self, "rechecking", None), getattr(self, "flush_due", None)):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        await self.leave_all()

    async def leave_all(self) -> None:
        """Stop hearing anything, at once (before any await), whatever fails after."""
        labels = {
            *getattr(self, "subscriptions", {}),
            *(key[0] for key in getattr(self, "objects", {})),
        }
        groups = [bus.group_name(label) for label in labels]
        groups += [bus.job_group(job_id) for job_id in getattr(self, "jobs", ())]
        if getattr(self, "jobs_page", None) is not None:
            groups.append(bus.user_jobs_group(self.jobs_page[0]))
        self.jobs_page = None
        places = list(getattr(self, "places", ()))
        self.subscriptions, self.jobs, self.outbox, self.objects, self.places = (
            {},
            set(),
            {},
            {},
            {},
        )
        for place in places:
            await self.hub.gone(place, self)
        for group in groups:
            await self.hub.leave(group, self)

    async def stop_hearing(self, label: str) -> None:
        """Leave a model's group once neither its changelist nor any of its objects is followed."""
        if label not in self.subscriptions and not any(key[0] == label for key in self.objects):
            await self.hub.leave(bus.group_name(label), self)

    @staticmethod
    def place(label: str, pk: str | None, site: str | None = None) -> str:
        """Where presence is counted: a changelist is a place of its own on each admin site;
        an object is one place whichever admin shows it (its model's, or a proxy's)."""
        if pk is not None:
            label = apps.get_model(label)._meta.concrete_model._meta.label_lower
        return presence.place_of(label, pk, site)

    async def enter(self, label: str, pk: str | None, site: str | None = None) -> None:
        """Be seen on this page (a changelist, or an object's change form), and see who is."""
        place = self.place(label, pk, site)
        if place not in self.places:
            self.places[place] = (label, pk)
            await self.hub.here(place, self, self.actor)

    async def exit(self, label: str, pk: str | None, site: str | None = None) -> None:
        place = self.place(label, pk, site)
        if self.places.pop(place, None) is not None:
            self.rosters.pop(place, None)
            await self.hub.gone(place, self)

    async def end(self, code: int) -> None:
        """Stop sending at once, and close with ``code``."""
        try:
            await self.leave_all()
        finally:
            await self.close(code=code)

    # Frames from the browser

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        if not self.within_rate():
            return await self.end(CLOSE_TOO_MANY_FRAMES)
        if text_data is None:
            return await self.send_error("Frames must be JSON text.")
        if len(text_data.encode()) > conf.get("MAX_FRAME_BYTES"):
            return await self.send_error("Frame too large.")
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):
            return await self.send_error("Frames must be JSON text.")
        if not isinstance(content, dict):
            return await self.send_error("A frame must be a JSON object.")
        frame_type = content.get("type")
        handlers = {
            "subscribe": self.subscribe,
            "unsubscribe": self.unsubscribe,
            "job": self.watch_job,
            "jobs": self.list_jobs,
            "object": self.watch_object,
        }
        handler = handlers.get(frame_type) if isinstance(frame_type, str) else None
        if handler is None:
            return await self.send_error("Unknown frame type.")
        await handler(content)

    def within_rate(self) -> bool:
        """A token bucket: bursts up to the limit, then that many frames a second."""
        rate = float(conf.get("MAX_FRAMES_PER_SECOND"))
        now = time.monotonic()
        elapsed, self.last_frame_at = now - self.last_frame_at, now
        self.frame_allowance = min(rate, self.frame_allowance + elapsed * rate) - 1
        return self.frame_allowance >= 0

    async def send_error(self, message: str) -> None:
        await self.send_json({"type": "error", "message": message})

    async def subscribe(self, content: dict) -> None:
        """Listen to a model's changes, or update which of its rows the page shows."""
        label, site, shown, since = (content.get(k) for k in ("model", "site", "shown", "since"))
        shown = [] if shown is None else shown
        if not (
            isinstance(label, str)
            and isinstance(site, str | None)
            and isinstance(shown, list)
            and all(is_pk(pk) for pk in shown)
            and is_time(since)
            and isinstance(content.get("presence", False), bool)
        ):
            return await self.send_error("subscribe needs a model label and a list of shown pks.")
        registered = self.model_admin_of(label, site or "admin")
        if len(shown) > most_pks(registered[1]):
            return await self.send_error("Too many shown pks.")
        if label not in self.subscriptions and len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            return await self.send_error("Too many subscriptions.")
        claimed = {str(pk) for pk in shown}
        found, shown, row_rules = await database_sync_to_async(self.authorize)(
            *registered, list(claimed)
        )
        if found is None:
            if label in self.subscriptions:  # allowed before, not now
                changed = not self.user.is_authenticated  # reconnecting will tell
                return await self.end(CLOSE_SESSION_CHANGED if changed else CLOSE_FORBIDDEN)
            # The same answer for "no such model" and "not yours to see".
            return await self.send_error(f"Cannot subscribe to {label!r}.")
        site, model_admin = found
        unverified = shown is None  # the rules could not be evaluated here
        shown = set() if unverified else shown
        group = bus.group_name(label)
        subscription = self.subscriptions.get(label)
        new = subscription is None or subscription.model_admin is not model_admin
        if new:
            if subscription is not None:  # the page's list, now on another site
                await self.exit(label, None, subscription.site.name)
            subscription = Subscription(site, model_admin, row_rules)
            self.subscriptions[label] = subscription
            await self.hub.join(group, self)
        else:
            # Never back to False here: a re-check may have found narrower rules meanwhile.
            subscription.row_rules = subscription.row_rules or row_rules
        subscription.page_shows(shown)
        await self.send_json({"type": "subscribed", "model": label})
        if content.get("presence"):
            await self.enter(label, None, site.name)
        # Rows the page shows that its user may not see (any more), or that are gone and the
        # page was not told (deleted before this socket knew the page showed them, or before
        # the hub heard of it): they leave the page. The same answer for both, so a claimed
        # pk reveals nothing about its row.
        gone = set() if unverified else claimed - shown - subscription.told_deleted.keys()
        if gone:
            for pk in gone:
                subscription.told_deleted.add(pk)
            self.outbox.setdefault(label, {}).update(dict.fromkeys(gone, bus.DELETED))
            await self.flush_soon()
        if unverified or (
            new
            and since is not None
            # Under row rules, whether anything at all changed is not this user's to learn.
            and (subscription.row_rules or not self.hub.heard_everything_since(group, since))
        ):
            # Rendered before this socket listened: something may have changed in between (or,
            # unverified, the page must check its rows for itself).
            await self.send_json({"type": "resync", "model": label})

    async def unsubscribe(self, content: dict) -> None:
        label = content.get("model")
        subscription = self.subscriptions.pop(label, None) if isinstance(label, str) else None
        if subscription is not None:
            await self.exit(label, None, subscription.site.name)
            await self.stop_hearing(label)

    async def watch_object(self, content: dict) -> None:
        """Follow one object for its change form: who changes it, and who else is on it."""
        label, site, pk, since = (content.get(k) for k in ("model", "site", "pk", "since"))
        if not (
            isinstance(label, str) and isinstance(site, str | None) and is_pk(pk) and is_time(since)
        ):
            return await self.send_error("object needs a model label and a pk.")
        pk = str(pk)
        key = (label, pk)
        if key not in self.objects and len(self.objects) >= MAX_SUBSCRIPTIONS:
            return await self.send_error("Too many subscriptions.")
        registered = self.model_admin_of(label, site or "admin")
        found, _, narrows = await database_sync_to_async(self.authorize)(*registered, [])
        try:
            allowed = found is not None and await database_sync_to_async(self.may_see_object)(
                found[1], pk
            )
        except Exception:  # e.g. rules that read the request's URL: fail closed
            logger.warning(
                "realtime_admin: could not tell on a socket whether a user may open %s %s",
                label,
                pk,
                exc_info=True,
            )
            allowed = False
        if not allowed:
            # The same answer for "no such object" and "not yours to see".
            return await self.send_error(f"Cannot follow {label!r} {pk!r}.")
        group = bus.group_name(label)
        if key not in self.objects:
            self.objects[key] = WatchedObject(*found)
            await self.hub.join(group, self)
            if since is not None and (
                # Where this user's rules leave rows out, whether anything at all changed is
                # not theirs to learn (as for a changelist).
                narrows or not self.hub.heard_everything_since(group, since)
            ):
                await self.send_object_change(label, pk, None)  # the page checks for itself
        await self.enter(label, pk)

    def may_see_object(self, model_admin: admin.ModelAdmin, pk: str) -> bool:
        """Whether the user may open this object's change form now (the raw pk, as pages
        and events give it)."""
        return openable_object(model_admin, self.request(), pk) is not None

    async def watch_job(self, content: dict) -> None:
        """Follow a background job: its current state now, then every change."""
        job_id = content.get("id")
        if not isinstance(job_id, int) or isinstance(job_id, bool):
            return await self.send_error("job needs a job id.")
        if job_id not in self.jobs and len(self.jobs) >= MAX_SUBSCRIPTIONS:
            return await self.send_error("Too many subscriptions.")
        if not await database_sync_to_async(self.job_visible)(job_id):
            # The same answer for "no such job" and "not yours to see".
            return await self.send_error(f"Cannot follow job {job_id}.")
        if job_id not in self.jobs:  # listen first, then read: no update falls in between
            self.jobs.add(job_id)
            await self.hub.join(bus.job_group(job_id), self)
        await self.send_job_state(job_id)

    async def list_jobs(self, content: dict) -> None:
        """Tell the page the user's jobs it lists (a changelist's, or those run from an
        object's change form), now and each time one starts or is dismissed in another
        tab. Only the user's own jobs: nothing anybody else did."""
        label, site, pk = (content.get(key) for key in ("model", "site", "pk"))
        if not (isinstance(label, str) and isinstance(site, str) and (pk is None or is_pk(pk))):
            return await self.send_error("jobs needs a model, a site and a pk or null.")
        first = self.jobs_page is None
        user_id = self.user.pk if first else self.jobs_page[0]
        self.jobs_page = (user_id, label, site, None if pk is None else str(pk))
        if first:  # listen first, then read
            await self.hub.join(bus.user_jobs_group(user_id), self)
        await self.send_jobs_list()

    async def send_jobs_list(self) -> None:
        from .jobs.models import Job

        jobs = await database_sync_to_async(Job.objects.shown_on)(*self.jobs_page)
        await self.send_json({"type": "jobs", "jobs": jobs})

    def job_visible(self, job_id: int) -> bool:
        from .jobs.models import Job

        self.user = auth.current_user(self.scope)
        job = Job.objects.filter(pk=job_id).first()
        return bool(job and job.may_be_seen_by(self.user))

    async def send_job_state(self, job_id: int) -> None:
        from .jobs.models import Job

        def state() -> dict | None:
            Job.objects.filter(pk=job_id).fail_stale()  # a worker that died: say so
            job = Job.objects.filter(pk=job_id).first()
            return job.state() if job else None

        job = await database_sync_to_async(state)()
        if job is not None:
            await self.send_job(job)

    async def send_job(self, job: dict) -> None:
        """A followed job's state; once it is finished nothing more comes of it, so the
        socket stops following it (a tab left open does not collect the jobs its user
        runs elsewhere)."""
        from .jobs.models import Job

        await self.send_json({"type": "job", "job": job})
        if job["status"] in Job.FINISHED and job["id"] in self.jobs:
            self.jobs.discard(job["id"])
            await self.hub.leave(bus.job_group(job["id"]), self)

    def authorize(
        self,
        site: admin.AdminSite | None,
        model_admin: admin.ModelAdmin | None,
        claimed: list[str],
    ) -> tuple[tuple[admin.AdminSite, admin.ModelAdmin] | None, set[str] | None, bool]:
        """The site and ModelAdmin (``model_admin_of``) if this socket's user, as things
        stand now, may view its changelist; which of the claimed shown pks they may see
        (what the page says it shows is not trusted: deletes are told only for those; None
        if that cannot be told, see ``verified``); and whether their changelist may leave
        rows out (``narrows_rows``)."""
        self.user = auth.current_user(self.scope)
        if self.refusal(self.user):
            return None, set(), True
        if not (model_admin and self.may_view(site, model_admin)):
            return None, set(), True
        request = self.request()
        if narrows_rows(model_admin, request):
            return (site, model_admin), self.verified(model_admin, request, claimed), True
        return (site, model_admin), set(claimed), False

    @staticmethod
    def verified(model_admin: admin.ModelAdmin, request, claimed: list[str]) -> set[str] | None:
        """Which of ``claimed`` the user's rules let them see; None if the rules cannot be
        evaluated on the socket's request (e.g. they read its URL, which it does not have):
        then nothing is known, and the page is told to re-read itself over HTTP."""
        if not claimed:
            return set()
        try:
            return visible_pks(model_admin, request, claimed)
        except Exception:
            logger.warning(
                "realtime_admin: %s's row rules failed on a socket's request; its pages "
                "re-read their rows over HTTP instead",
                type(model_admin).__qualname__,
                exc_info=True,
            )
            return None

    @staticmethod
    def model_admin_of(
        label: str, site_name: str
    ) -> tuple[admin.AdminSite | None, admin.ModelAdmin | None]:
        """The admin site of this name and its ModelAdmin of this model, if registered."""
        site = site_named(site_name)
        try:
            return site, site.get_model_admin(apps.get_model(label)) if site else None
        except (LookupError, ValueError, NotRegistered):
            return site, None

    def request(self):
        return request_for(self.scope, self.user)

    def may_view(self, site: admin.AdminSite, model_admin: admin.ModelAdmin) -> bool:
        request = self.request()
        return site.has_permission(request) and model_admin.has_view_or_change_permission(request)

    # Keeping the rights honest over time

    async def recheck_periodically(self) -> None:
        while True:
            await asyncio.sleep(conf.get("RECHECK_INTERVAL"))
            try:
                code, narrowed = await database_sync_to_async(self.recheck)()
            except Exception:
                logger.exception("realtime_admin: could not re-check a socket's rights")
                code = CLOSE_SERVER_ERROR  # fail closed; the page reconnects and tries again
            if code:
                return await self.end(code)
            for label, gone in narrowed.items():  # the page may show rows its user may not see
                if (subscription := self.subscriptions.get(label)) is not None:
                    for pk in gone:  # (it re-reads them now: not a reason to, next time)
                        subscription.shown.discard(pk)
                    await self.send_json({"type": "resync", "model": label})

    def recheck(self) -> tuple[int | None, dict[str, set[str]]]:
        """The close code if the user may no longer see everything this socket follows; and
        the changelists whose pages may show rows the user's rules no longer let them see,
        with those rows where known: the rules narrow now (they were seeing every row), or
        rows the page shows left them (say, the user moved to another team)."""
        from .jobs.models import Job

        previous, self.user = self.user, auth.current_user(self.scope)
        if not self.user.is_authenticated or self.user.pk != previous.pk:
            return CLOSE_SESSION_CHANGED, {}
        code = self.refusal(self.user)
        if code:
            return code, {}
        # (Copies: this runs in a database thread while the socket's loop may change them.)
        narrowed = {}
        for label, subscription in list(self.subscriptions.items()):
            if not self.may_view(subscription.site, subscription.model_admin):
                return CLOSE_FORBIDDEN, {}
            # A user's rules may have changed (e.g. no longer a superuser): narrow from now.
            request = self.request()
            narrows = narrows_rows(subscription.model_admin, request)
            if narrows and not subscription.row_rules:
                narrowed[label] = set()
            elif narrows:
                shown = list(subscription.shown.keys())
                visible = self.verified(subscription.model_admin, request, shown)
                if visible is None or len(visible) < len(shown):
                    narrowed[label] = set(shown) - (visible or set())
            subscription.row_rules = narrows
        for (_, pk), watched in list(self.objects.items()):
            if not self.may_view(watched.site, watched.model_admin):
                return CLOSE_FORBIDDEN, {}
            if not self.may_see_object(watched.model_admin, pk):
                return CLOSE_FORBIDDEN, {}
        for job in Job.objects.filter(pk__in=self.jobs):
            if not job.may_be_seen_by(self.user):
                return CLOSE_FORBIDDEN, {}
        return None, narrowed

    # Events from the hub (hub.py)

    async def hub_event(self, event: dict) -> None:
        if event["type"] == bus.EVENT_TYPE:
            if self.objects:
                await self.forward_object_changes(event)
            await self.forward_changes(event)
        elif event["type"] == bus.JOB_EVENT_TYPE and event["job"]["id"] in self.jobs:
            await self.send_job(event["job"])
        elif event["type"] == bus.USER_JOBS_EVENT_TYPE and self.jobs_page is not None:
            await self.send_jobs_list()

    async def hub_lost(self, group: str) -> None:
        """Events to ``group`` may have been lost: have the page catch up."""
        for label in self.subscriptions:
            if bus.group_name(label) == group:
                await self.send_json({"type": "resync", "model": label})
        for job_id in list(self.jobs):  # (a finished one is let go of on the way)
            if bus.job_group(job_id) == group:
                await self.send_job_state(job_id)
        if self.jobs_page is not None and group == bus.user_jobs_group(self.jobs_page[0]):
            await self.send_jobs_list()
        for label, pk in list(self.objects):
            if bus.group_name(label) == group:
                await self.send_object_change(label, pk, None)

    async def hub_layer(self, up: bool) -> None:
        """The server lost (or got back) its channel layer: the page may be behind meanwhile
        and says so; once it is back, the hub has the page catch up (hub_lost)."""
        await self.send_json({"type": "layer", "up": up})

    async def hub_presence(self, place: str, users: list) -> None:
        """Who is in a place of this socket: told to the page without its own user."""
        if place not in self.places:
            return
        others = [user for user in users if user["id"] != self.actor["id"]]
        if self.rosters.get(place) == others:
            return
        self.rosters[place] = others
        label, pk = self.places[place]
        await self.send_json({"type": "presence", "model": label, "pk": pk, "users": others})

    async def forward_object_changes(self, event: dict) -> None:
        """A batch from bus.publish: tell the change forms of the objects in it, with who made
        the change; an object the user may no longer see is told as deleted, then dropped."""
        label = event["model"]
        ops = event.get("_ops")  # local to this process, never sent: one dict for all sockets
        if ops is None:
            ops = event["_ops"] = dict(map(tuple, event["changes"]))
        for key in [key for key in self.objects if key[0] == label and key[1] in ops]:
            pk, op = key[1], ops[key[1]]
            watched = self.objects[key]
            if op != bus.DELETED and not await database_sync_to_async(self.may_see_object)(
                watched.model_admin, pk
            ):
                op = bus.DELETED  # the same answer for gone and no longer allowed
            if op == bus.DELETED:
                self.objects.pop(key, None)  # (the socket may have ended during the await)
                await self.exit(label, pk)
                await self.stop_hearing(label)
            index = event.get("by", {}).get(pk)
            by = event["actors"][index] if index is not None else None
            await self.send_object_change(label, pk, op, by, event.get("at"))

    async def send_object_change(self, label, pk, op, by=None, at=None) -> None:
        await self.send_json(
            {"type": "object", "model": label, "pk": pk, "op": op, "by": by, "at": at}
        )

    async def forward_changes(self, event: dict) -> None:
        """A batch from bus.publish: forward what this user may see."""
        label = event["model"]
        subscription = self.subscriptions.get(label)
        if subscription is None:
            return
        changes = event["changes"]
        if subscription.row_rules:
            try:
                changes = await self.narrow(subscription, changes, event)
            except Exception:
                # Fail closed: no pk this user may not see; the page re-reads over HTTP.
                logger.exception("realtime_admin: could not apply %s's row rules", label)
                return await self.send_json({"type": "resync", "model": label})
        if changes:
            self.outbox.setdefault(label, {}).update(changes)
            await self.flush_soon()

    async def flush_soon(self) -> None:
        """Send the outbox now if the last frame is old enough, else once it is."""
        if self.flush_due is not None:
            return  # already due
        wait = self.last_flush + FRAME_INTERVAL - asyncio.get_running_loop().time()
        if wait <= 0:
            return await self.flush()
        self.flush_due = asyncio.create_task(self.flush(after=wait))

    async def flush(self, after: float = 0) -> None:
        if after:
            await asyncio.sleep(after)
        self.flush_due = None
        self.last_flush = asyncio.get_running_loop().time()
        outbox, self.outbox = self.outbox, {}
        for label, changes in outbox.items():
            if label not in self.subscriptions:
                continue
            if len(changes) > MAX_PKS_PER_FRAME:
                await self.send_json({"type": "resync", "model": label})
                continue
            self.seq += 1
            await self.send_json(
                {
                    "type": "changes",
                    "model": label,
                    "seq": self.seq,
                    "changes": [{"pk": pk, "op": op} for pk, op in changes.items()],
                }
            )

    async def narrow(self, subscription: Subscription, changes: list, event: dict) -> list:
        """Keep the changes to rows this user may see now, through the ModelAdmin's
        ``get_queryset()``; and to rows the page shows (checked when it said so), so that a
        deleted row, or one that left the user's rules, leaves the page too.

        The query is made once per event for all of this process's sockets of one session
        (the hub hands them the same event): a user's tabs share it."""
        live = [pk for pk, op in changes if op != bus.DELETED]
        visible = set()
        if live:
            queries = event.setdefault("_visible", {})  # local to this process, never sent
            key = (*self.viewer, id(subscription.model_admin))
            if key not in queries:
                queries[key] = asyncio.ensure_future(
                    database_sync_to_async(visible_pks)(
                        subscription.model_admin, self.request(), live
                    )
                )
            visible = await queries[key]
        forwarded = []
        for pk, op in changes:
            if pk in visible:  # (only live rows are looked up)
                # The page may show it before it says so: count it as shown.
                subscription.shown.add(pk)
                subscription.told_since.add(pk)
                forwarded.append((pk, op))
            elif pk in subscription.shown:
                # Gone, or out of the user's rules: it leaves the page, told once.
                subscription.shown.discard(pk)
                subscription.told_deleted.add(pk)
                forwarded.append((pk, bus.DELETED))
        return forwarded
