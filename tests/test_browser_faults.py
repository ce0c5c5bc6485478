"""Faults injected for real (Redis restarted, the server killed, messages dropped at
capacity, rights revoked) and, after each, a page that equals a fresh reload."""

import re
import time

import pytest
from django.contrib.sessions.models import Session

from tests import factories, services
from tests.browser import LiveAdminTestCase
from tests.conftest import OtherProcess

pytestmark = pytest.mark.browser

ORDERS = "/admin/shop/order/"
ROW_NUMBERS = (
    "Array.from(document.querySelectorAll('#result_list tbody tr th a'), a => a.textContent)"
)


class FaultTestCase(LiveAdminTestCase):
    def setUp(self):
        self.root = factories.superuser()
        self.customer = factories.customer("Ada Lovelace")
        with self.server_environment():  # the writer shares the server's Redis and layer
            self.writer = OtherProcess()
        self.addCleanup(self.writer.close)

    def create(self, number, **fields):
        return self.writer("create", customer_id=self.customer.pk, number=number, **fields)["pk"]

    def wait_for_row(self, page, number, timeout_ms=20000):
        page.wait_for_function(f"n => {ROW_NUMBERS}.includes(n)", arg=number, timeout=timeout_ms)

    def assert_equals_a_reload(self, page):
        self.assert_settled(page)
        live = self.results_html(page)
        page.reload()
        assert self.results_html(page) == live

    @staticmethod
    def received(page, frame_type):
        return sum(f'"type": "{frame_type}"' in frame for frame in page.frames_received)


class RedisRestartTests(FaultTestCase):
    """Redis without persistence restarts: every group is gone, and with it every
    process's membership. Nobody reloads; the page must come right by itself."""

    @classmethod
    def setUpClass(cls):
        cls.redis = services.RedisServer()
        if not cls.redis.start():
            services.missing("redis-server")
        cls.server_env = {"RA_TEST_REDIS_URL": cls.redis.url, "RA_TEST_HEARTBEAT_INTERVAL": "1"}
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.redis.stop()

    def test_the_page_is_live_and_right_again_within_seconds(self):
        self.create("R-1")
        page = self.open_as(self.root, ORDERS)
        self.wait_for_row(page, "R-1")
        self.redis.restart()
        restarted = time.monotonic()
        self.create("R-2")  # published into the void: nobody is in the group now
        self.wait_for_row(page, "R-2")
        print(f"\nRedis restart: page right again after {time.monotonic() - restarted:.1f} s")
        self.create("R-3")  # and it is live again, not just resynced once
        self.wait_for_row(page, "R-3", timeout_ms=5000)
        self.assert_equals_a_reload(page)

    def test_while_redis_is_down_the_page_says_so_and_then_catches_up(self):
        self.create("D-1")
        page = self.open_as(self.root, ORDERS)
        self.wait_for_row(page, "D-1")
        self.redis.stop()
        try:
            # The page's own socket is fine, but changes cannot reach it: it says so.
            page.wait_for_selector("#ra-reconnecting", timeout=10000)
            assert page.inner_text("#ra-reconnecting") == "Reconnecting…"
            assert page.evaluate("window.realtimeAdmin.socket.isOpen")
            self.create("D-2")  # its message cannot be sent now
        finally:
            back = time.monotonic()
            assert self.redis.start(), "redis-server did not come back"
        page.wait_for_selector("#ra-reconnecting", state="detached", timeout=15000)
        self.wait_for_row(page, "D-2")
        print(f"\nRedis started: badge gone, page right after {time.monotonic() - back:.1f} s")
        self.assert_equals_a_reload(page)


class ServerRestartTests(FaultTestCase):
    def test_a_killed_server_is_reconnected_to_and_the_page_catches_up(self):
        doomed = self.create("S-1")
        self.create("S-2")
        page = self.open_as(self.root, ORDERS)
        self.wait_for_row(page, "S-2")

        def while_down():
            self.writer("delete", pk=doomed)
            self.create("S-3")
            page.wait_for_selector("#ra-reconnecting", timeout=10000)
            assert page.inner_text("#ra-reconnecting") == "Reconnecting…"

        self.restart_server(while_down)
        self.wait_for_row(page, "S-3", timeout_ms=30000)
        page.wait_for_selector("#ra-reconnecting", state="detached")
        assert "S-1" not in page.evaluate(f"() => {ROW_NUMBERS}")
        self.assert_equals_a_reload(page)


