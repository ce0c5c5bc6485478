"""The websocket endpoint: tells a changelist tab which rows of its model changed.

Frames from the browser::

    {"type": "subscribe", "model": "shop.order", "site": "admin", "shown": ["3", "7"]}
    {"type": "unsubscribe", "model": "shop.order"}
    {"type": "job", "id": 12}                       # follow a background job

Frames to the browser::

    {"type": "subscribed", "model": "shop.order"}
    {"type": "changes", "model": "shop.order", "seq": 4, "changes": [{"pk": "7", "op": "updated"}]}
    {"type": "resync", "model": "shop.order"}       # something was missed: re-fetch everything
    {"type": "job", "job": {"id": 12, "status": "running", "done": 3, "total": 40, ...}}
    {"type": "error", "message": "..."}

Nothing else: no row data, and on a model whose ModelAdmin has row-level rules
(an overridden ``get_queryset``) not even the pk of a row the user may not see.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.sites import NotRegistered

from . import bus, conf
from .permissions import has_row_rules, request_for, site_named, visible_pks

logger = logging.getLogger("realtime_admin")

CLOSE_NOT_STAFF = 4403
MAX_SUBSCRIPTIONS = 50


@dataclass
class Subscription:
    model_admin: admin.ModelAdmin
    row_rules: bool
    shown: set[str] = field(default_factory=set)
    last_seq: dict[str, int] = field(default_factory=dict)  # per publishing process


class ChangelistConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.subscriptions: dict[str, Subscription] = {}
        self.jobs: set[int] = set()
        self.seq = 0
        bus.serving(asyncio.get_running_loop())
        user = self.scope.get("user")
        await self.accept()
        if not (user and user.is_authenticated and user.is_active and user.is_staff):
            await self.close(code=CLOSE_NOT_STAFF)

    async def disconnect(self, code: int) -> None:
        for label in list(getattr(self, "subscriptions", {})):
            await self.channel_layer.group_discard(bus.group_name(label), self.channel_name)
        for job_id in getattr(self, "jobs", ()):
            await self.channel_layer.group_discard(bus.job_group(job_id), self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
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
        }
        handler = handlers.get(frame_type) if isinstance(frame_type, str) else None
        if handler is None:
            return await self.send_error("Unknown frame type.")
        await handler(content)

    async def send_error(self, message: str) -> None:
        await self.send_json({"type": "error", "message": message})

    async def subscribe(self, content: dict) -> None:
        """Listen to a model's changes, or update which of its rows the page shows."""
        label, site, shown = (content.get(k) for k in ("model", "site", "shown"))
        shown = [] if shown is None else shown
        if not (
            isinstance(label, str)
            and isinstance(site, str | None)
            and isinstance(shown, list)
            and all(isinstance(pk, str | int) for pk in shown)
        ):
            return await self.send_error("subscribe needs a model label and a list of shown pks.")
        if len(shown) > conf.get("MAX_REQUEST_PKS"):
            return await self.send_error("Too many shown pks.")
        if label not in self.subscriptions and len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            return await self.send_error("Too many subscriptions.")
        claimed = {str(pk) for pk in shown}
        model_admin, shown = await database_sync_to_async(self.authorize)(
            label, site or "admin", list(claimed)
        )
        if model_admin is None:
            # The same answer for "no such model" and "not yours to see".
            return await self.send_error(f"Cannot subscribe to {label!r}.")
        subscription = self.subscriptions.get(label)
        if subscription is None or subscription.model_admin is not model_admin:
            subscription = Subscription(model_admin, has_row_rules(model_admin))
            self.subscriptions[label] = subscription
            await self.channel_layer.group_add(bus.group_name(label), self.channel_name)
        subscription.shown = shown
        await self.send_json({"type": "subscribed", "model": label})
        if claimed - shown:
            # The page shows rows its user may no longer see, or that are gone (perhaps
            # deleted before this list arrived): it re-reads its view over HTTP.
            await self.send_json({"type": "resync", "model": label})

    async def unsubscribe(self, content: dict) -> None:
        label = content.get("model")
        if isinstance(label, str) and self.subscriptions.pop(label, None) is not None:
            await self.channel_layer.group_discard(bus.group_name(label), self.channel_name)

    async def watch_job(self, content: dict) -> None:
        """Follow a background job: its current state now, then every change."""
        job_id = content.get("id")
        if not isinstance(job_id, int) or isinstance(job_id, bool):
            return await self.send_error("job needs a job id.")
        if job_id not in self.jobs and len(self.jobs) >= MAX_SUBSCRIPTIONS:
            return await self.send_error("Too many subscriptions.")
        state = await database_sync_to_async(self.job_state)(job_id)
        if state is None:  # the same answer for "no such job" and "not yours to see"
            return await self.send_error(f"Cannot follow job {job_id}.")
        if job_id not in self.jobs:
            self.jobs.add(job_id)
            await self.channel_layer.group_add(bus.job_group(job_id), self.channel_name)
        await self.send_json({"type": "job", "job": state})

    def job_state(self, job_id: int) -> dict | None:
        from .jobs.models import Job

        user = request_for(self.scope, fresh=True).user
        Job.objects.filter(pk=job_id).fail_stale()  # a worker that died: say so
        job = Job.objects.filter(pk=job_id).first()
        return job.state() if job and job.may_be_seen_by(user) else None

    async def realtime_admin_job(self, event: dict) -> None:
        if event["job"]["id"] in self.jobs:
            await self.send_json({"type": "job", "job": event["job"]})

    def authorize(
        self, label: str, site_name: str, claimed: list[str]
    ) -> tuple[admin.ModelAdmin | None, set[str]]:
        """The ModelAdmin of ``label`` on that site if this socket's user, as the database
        has them now, may view its changelist; and which of the claimed shown pks they may
        see (what the page says it shows is not trusted: deletes are told only for those)."""
        request = request_for(self.scope, fresh=True)
        user = request.user
        if not (user and user.is_active and user.is_staff):
            return None, set()
        site = site_named(site_name)
        try:
            model = apps.get_model(label)
            model_admin = site.get_model_admin(model) if site else None
        except (LookupError, ValueError, NotRegistered):
            return None, set()
        if not (
            model_admin
            and site.has_permission(request)
            and model_admin.has_view_or_change_permission(request)
        ):
            return None, set()
        if has_row_rules(model_admin):
            return model_admin, visible_pks(model_admin, request, claimed) if claimed else set()
        return model_admin, set(claimed)

    async def realtime_admin_changes(self, event: dict) -> None:
        """A batch from the channel layer (bus.publish): forward what this user may see."""
        label = event["model"]
        subscription = self.subscriptions.get(label)
        if subscription is None:
            return
        origin, seq = event["origin"], event["seq"]
        last = subscription.last_seq.get(origin)
        subscription.last_seq[origin] = seq
        if last is not None and seq != last + 1:
            await self.send_json({"type": "resync", "model": label})  # we missed a batch
        changes = event["changes"]
        if subscription.row_rules:
            try:
                changes = await self.narrow(subscription, changes)
            except Exception:
                # Fail closed: no pk this user may not see; the page re-reads over HTTP.
                logger.exception("realtime_admin: could not apply %s's row rules", label)
                return await self.send_json({"type": "resync", "model": label})
        if changes:
            self.seq += 1
            await self.send_json(
                {
                    "type": "changes",
                    "model": label,
                    "seq": self.seq,
                    "changes": [{"pk": pk, "op": op} for pk, op in changes],
                }
            )

    async def narrow(self, subscription: Subscription, changes: list) -> list:
        """Keep the changes to rows this user may see now, through the ModelAdmin's
        ``get_queryset()``; and to rows the page shows (checked when it said so), so that a
        deleted row, or one that left the user's rules, leaves the page too."""
        live = [pk for pk, op in changes if op != bus.DELETED]
        visible = set()
        if live:
            visible = await database_sync_to_async(visible_pks)(
                subscription.model_admin, request_for(self.scope), live
            )
        forwarded = [(pk, op) for pk, op in changes if pk in visible or pk in subscription.shown]
        # What the page is told about it may show before it says so: count it as shown.
        for pk, op in forwarded:
            if op == bus.DELETED:
                subscription.shown.discard(pk)
            else:
                subscription.shown.add(pk)
        return forwarded
