"""realtime_admin's settings, read in one place.

Set any of these in a ``REALTIME_ADMIN`` dict in your settings::

    REALTIME_ADMIN = {"WEBSOCKET_PATH": "ws/realtime-admin/"}
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Where the websocket endpoint lives (routing.websocket_urlpatterns uses it).
    "WEBSOCKET_PATH": "ws/realtime-admin/",
    # Prefix of the channel-layer group names, one group per model.
    "GROUP_PREFIX": "realtime_admin",
    # Largest client frame the consumer accepts, in bytes.
    "MAX_FRAME_BYTES": 64 * 1024,
    # Most pks one refresh request may name (changed + shown rows).
    "MAX_REQUEST_PKS": 1000,
    # Seconds between re-checks of each socket's session and permissions: a user logged out,
    # deactivated or stripped of a permission stops receiving within this time.
    "RECHECK_INTERVAL": 30,
    # Seconds between checks that the channel layer still delivers to this process (group
    # membership renewed, a probe sent through each group): after a Redis restart, pages
    # are correct again within about this time.
    "HEARTBEAT_INTERVAL": 5,
    # Seconds a user stays shown as present after their tab's socket closed: a tab that
    # reconnects meanwhile (a server or Redis restart) does not blink out and in.
    "PRESENCE_GRACE": 5,
    # Frames a socket may send per second (in bursts of as many); past it, it is closed.
    "MAX_FRAMES_PER_SECOND": 20,
    # Where @background_action jobs run (a class with start(job_id)).
    "JOB_RUNNER": "realtime_admin.jobs.runners.ThreadRunner",
    # A running job with no heartbeat for this many seconds lost its worker: it is failed.
    "JOB_STALE_AFTER": 60,
}


def get(name: str) -> Any:
    return {**DEFAULTS, **getattr(settings, "REALTIME_ADMIN", {})}[name]
