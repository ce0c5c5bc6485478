"""Burst: 10,000 changes in 5 s while 20 tabs are open on different filters; at the end every
tab must equal a fresh load of its URL, and each tab's traffic must have stayed bounded.

    python bench/burst.py [--changes 10000] [--per-transaction 100] [--seconds 5]

Starts a throwaway redis-server (or uses REDIS_URL), daphne serving the example project
(DEBUG off, a fresh SQLite database seeded with 600 more orders) and a headless Chromium with
20 tabs on /admin/shop/order/: 12 as the superuser demo and 8 as alice, whose row rules
(OrderAdmin.get_queryset) show her own orders only, with status filters, an owner filter,
searches, orderings and later pages. A writer process (``manage.py shell``) then makes
``--changes`` creates, updates (status, amount, sometimes the owner) and deletes of orders,
``--per-transaction`` to a transaction, paced to take ``--seconds`` (or as fast as it can).

Counted in each tab: the websocket frames it received, by type (``window.WebSocket`` wrapped
by an init script), and its fetches of the refresh endpoint (``/__live__/``, seen by
Playwright; timed in the page), over the burst and settle window (from the writer's start to
the last tab's last frame or fetch), and when its last frame or fetch came after the writer
ended. Once every tab has been idle and quiet for 3 s (at most 60 s), each tab's results
table (header, rows, with the state the page adds to rows stripped), paginator and search
counts are compared with a fresh load of the same URL in a new tab, as the browser tests do.

Baseline: none. The stated bound: per tab, at most 10 notice frames a second (one changes or
resync frame per 100 ms; the server's "subscribed" answers to the page's own refreshes come
on top), and at most 8 fetches a second (one refresh per 250 ms, which may take a second
fetch for the whole region). Exits 1 if any tab is not exact at the end, 2 if it could not
run; a rate over the bound is reported, not failed.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
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
)

ORDERS = "/admin/shop/order/"
SEED_ORDERS = 600
QUIET_MS = 3000
SETTLE_LIMIT = 60
FRAME_BOUND, FETCH_BOUND = 10, 8  # per tab, per second
NOTICES = ("changes", "resync")

WRITER = """
import json, os, random, time
from decimal import Decimal
from django.contrib.auth import get_user_model
from django.db import transaction
from shop.models import Customer, Order

