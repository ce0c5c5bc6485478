"""Commit -> screen: a commit in a second process until the changed row is in the DOM of a real
Chromium tab, through Redis and daphne, 200 samples.

    python bench/commit_to_screen.py [--samples 200] [--spacing 0.2] [--layer pubsub]

The realtime_admin side: daphne serves the example project (DEBUG off, a fresh SQLite
database) with channels_redis (its core layer, or with ``--layer pubsub`` its pub/sub layer)
on a throwaway redis-server (or REDIS_URL). A writer process
(``manage.py shell``, driven over stdin) creates one order per sample and prints the epoch ms
right after the commit; a Chromium tab logged in as demo on /admin/shop/order/ records, with a
MutationObserver, the ``Date.now()`` at which that order's link appears in the results table.

The baseline, the transport floor: a bare Redis PUBLISH -> websocket -> page round trip,
measured the same way in the same run. A server process of its own (bench/bare_relay.py:
redis.asyncio and the ``websockets`` library) subscribes to a Redis channel and forwards each
message to its websocket clients; its page (served by the same process over HTTP) inserts a
row per message into a table, watched by the same MutationObserver. A trigger process
(``--floor-trigger``) PUBLISHes a number and prints the epoch ms right after PUBLISH returns,
as the writer does after its commit.

A second reference, not a target: the notify-then-fetch floor. A relay, channel and trigger
of its own, the same code, but its page first fetches the row from its relay over HTTP
(``GET /row/<number>``, a new loopback connection each time) and then inserts it, as
realtime_admin's page fetches its rows from Django (DESIGN: "notify, then fetch"): a page
that fetches its rows, with no Django, no daphne and a server that answers in about half a
millisecond.

Where realtime_admin's time goes is printed too, part by part: until the page calls its
refresh fetch (the changes frame arriving, the page's handler), then the fetch (Chromium's
Resource Timing: first byte, last byte), then the row in the DOM.

Samples alternate between the three sides, ``--spacing`` seconds apart, so all see the same
machine load; each side's samples are then more than 0.25 s apart, so none merges with the
previous one (the server sends at most one changes frame per socket per 100 ms, a publishing
process batches every 250 ms, and a page refreshes at most every 250 ms). A few warm-up
samples on each side are not counted. Both clocks are this machine's.

Targets: p50 < 50 ms, p99 < 150 ms, and a p50 at most 2x the floor's. Exits 0 when it ran,
2 when it could not (or a sample never showed).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "example_project"
sys.path[:0] = [str(ROOT), str(PROJECT)]

from bench.browser_support import IDLE, admin_context  # noqa: E402
from bench.demo_server import (  # noqa: E402
    daphne,
    errors_in,
    prepare,
    project_env,
    run_with_redis,
    session_cookies,
    wait_for_port,
)

CHANNEL = "ra-bench-floor"
LAYERS = {"core": "demo.settings", "pubsub": "bench.settings_pubsub"}  # --layer: settings
LAYER_NOTE = {"core": "", "pubsub": " (pub/sub layer)"}
FLOORS = {"floor": ("F", ""), "notify-then-fetch floor": ("G", "?fetch")}  # prefix, page query
WARM_UP = 5
PARTS = [  # commit -> screen, part by part (each sample's; the medians do not add up exactly)
    "commit -> refresh fetch() called (the changes frame in, the page's handler run)",
    "fetch() -> first byte (Chromium sending, the server)",
    "first -> last byte",
    "last byte -> row in the DOM (the page)",
]
WRITER = """
import json, sys, time
from decimal import Decimal
from shop.models import Customer, Order
customer = Customer.objects.first()
for line in sys.stdin:
    number = line.strip()
    order = Order.objects.create(number=number, customer=customer, amount=Decimal("1.00"))
    print(json.dumps({"number": number, "at": time.time() * 1000, "pk": str(order.pk)}),
          flush=True)