class FailingRightAfterAcceptTests(FaultTestCase):
    def test_a_socket_closed_right_after_it_opens_backs_off_and_says_reconnecting(self):
        """A server that accepts the socket, then fails at once (its database or Redis
        down): each attempt opens, so an open must not end the backoff."""
        page = self.open_as(self.root, ORDERS)
        attempts = []

        def fail_at_once(socket):  # accepted, then a 1011 on the page's first frame
            attempts.append(time.monotonic())
            socket.on_message(lambda _: socket.close(code=1011))

        page.route_web_socket(re.compile(r".*/ws/realtime-admin/.*"), fail_at_once)
        page.reload()
        page.wait_for_selector("#ra-reconnecting", timeout=15000)
        first = attempts[0]
        page.wait_for_timeout(max(0.0, 8.5 - (time.monotonic() - first)) * 1000)
        # With the backoff growing: at most 6 in 8 s, whatever the jitter (ending it on each
        # open, every 0.2-1.2 s: at least 7).
        assert len([at for at in attempts if at - first < 8]) <= 6, attempts


class ReconnectSpreadTests(FaultTestCase):
    def test_the_tabs_of_a_restarted_server_do_not_come_back_all_at_once(self):
        tabs = [self.open_as(self.root, ORDERS) for _ in range(8)]
        attempts = [[] for _ in tabs]
        for page, log in zip(tabs, attempts, strict=True):
            page.on("websocket", lambda socket, log=log: log.append(time.monotonic()))
        self.restart_server()
        up = time.monotonic()
        for page in tabs:
            page.wait_for_function("() => window.realtimeAdmin.socket.isOpen", timeout=30000)
        # Each tab's last attempt is the one that got through: not all in the same 100 ms
        # (jittered backoff spreads them over a second or more).
        back = sorted(log[-1] for log in attempts)
        print(f"\nreconnected after the restart: {[round(t - up, 2) for t in back]} s")
        assert back[-1] - back[0] > 0.1, back


class DroppedMessageTests(FaultTestCase):
    # channels_redis drops a group message to any channel holding this many already.
    server_env = {"RA_TEST_LAYER_CAPACITY": "1"}

    def test_messages_dropped_at_capacity_leave_the_page_exact(self):
        page = self.open_as(self.root, ORDERS)
        page.wait_for_timeout(500)  # past the page's first catch-up
        frames_before = len(page.frames_received)
        # 20 batches at once from another process (the page shows 25 orders).
        pks = self.writer("burst", customer_id=self.customer.pk, count=20)["pks"]
        self.wait_for_row(page, "Z-0019")
        page.wait_for_function(
            "n => document.querySelectorAll('#result_list tbody tr').length === n", arg=len(pks)
        )
        # The drops really happened, and the hub noticed them (by a gap, or by the tail).
        frames = page.frames_received[frames_before:]
        assert sum('"changes"' in frame for frame in frames) < len(pks), frames
        for _ in range(50):
            if any('"resync"' in frame for frame in page.frames_received[frames_before:]):
                break
            page.wait_for_timeout(100)
        else:
            raise AssertionError(f"no resync: {page.frames_received[frames_before:]}")
        self.assert_equals_a_reload(page)


class SessionEndedTests(FaultTestCase):
    # The socket's own re-check of the session comes too late to matter here.
    server_env = {"RA_TEST_RECHECK_INTERVAL": "60"}

    def test_a_refresh_sent_to_the_login_page_stops_the_page_and_says_so(self):
        page = self.open_as(self.root, ORDERS)
        self.wait_until_idle(page)
        sockets = []
        page.on("websocket", lambda socket: sockets.append(socket))
        Session.objects.all().delete()  # e.g. logged out in another tab
        self.create("E-1")
        page.wait_for_selector("#ra-stopped-notice", timeout=10000)
        assert "your session has ended" in page.inner_text("#ra-stopped-notice")
        # Not "1 row changed elsewhere": the login page is no answer about rows.
        assert page.query_selector("#ra-stale-notice") is None
        # The socket is closed and stays so: no reconnect, no "Reconnecting…".
        page.wait_for_timeout(2500)
        assert not page.evaluate("window.realtimeAdmin.socket.isOpen")
        assert sockets == []
        assert page.query_selector("#ra-reconnecting") is None