count = int(os.environ["BURST_CHANGES"])
per = int(os.environ["BURST_PER_TRANSACTION"])
seconds = float(os.environ["BURST_SECONDS"])
rng = random.Random(11)
owners = list(get_user_model().objects.filter(username__in=["demo", "alice"])) + [None]
customers = list(Customer.objects.all())
statuses = [value for value, _ in Order.Status.choices]
live = list(Order.objects.all())
done = {"created": 0, "updated": 0, "deleted": 0}
transactions = -(-count // per)
print(json.dumps({"started": time.time() * 1000}), flush=True)
started = time.monotonic()
for t, first in enumerate(range(0, count, per)):
    time.sleep(max(0, started + t * seconds / transactions - time.monotonic()))
    with transaction.atomic():
        for n in range(first, min(count, first + per)):
            roll = rng.random()
            if roll < 0.4 or len(live) < 50:
                live.append(Order.objects.create(
                    number=f"B-{n}", customer=rng.choice(customers), status=rng.choice(statuses),
                    amount=Decimal(rng.randrange(100, 90000)) / 100, owner=rng.choice(owners)))
                done["created"] += 1
            elif roll < 0.85:
                order = rng.choice(live)
                order.status = rng.choice(statuses)
                order.amount = Decimal(rng.randrange(100, 90000)) / 100
                if rng.random() < 0.1:  # into or out of alice's rows
                    order.owner = rng.choice(owners)
                order.save()
                done["updated"] += 1
            else:
                live.pop(rng.randrange(len(live))).delete()
                done["deleted"] += 1
print(json.dumps({"ended": time.time() * 1000, "seconds": time.monotonic() - started,
                  "transactions": transactions, **done}), flush=True)
"""

# Counts, in each page, the websocket frames by type and the refresh fetches, with times.
COUNTING = """
(() => {
    const stats = (window.__bench = {frames: {}, frameTimes: [], fetchTimes: [], last: Date.now()});
    const NativeWebSocket = window.WebSocket;
    window.WebSocket = class extends NativeWebSocket {
        constructor(...args) {
            super(...args);
            this.addEventListener("message", (event) => {
                let type = "unparsed";
                try {
                    type = JSON.parse(event.data).type;
                } catch (error) {}
                stats.frames[type] = (stats.frames[type] || 0) + 1;
                stats.frameTimes.push([Date.now(), type]);
                stats.last = Date.now();
            });
        }
    };
    const nativeFetch = window.fetch;
    window.fetch = function (...args) {
        const url = String((args[0] && args[0].url) || args[0]);
        if (!url.includes("/__live__/")) return nativeFetch.apply(this, args);
        stats.fetchTimes.push(Date.now());
        stats.last = Date.now();
        const done = () => (stats.last = Date.now());
        const answer = nativeFetch.apply(this, args);
        answer.then(done, done);
        return answer;
    };
})();
"""
RESULTS = """() => {
    const html = (selector) => {
        const element = document.querySelector(selector);
        return element ? element.innerHTML : null;
    };
    return {
        thead: html("#result_list thead"),
        paginator: html(".paginator"),
        search: html("#changelist-search .quiet"),
        rows: Array.from(document.querySelectorAll("#result_list tbody tr"), (r) => r.outerHTML),
        error: html(".errornote"),
    };
}"""


def tab_queries(alice_pk: int) -> list[tuple[str, str]]:
    demo = [
        "",
        "?status__exact=new",
        "?status__exact=paid",
        "?status__exact=shipped",
        "?status__exact=cancelled",
        "?q=B-12",
        "?o=4",
        "?o=-4",
        "?p=1",
        "?status__exact=paid&o=1",
        f"?owner__id__exact={alice_pk}",
        "?p=3&o=-1",
    ]
    alice = [
        "",
        "?status__exact=new",
        "?status__exact=shipped",
        "?q=Hopper",
        "?o=4",
        "?p=1",
        "?status__exact=paid&o=-4",
        "?p=2",
    ]
    return [("demo", query) for query in demo] + [("alice", query) for query in alice]


def normalized(results: dict) -> dict:
    """Without the state this app or actions.js adds to rows (tests/browser.py's results_html)."""

    def clean(html):
        if html is None:
            return None
        html = re.sub(r' data-ra-pk="[^"]*"', "", html)
        return re.sub(r'<tr class="(ra-flash|selected| )*">', "<tr>", html)

    return {
        key: [clean(row) for row in value] if key == "rows" else clean(value)
        for key, value in results.items()
    }


def difference(live: dict, fresh: dict) -> str:
    for key in ("thead", "paginator", "search", "error"):
        if live[key] != fresh[key]:
            return f"{key}: {live[key]!r:.120} != {fresh[key]!r:.120}"
    if len(live["rows"]) != len(fresh["rows"]):
        return f"{len(live['rows'])} rows, a fresh load has {len(fresh['rows'])}"
    for index, (mine, theirs) in enumerate(zip(live["rows"], fresh["rows"], strict=True)):
        if mine != theirs:
            return f"row {index + 1}: {mine!r:.160} != {theirs!r:.160}"
    return ""


def max_per_second(times: list[float]) -> int:
    """The most events in any 1-second span."""
    times, best, first = sorted(times), 0, 0
    for index, at in enumerate(times):
        while times[first] <= at - 1000:
            first += 1
        best = max(best, index - first + 1)
    return best


def seed(count: int) -> int:
    """More orders, with every status and owner, so that later pages exist for both users.
    Returns alice's pk. (Runs before the server starts: bulk_create announces nothing.)"""
    import random
    from datetime import timedelta
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from shop.models import Customer, Order

    rng = random.Random(3)
    users = get_user_model().objects
    owners = list(users.filter(username__in=["demo", "alice"])) + [None]
    customers = list(Customer.objects.all())
    now = timezone.now()
    Order.objects.bulk_create(
        Order(
            number=f"P-{n}",
            customer=rng.choice(customers),
            status=rng.choice(list(Order.Status)),
            amount=Decimal(rng.randrange(100, 90000)) / 100,
            owner=rng.choice(owners),
            created_at=now - timedelta(minutes=rng.randrange(1, 60 * 24 * 60)),
        )
        for n in range(count)
    )
    return users.get(username="alice").pk


class Tab:
    def __init__(self, number: int, user: str, query: str, page):
        self.number, self.user, self.query, self.page = number, user, query, page
        self.requests = 0  # refresh-endpoint requests seen by Playwright
        page.on("request", self.on_request)

    def on_request(self, request) -> None:
        if "/__live__/" in request.url:
            self.requests += 1

    @property
    def name(self) -> str:
        return f"{self.user} {ORDERS}{self.query}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--per-transaction", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0, help="the pace the writer aims at")
    args = parser.parse_args()

    return run_with_redis("burst", burst, args)


def burst(args, redis: str) -> int:
    from playwright.sync_api import sync_playwright

    from tests.services import CHROMIUM, CHROMIUM_ARGS

    begun = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="ra-burst-"))
    env = project_env(redis, database=workdir / "db.sqlite3")
    prepare(env)
    cookies = session_cookies(env, "demo", "alice")
    alice_pk = seed(SEED_ORDERS)
    log_path = workdir / "server.log"
    print(f"server log: {log_path}")
    log = log_path.open("w+")  # noqa: SIM115 (read back at the end)
    manage = [sys.executable, str(PROJECT / "manage.py")]
    writer = None
    with daphne(env, log) as server, sync_playwright() as playwright:
        base = f"http://127.0.0.1:{server.port}"
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        contexts = {user: admin_context(browser, base, cookie) for user, cookie in cookies.items()}
        for context in contexts.values():
            context.add_init_script(COUNTING)
        tabs = []
        for number, (user, query) in enumerate(tab_queries(alice_pk), start=1):
            tab = Tab(number, user, query, contexts[user].new_page())
            tab.page.goto(base + ORDERS + query)
            tabs.append(tab)
        for tab in tabs:  # live: subscribed, and the first catch-up done
            tab.page.wait_for_function("() => window.__bench.frames.subscribed > 0")
            tab.page.wait_for_function(IDLE)
        tabs[0].page.wait_for_timeout(1500)
        requests_before = [tab.requests for tab in tabs]

        lines: list[dict] = []
        writer = subprocess.Popen(
            [*manage, "shell", "--verbosity", "0", "-c", WRITER],
            env={
                **env,
                "BURST_CHANGES": str(args.changes),
                "BURST_PER_TRANSACTION": str(args.per_transaction),
                "BURST_SECONDS": str(args.seconds),
            },
            stdout=subprocess.PIPE,
            text=True,
        )
        reader = threading.Thread(
            target=lambda: lines.extend(json.loads(line) for line in writer.stdout), daemon=True
        )
        reader.start()
        deadline = time.monotonic() + 180
        while writer.poll() is None:  # keep Playwright's events flowing meanwhile
            if time.monotonic() > deadline:
                writer.kill()
                raise RuntimeError("the writer took more than 180 s")
            tabs[0].page.wait_for_timeout(100)
        reader.join(5)
        if writer.returncode or len(lines) < 2:
            raise RuntimeError(f"the writer failed ({writer.returncode}): {lines}")
        started, ended = lines[0]["started"], lines[-1]
        print(
            f"writer: {args.changes} changes in {ended['seconds']:.1f} s "
            f"({ended['transactions']} transactions of {args.per_transaction}: "
            f"{ended['created']} creates, {ended['updated']} updates, {ended['deleted']} deletes)",
            flush=True,
        )

        # Settle: every tab idle, with no frame or fetch for QUIET_MS (at most SETTLE_LIMIT s).
        settle_deadline = time.monotonic() + SETTLE_LIMIT
        state = "() => ({idle: (" + IDLE + ")(), last: window.__bench.last, now: Date.now()})"
        while True:
            states = [tab.page.evaluate(state) for tab in tabs]
            if all(s["idle"] and s["now"] - s["last"] >= QUIET_MS for s in states):
                settled = True
                break
            if time.monotonic() > settle_deadline:
                settled = False
                break
            tabs[0].page.wait_for_timeout(250)

        stats = [tab.page.evaluate("() => window.__bench") for tab in tabs]
        exact = []
        for tab in tabs:
            live = normalized(tab.page.evaluate(RESULTS))
            reference = contexts[tab.user].new_page()
            reference.goto(base + ORDERS + tab.query)
            fresh = normalized(reference.evaluate(RESULTS))
            reference.close()
            exact.append(difference(live, fresh))
        requests = [
            tab.requests - before for tab, before in zip(tabs, requests_before, strict=True)
        ]
        browser.close()
    seconds = time.monotonic() - begun

    errors = errors_in(log)
    window_end = max(s["last"] for s in stats)
    window = (window_end - started) / 1000
    rows = []
    for tab, stat, fetched, wrong in zip(tabs, stats, requests, exact, strict=True):
        frames = [(at, kind) for at, kind in stat["frameTimes"] if at >= started]
        notices = [at for at, kind in frames if kind in NOTICES]
        fetches = [at for at in stat["fetchTimes"] if at >= started]
        kinds = {}
        for _, kind in frames:
            kinds[kind] = kinds.get(kind, 0) + 1
        row = {
            "tab": tab,
            "frames": len(frames),
            "kinds": kinds,
            "notices_max": max_per_second(notices),
            "frames_max": max_per_second([at for at, _ in frames]),
            "fetches": fetched,
            "fetches_timed": len(fetches),
            "fetches_max": max_per_second(fetches),
            "quiet": (stat["last"] - ended["ended"]) / 1000,
            "after": [
                f"{kind} {(at - ended['ended']) / 1000:+.1f}"
                for at, kind in frames
                if at > ended["ended"]
            ],
            "wrong": wrong,
        }
        rows.append(row)
        print(
            f"  tab {tab.number:2} {tab.name}: {row['frames']} frames "
            f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}), {fetched} fetches"
            + (f" ({len(fetches)} timed)" if len(fetches) != fetched else "")
            + f"; max {row['notices_max']} notices/s, {row['frames_max']} frames/s,"
            f" {row['fetches_max']} fetches/s; last {row['quiet']:+.1f} s after the writer"
            f" (frames after it: {', '.join(row['after'][-6:]) or 'none'}); "
            + ("exact" if not wrong else f"NOT EXACT: {wrong}")
        )

    count_exact = sum(not row["wrong"] for row in rows)
    notices_max = max(rows, key=lambda row: row["notices_max"])
    frames_max = max(rows, key=lambda row: row["frames_max"])
    fetches_max = max(rows, key=lambda row: row["fetches_max"])
    mean = statistics.mean
    print(
        f"burst, {args.changes} changes in {ended['seconds']:.1f} s (aimed at {args.seconds:g} s;"
        f" {ended['transactions']} transactions of {args.per_transaction})"
        f" while {len(tabs)} tabs were open ({sum(t.user == 'alice' for t in tabs)} with row rules)"
        f": tabs exact at the end {count_exact}/{len(tabs)}"
        + ("" if settled else f" (not all quiet after {SETTLE_LIMIT} s)")
        + f" (baseline: none; target {len(tabs)}/{len(tabs)})"
    )
    print(
        f"frames per tab over the {window:.1f} s burst+settle window: "
        f"{mean(r['frames'] for r in rows):.0f} mean, {max(r['frames'] for r in rows)} max; "
        f"notices/s: max {notices_max['notices_max']} (tab {notices_max['tab'].number}), "
        f"mean {mean(sum(r['kinds'].get(k, 0) for k in NOTICES) for r in rows) / window:.1f}; "
        f"all frames/s: max {frames_max['frames_max']} (tab {frames_max['tab'].number}), "
        f"mean {mean(r['frames'] for r in rows) / window:.1f} "
        f"(bound <= {FRAME_BOUND} notices/s per tab: "
        + ("within" if notices_max["notices_max"] <= FRAME_BOUND else "OVER")
        + ")"
    )
    print(
        f"fetches per tab over the {window:.1f} s window: "
        f"{mean(r['fetches'] for r in rows):.0f} mean, {max(r['fetches'] for r in rows)} max; "
        f"fetches/s: max {fetches_max['fetches_max']} (tab {fetches_max['tab'].number}), "
        f"mean {mean(r['fetches'] for r in rows) / window:.1f} "
        f"(bound <= {FETCH_BOUND} fetches/s per tab: "
        + ("within" if fetches_max["fetches_max"] <= FETCH_BOUND else "OVER")
        + ")"
    )
    quiet = [row["quiet"] for row in rows]
    latest = max(rows, key=lambda row: row["quiet"])
    print(
        f"last frame or fetch after the writer ended: median {statistics.median(quiet):.1f} s, "
        f"worst {latest['quiet']:.1f} s (tab {latest['tab'].number})"
    )
    print(f"took {seconds:.0f} s; server log errors: {len(errors)}")
    for line in errors[:10]:
        print("  log:", line)
    return 0 if count_exact == len(tabs) else 1


if __name__ == "__main__":
    sys.exit(main())