"""
# The same observer on both pages: when each row's link first appears, by its text. Each
# time is [epoch ms, performance.now()]: the first against the other process's clock, the
# second against Resource Timing's (the two clocks differ by a fraction of a millisecond).
SEEN = """
window.__now = () => [Date.now(), performance.now()];
window.__seen = {};
new MutationObserver(() => {
    for (const link of document.querySelectorAll("#result_list tbody th a")) {
        if (!(link.textContent in window.__seen)) window.__seen[link.textContent] = __now();
    }
}).observe(document.getElementById("changelist").parentNode, {childList: true, subtree: true});
"""
# On the admin page: when the changes frame naming each pk arrives, before the row is fetched;
# and the timing of each refresh fetch (called, first byte, last byte; performance.now()).
NOTICED = """
window.__noticed = {};
window.__fetches = [];
new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
        if (!entry.name.includes("__live__")) continue;
        window.__fetches.push([entry.startTime, entry.responseStart, entry.responseEnd]);
    }
}).observe({type: "resource"});
window.realtimeAdmin.socket.socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    for (const change of frame.changes || []) {
        if (!(change.pk in window.__noticed)) window.__noticed[change.pk] = __now();
    }
});
"""
# The floor's page inserts each message's row straight from it; with ?fetch, the
# notify-then-fetch floor's first fetches the row from its relay over HTTP, as
# realtime_admin's page fetches its rows from Django.
FLOOR_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>floor</title></head>
<body><div><div id="changelist"><table id="result_list"><tbody></tbody></table></div></div>
<script>
const params = new URLSearchParams(location.search);
const tbody = document.querySelector("#result_list tbody");
const socket = new WebSocket(`ws://${location.host}/ws`);
socket.addEventListener("message", async (event) => {
    const number = JSON.parse(event.data).number;
    if (params.has("fetch")) {
        const response = await fetch(`/row/${encodeURIComponent(number)}`);
        const parsed = document.createElement("tbody");
        parsed.innerHTML = await response.text();
        tbody.prepend(parsed.firstElementChild);
        return;
    }
    const row = document.createElement("tr");
    const link = document.createElement("a");
    link.href = "#";
    link.textContent = number;
    row.appendChild(document.createElement("th")).appendChild(link);
    tbody.prepend(row);
});
window.floorSocket = socket;
</script></body></html>
"""


def floor_trigger(redis: str, channel: str) -> None:
    """PUBLISH each number read from stdin; print the epoch ms once PUBLISH has returned."""
    import redis as redis_py

    client = redis_py.Redis.from_url(redis)
    client.ping()
    for line in sys.stdin:
        number = line.strip()
        client.publish(channel, json.dumps({"number": number}))
        print(json.dumps({"number": number, "at": time.time() * 1000}), flush=True)


