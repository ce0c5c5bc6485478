"""Commit -> screen latency: a write committed in one process until its row is in the DOM of
a real Chromium tab, through Redis and a daphne server running in another process.

    python bench/commit_to_screen.py [--samples 30]

Needs Redis on REDIS_URL (default redis://127.0.0.1:6379/15) and Chromium at /usr/bin/chromium.
Prints each sample and the median / p90 / worst, in milliseconds. Both clocks are this machine's.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

PROJECT = ROOT / "example_project"
WRITER = """
import json, sys, time
from decimal import Decimal
from shop.models import Customer, Order
customer = Customer.objects.first()
for line in sys.stdin:
    number = line.strip()
    Order.objects.create(number=number, customer=customer, amount=Decimal("1.00"))
    print(json.dumps({"number": number, "committed_at": time.time() * 1000}), flush=True)
"""
SEEN = """
window.__seen = {};
new MutationObserver(() => {
    for (const link of document.querySelectorAll("#result_list tbody th a")) {
        if (!(link.textContent in window.__seen)) window.__seen[link.textContent] = Date.now();
    }
}).observe(document.getElementById("changelist").parentNode, {childList: true, subtree: true});
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {
        **os.environ,
        "DEMO_DB": os.path.join(tempfile.mkdtemp(), "bench.sqlite3"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
    }
    manage = [sys.executable, str(PROJECT / "manage.py")]
    server = subprocess.Popen(
        [*manage, "demo", "--no-traffic", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    writer = None
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            for _ in range(100):
                try:
                    page.goto(f"http://127.0.0.1:{port}/admin/login/?next=/admin/shop/order/")
                    break
                except Exception:
                    time.sleep(0.2)
            page.fill("#id_username", "demo")
            page.fill("#id_password", "demo")
            page.click("[type=submit]")
            page.wait_for_selector("#result_list")
            page.wait_for_function("() => window.realtimeAdmin?.socket?.readyState === 1")
            page.evaluate(SEEN)
            writer = subprocess.Popen(
                [*manage, "shell", "--verbosity", "0", "-c", WRITER],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            latencies = []
            for sample in range(args.samples):
                number = f"L-{sample:04d}"
                writer.stdin.write(number + "\n")
                writer.stdin.flush()
                committed = json.loads(writer.stdout.readline())["committed_at"]
                page.wait_for_function(f"() => '{number}' in window.__seen", timeout=10000)
                seen = page.evaluate(f"window.__seen['{number}']")
                latencies.append(seen - committed)
                print(f"{number}: {seen - committed:6.1f} ms")
                page.wait_for_timeout(300)
            browser.close()
    finally:
        if writer:
            writer.stdin.close()
            writer.wait()
        server.terminate()
        server.wait()
    latencies.sort()
    p90 = latencies[int(0.9 * (len(latencies) - 1))]
    median = statistics.median(latencies)
    print(
        f"commit -> screen over {len(latencies)} changes: median {median:.1f} ms,"
        f" p90 {p90:.1f} ms, worst {latencies[-1]:.1f} ms, best {latencies[0]:.1f} ms"
    )


if __name__ == "__main__":
    main()
