"""A thread that sends this process's messages to the channel layer, off the save path.

``bus.publish()`` runs inside ``on_commit``. Sending there, through ``async_to_sync``, meant a
new event loop and a new Redis connection for every transaction (about 2.4 ms each). Instead,
messages are handed to one daemon thread with one event loop, so one connection serves them
all, and what piles up while the thread sends goes out together in the next batch.

Batches go out at most every ``interval`` seconds (the first after a quiet spell at once), so
a process committing thousands of transactions a second spends a bounded share of its time
publishing: each batch costs a few Redis round trips, whatever it holds.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger("realtime_admin")


class Publisher:
    """Runs ``send(items)`` on its own thread for everything submitted since the last call."""

    def __init__(self, send: Callable[[list[Any]], Awaitable[None]], interval: float) -> None:
        self.send = send
        self.interval = interval
        self.reset()

    def reset(self) -> None:
        """Forget the thread (a forked child has none) and anything not sent yet."""
        self._lock = threading.Lock()
        self._pending: list[Any] = []
        self._active = False  # a drain is scheduled or running; set and cleared under _lock
        self._idle = threading.Event()
        self._idle.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_batch = 0.0  # the loop's time before which no batch may go out
        self._tasks: set[asyncio.Task] = set()

    def submit(self, item: Any) -> None:
        """Queue ``item``; never blocks on the network."""
        with self._lock:
            self._pending.append(item)
            if self._idle.is_set():
                self._idle.clear()
            if self._active:
                return  # the running drain takes it
            self._active = True
            loop = self._loop or self._start()
        loop.call_soon_threadsafe(self._run, self._drain())

    def send_soon(self, item: Any) -> None:
        """Send ``item`` on its own, at once: beside the batches, neither spaced nor waited
        for by ``flush()`` (for small messages that must not wait behind the interval)."""
        with self._lock:
            loop = self._loop or self._start()
        loop.call_soon_threadsafe(self._run, self._send_logged([item]))

    @property
    def started(self) -> bool:
        return self._loop is not None

    def flush(self, timeout: float) -> bool:
        """Wait until everything submitted so far was sent (or failed); False on timeout."""
        return self._idle.wait(timeout)

    def _start(self) -> asyncio.AbstractEventLoop:
        self._loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=self._loop.run_forever, name="realtime_admin publisher", daemon=True
        )
        thread.start()
        return self._loop

    def _run(self, coroutine) -> None:
        """Run ``coroutine`` as a task of the thread's loop, keeping it alive until done."""
        task = self._loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_logged(self, items: list[Any]) -> None:
        try:
            await self.send(items)
        except Exception:  # keep the thread serving
            logger.exception("realtime_admin: could not publish %d messages", len(items))

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(self._next_batch - loop.time())  # at once after a quiet spell
        while True:
            with self._lock:
                items, self._pending = self._pending, []
            self._next_batch = loop.time() + self.interval
            await self._send_logged(items)
            with self._lock:
                if not self._pending:
                    self._active = False
                    self._idle.set()
                    return
            await asyncio.sleep(self._next_batch - loop.time())