def percentile(values: list[float], q: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class Side:
    """One measured path: a process that makes a change and says when, and a page showing it."""

    def __init__(self, name: str, trigger: subprocess.Popen, page, prefix: str):
        self.name, self.trigger, self.page, self.prefix = name, trigger, page, prefix
        self.latencies: list[float] = []
        self.notices: list[float] = []  # commit -> the changes frame on the page
        self.parts: list[tuple[float, ...]] = []  # the same sample's path, part by part
        self.count = 0

    def sample(self, keep: bool) -> None:
        number = f"{self.prefix}-{self.count:04d}"
        self.count += 1
        fetches_before = self.page.evaluate("() => window.__fetches?.length")  # (admin page)
        self.trigger.stdin.write(number + "\n")
        self.trigger.stdin.flush()
        line = self.trigger.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name}: the trigger process ended")
        said = json.loads(line)
        self.page.wait_for_function("n => n in window.__seen", arg=number, timeout=10000)
        seen, seen_mono = self.page.evaluate("n => window.__seen[n]", number)
        if keep:
            self.latencies.append(seen - said["at"])
            if "pk" in said:
                noticed, noticed_mono = self.page.evaluate("pk => window.__noticed[pk]", said["pk"])
                self.notices.append(noticed - said["at"])
                # The refresh this sample made: the first since it was triggered (the
                # observer may report it a moment after the row is in).
                fetch = "n => window.__fetches[n]"
                self.page.wait_for_function(fetch, arg=fetches_before, timeout=10000)
                sent, first, last = self.page.evaluate(fetch, fetches_before)
                # (The page's own handler runs before the bench's listener that stamps the
                # notice, and calls fetch(): the call is timed from the notice, clock to clock.)
                called = noticed - said["at"] + (sent - noticed_mono)
                self.parts.append((called, first - sent, last - first, seen_mono - last))

    def figures(self, values: list[float] | None = None) -> dict[str, float]:
        values = self.latencies if values is None else values
        return {
            "p50": percentile(values, 0.50),
            "p90": percentile(values, 0.90),
            "p99": percentile(values, 0.99),
            "worst": max(values),
        }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument(
        "--spacing", type=float, default=0.2, help="seconds between two samples (either side)"
    )
    parser.add_argument(
        "--layer",
        choices=LAYERS,
        default="core",
        help="channels_redis' core layer (the default) or its pub/sub layer",
    )
    parser.add_argument("--floor-trigger", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    parser.add_argument("--channel", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_trigger:
        floor_trigger(args.redis, args.channel)
        return 0

    return run_with_redis("commit_to_screen", measure, args)


def measure(args, redis: str) -> int:
    from playwright.sync_api import sync_playwright

    from tests.services import CHROMIUM, CHROMIUM_ARGS, _free_port

    workdir = Path(tempfile.mkdtemp(prefix="ra-commit-to-screen-"))
    env = project_env(redis, settings=LAYERS[args.layer], database=workdir / "db.sqlite3")
    prepare(env)
    cookie = session_cookies(env, "demo")["demo"]
    log_path = workdir / "server.log"
    print(f"server log: {log_path}")
    log = log_path.open("w+")  # noqa: SIM115 (read back at the end)
    manage = [sys.executable, str(PROJECT / "manage.py")]
    processes: list[subprocess.Popen] = []

    def start(command, **options):
        process = subprocess.Popen(command, text=True, env=env, **options)
        processes.append(process)
        return process

    started = time.monotonic()
    try:
        with daphne(env, log) as server, sync_playwright() as playwright:
            here = [sys.executable, __file__, "--redis", redis]
            page = workdir / "floor.html"
            page.write_text(FLOOR_PAGE)
            pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE}
            # Each floor has a relay, a channel and a trigger of its own, so that neither
            # wakes the other's page.
            floors = {}
            for name, (prefix, mode) in FLOORS.items():
                port, channel = _free_port(), f"{CHANNEL}-{prefix}"
                relay = [sys.executable, str(ROOT / "bench" / "bare_relay.py"), str(port)]
                floor = start([*relay, redis, channel, str(page)], stdout=subprocess.PIPE)
                if floor.stdout.readline().strip() != "ready":
                    raise RuntimeError("the floor server did not start")
                wait_for_port(port, floor, "the floor server")
                trigger = start([*here, "--floor-trigger", "--channel", channel], **pipes)
                floors[name] = (f"http://127.0.0.1:{port}/{mode}", trigger)
            writer = start([*manage, "shell", "--verbosity", "0", "-c", WRITER], **pipes)

            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            admin_url = f"http://127.0.0.1:{server.port}"
            admin = admin_context(browser, admin_url, cookie).new_page()
            admin.goto(admin_url + "/admin/shop/order/")
            admin.wait_for_selector("#result_list")
            admin.wait_for_function("() => window.realtimeAdmin?.socket?.isOpen")
            admin.wait_for_function(IDLE)
            admin.evaluate(SEEN)
            admin.evaluate(NOTICED)
            sides = [Side("realtime_admin", writer, admin, "L")]
            for name, (url, trigger) in floors.items():
                bare = browser.new_context().new_page()
                bare.goto(url)
                bare.wait_for_function("() => window.floorSocket.readyState === 1")
                bare.evaluate(SEEN)
                sides.append(Side(name, trigger, bare, FLOORS[name][0]))
            for n in range(WARM_UP + args.samples):
                for side in sides:
                    side.sample(keep=n >= WARM_UP)
                    side.page.wait_for_timeout(args.spacing * 1000)
                if n >= WARM_UP and (n - WARM_UP + 1) % 50 == 0:
                    print(f"  {n - WARM_UP + 1}/{args.samples} samples", flush=True)
            browser.close()
    finally:
        for process in processes:
            if process.stdin:
                process.stdin.close()
            process.terminate()
            process.wait()
    seconds = time.monotonic() - started

    errors = errors_in(log)
    ours, floor_figures, fetch_floor = (side.figures() for side in sides)
    ratio = ours["p50"] / floor_figures["p50"]
    missed = [
        name
        for name, ok in (
            ("p50", ours["p50"] < 50),
            ("p99", ours["p99"] < 150),
            ("2x floor", ratio <= 2),
        )
        if not ok
    ]

    def spread(figures: dict[str, float]) -> str:
        return ", ".join(f"{name} {value:.1f} ms" for name, value in figures.items())

    print(
        f"floor, Redis PUBLISH -> websocket -> page, {args.samples} samples: "
        f"{spread(floor_figures)} (the baseline)"
    )
    print(
        f"commit -> screen{LAYER_NOTE[args.layer]}, {args.samples} samples: "
        f"p50 {ours['p50']:.1f} ms (floor {floor_figures['p50']:.1f} ms, {ratio:.1f}x), "
        + ", ".join(
            f"{name} {ours[name]:.1f} ms (floor {floor_figures[name]:.1f} ms)"
            for name in ("p90", "p99", "worst")
        )
        + " (target p50 < 50 ms, p99 < 150 ms, <= 2x the floor at p50): "
        + ("met" if not missed else "missed " + ", ".join(missed))
    )
    notices = sides[0].figures(sides[0].notices)
    print(
        f"commit -> notice on the page{LAYER_NOTE[args.layer]} (the transport part: before "
        f"the row is fetched over "
        f"HTTP), {args.samples} samples: p50 {notices['p50']:.1f} ms "
        f"({notices['p50'] / floor_figures['p50']:.1f}x the floor), p99 {notices['p99']:.1f} ms"
    )
    parts = [statistics.median(part) for part in zip(*sides[0].parts, strict=True)]
    print(
        "commit -> screen, medians of each part: "
        + ", ".join(f"{name} {value:.1f} ms" for name, value in zip(PARTS, parts, strict=True))
    )
    print(
        f"notify-then-fetch floor, the floor plus the page fetching its row from the relay "
        f"over HTTP, {args.samples} samples: {spread(fetch_floor)} "
        f"({fetch_floor['p50'] / floor_figures['p50']:.1f}x the floor at p50; commit -> screen "
        f"is {ours['p50'] / fetch_floor['p50']:.1f}x this)"
    )
    print(f"took {seconds:.0f} s; server log errors: {len(errors)}")
    for line in errors[:10]:
        print("  log:", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