class AccessAndVisibilityTests(FaultTestCase):
    server_env = {"RA_TEST_RECHECK_INTERVAL": "0.5"}

    def test_logging_out_elsewhere_stops_the_page_and_says_so(self):
        page = self.open_as(self.root, ORDERS)
        # Past the page's first catch-up: a refresh would find the session over first (and
        # stop the page with the same notice, as SessionEndedTests checks), not the socket.
        self.assert_settled(page)
        sockets = []
        page.on("websocket", lambda socket: sockets.append(socket))
        Session.objects.all().delete()  # e.g. logged out in another tab
        page.wait_for_selector("#ra-stopped-notice", timeout=10000)
        assert "your session has ended" in page.inner_text("#ra-stopped-notice")
        # One reconnect, with the cookie it has, is what told it; then no more.
        assert len(sockets) == 1
        page.wait_for_timeout(2500)
        assert len(sockets) == 1
        assert page.query_selector("#ra-reconnecting") is None

    def test_losing_the_view_permission_stops_the_page(self):
        carol = factories.staff("carol", "view_order")
        page = self.open_as(carol, ORDERS)
        carol.user_permissions.clear()
        page.wait_for_selector("#ra-stopped-notice", timeout=10000)
        assert "no longer have access" in page.inner_text("#ra-stopped-notice")

    def test_coming_back_to_a_hidden_tab_catches_up(self):
        pk = self.create("V-1")
        page = self.open_as(self.root, ORDERS)
        self.wait_for_row(page, "V-1")
        set_visibility = (
            "state => { Object.defineProperty(document, 'visibilityState',"
            " {value: state, configurable: true});"
            " document.dispatchEvent(new Event('visibilitychange')); }"
        )
        page.evaluate(set_visibility, "hidden")
        # A write nobody is told about (update() sends no signal): only a resync shows it.
        from shop.models import Order

        Order.objects.filter(pk=pk).update(status="shipped")
        page.evaluate(set_visibility, "visible")
        page.wait_for_function(
            "() => document.querySelector('#result_list td.field-status')?.textContent"
            " === 'Shipped'"
        )
        self.assert_equals_a_reload(page)


WRITES, PER_TRANSACTION = 5000, 10


class BurstTests(FaultTestCase):
    def test_a_burst_of_writes_leaves_every_tab_exact_with_bounded_traffic(self):
        tabs = [
            self.open_as(self.root, ORDERS),
            self.open_as(self.root, ORDERS + "?status__exact=new"),
        ]
        fetches = [[] for _ in tabs]
        for page, log in zip(tabs, fetches, strict=True):
            page.on("request", lambda request, log=log: "__live__" in request.url and log.append(1))
        before = [len(page.frames_received) for page in tabs]
        started = time.monotonic()
        seconds = self.writer(
            "churn", customer_id=self.customer.pk, count=WRITES, per_transaction=PER_TRANSACTION
        )["seconds"]
        for page in tabs:
            self.assert_settled(page)
        busy = time.monotonic() - started  # the writes, and the pages catching up
        for page, log, start in zip(tabs, fetches, before, strict=True):
            told = page.frames_received[start:]
            changes = sum('"type": "changes"' in frame for frame in told)
            resyncs = sum('"type": "resync"' in frame for frame in told)
            print(
                f"\n{WRITES} writes in {seconds:.1f} s, settled after {busy:.1f} s: "
                f"{changes} changes frames, {resyncs} resyncs, {len(log)} fetches"
            )
            # At most one notice (changes, or a resync when a frame would name over 200 rows)
            # per 100 ms, and one refresh per 250 ms (which may take a second fetch, for the
            # whole region); a resync may also answer the subscribe that follows a refresh.
            assert changes + resyncs <= 2 + busy / 0.1 + len(log), (changes, resyncs)
            assert len(log) <= 2 * (1 + busy / 0.25), len(log)
        for page in tabs:
            self.assert_equals_a_reload(page)
