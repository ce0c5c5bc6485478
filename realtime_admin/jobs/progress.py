"""What a background action receives as ``job``: progress reporting and cancellation.

Sync actions::

    for story in job.track(queryset):   # counts for you, stops cleanly when cancelled
        ...
    job.progress(3, 10, message="Halfway")

Async actions (``async def``)::

    async for story in job.track(queryset):
        ...
    await job.aprogress(3, 10)
    if await job.acancelled(): ...
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterable, Iterable
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connections, models
from django.utils import timezone

from .models import Job, publish_state, stale_after

logger = logging.getLogger("realtime_admin.jobs")

# Progress is written (and so published to open tabs) at most this often; the first step at
# once, and the last by the job's end: a burst becomes a few updates a second, and a slow job
# shows every step.
WRITE_INTERVAL = 0.25


class JobCancelled(Exception):
    """Raised by ``job.track()`` at the next item once the user cancelled the job."""


class Reporter(threading.Thread):
    """Writes a running job's progress, and its heartbeat while the action works on a long
    item, from a thread of its own: on its own database connection, outside any transaction
    the action keeps open. (An action may wrap its whole loop in ``transaction.atomic()``:
    progress written there would stay invisible until the end, and the job's row locked
    against the pages that look for jobs whose worker died.) A database error is logged and
    the next write tried."""

    def __init__(self, job_id: int) -> None:
        super().__init__(name=f"realtime_admin-job-{job_id}-progress", daemon=True)
        self.job_id = job_id
        self._stopped, self._due = threading.Event(), threading.Event()
        self._lock = threading.Lock()
        self._pending: tuple[dict, dict] | None = None  # (fields to write, state to publish)

    def report(self, fields: dict, state: dict) -> None:
        """The job's progress now; written soon, and only its latest if it moves fast."""
        with self._lock:
            self._pending = (fields, state)
        self._due.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Write the last progress reported, if not yet written, then nothing more (the
        job's end is written after this)."""
        self._stopped.set()
        self._due.set()
        self.join(timeout)

    def run(self) -> None:
        try:
            while True:
                self._due.wait(stale_after().total_seconds() / 4)
                self._due.clear()
                stopping = self._stopped.is_set()
                with self._lock:
                    pending, self._pending = self._pending, None
                if pending or not stopping:  # (a heartbeat, unless the job is ending)
                    self.try_write(*(pending or ({}, None)))
                if stopping:
                    return
                if pending:
                    self._stopped.wait(WRITE_INTERVAL)
        finally:
            connections.close_all()

    def try_write(self, fields: dict, state: dict | None) -> None:
        try:
            self.write(fields, state)
        except Exception:
            logger.exception("realtime_admin: could not write job %s's progress", self.job_id)
            connections.close_all()  # a broken connection is made anew next time

    def write(self, fields: dict, state: dict | None) -> None:
        """Mark the job alive, with ``fields``, and tell the pages watching it."""
        updated = Job.objects.filter(pk=self.job_id).update(heartbeat_at=timezone.now(), **fields)
        if updated and state is not None:
            publish_state(self.job_id, state)


class JobContext:
    def __init__(self, job: Job, user: Any, reporter: Reporter) -> None:
        self._job = job
        self.user = user
        self._reporter = reporter
        self._checked_at = 0.0
        self._cancelled = False

    @property
    def id(self) -> int:
        return self._job.pk

    @property
    def cancelled(self) -> bool:
        """Whether the user asked to cancel, or deleted the job (re-read from the database
        a few times a second)."""
        if not self._cancelled and time.monotonic() - self._checked_at >= WRITE_INTERVAL:
            self._checked_at = time.monotonic()
            asked = Job.objects.filter(pk=self.id).values_list("cancel_requested", flat=True)
            self._cancelled = asked.first() in (True, None)  # (None: the row is gone)
        return self._cancelled

    async def acancelled(self) -> bool:
        return await sync_to_async(lambda: self.cancelled)()

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Report ``done`` of ``total`` items (``total`` stays as it was when not given)."""
        job = self._job
        job.done = done
        if total is not None:
            job.total = total
        if message:
            job.message = message[:300]
        fields = {"done": job.done, "total": job.total, "message": job.message}
        self._reporter.report(fields, job.state())

    async def aprogress(self, done: int, total: int | None = None, message: str = "") -> None:
        await sync_to_async(self.progress)(done, total, message)

    def track(self, iterable: Iterable | AsyncIterable, total: int | None = None) -> Tracker:
        """Yield each item and count it; ``total`` defaults to ``len()`` or ``.count()``.
        For one transaction per item, wrap the loop's body in ``transaction.atomic()``."""
        return Tracker(self, iterable, total)


def _total(iterable: Any) -> int | None:
    if isinstance(iterable, models.QuerySet):
        return iterable.count()
    try:
        return len(iterable)
    except TypeError:
        return None


class Tracker:
    def __init__(self, job: JobContext, iterable: Any, total: int | None) -> None:
        self.job, self.iterable, self.total = job, iterable, total

    def __iter__(self):
        job = self.job
        total = self.total if self.total is not None else _total(self.iterable)
        job.progress(0, total)
        for done, item in enumerate(self.iterable, start=1):
            if job.cancelled:
                raise JobCancelled
            yield item
            job.progress(done)

    async def __aiter__(self):
        job = self.job
        total = self.total
        if total is None:
            total = await sync_to_async(_total)(self.iterable)
        await job.aprogress(0, total)
        done = 0
        async for item in _aiter(self.iterable):
            if await job.acancelled():
                raise JobCancelled
            yield item
            done += 1
            await job.aprogress(done)


async def _aiter(iterable: Any):
    if hasattr(iterable, "__aiter__"):  # QuerySets iterate asynchronously too
        async for item in iterable:
            yield item
    else:
        for item in iterable:
            yield item
