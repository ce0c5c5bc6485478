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

import time
from collections.abc import AsyncIterable, Iterable
from typing import Any

from asgiref.sync import sync_to_async
from django.db import models
from django.utils import timezone

from .models import Job

# Progress is written (and so published to open tabs) at most this often, except that the
# first and last steps are always written: a burst becomes a few updates a second, and a slow
# job shows every step.
WRITE_INTERVAL = 0.25


class JobCancelled(Exception):
    """Raised by ``job.track()`` at the next item once the user cancelled the job."""


class JobContext:
    def __init__(self, job: Job, user: Any) -> None:
        self._job = job
        self.user = user
        self._written_at = 0.0
        self._checked_at = 0.0
        self._cancelled = False

    @property
    def id(self) -> int:
        return self._job.pk

    @property
    def cancelled(self) -> bool:
        """Whether the user asked to cancel (re-read from the database a few times a second)."""
        if not self._cancelled and time.monotonic() - self._checked_at >= WRITE_INTERVAL:
            self._checked_at = time.monotonic()
            self._cancelled = Job.objects.filter(pk=self.id, cancel_requested=True).exists()
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
        last = job.total is not None and done >= job.total
        if last or done <= 1 or time.monotonic() - self._written_at >= WRITE_INTERVAL:
            self.write()

    async def aprogress(self, done: int, total: int | None = None, message: str = "") -> None:
        await sync_to_async(self.progress)(done, total, message)

    def write(self) -> None:
        self._written_at = time.monotonic()
        job = self._job
        job.heartbeat_at = timezone.now()
        job.save(update_fields=["done", "total", "message", "heartbeat_at"])
        job.publish()

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
