"""A real Chromium (Debian's, driven by Playwright) against a live daphne server whose
channel layer is a real Redis, so writes from other processes reach it."""

from __future__ import annotations

import contextlib
import os
import re
from functools import partial

from channels.testing import ChannelsLiveServerTestCase
from channels.testing.live import make_application, set_database_connection
from django.conf import settings
from django.test import Client

from tests import services


class LiveAdminTestCase(ChannelsLiveServerTestCase):
    host = "127.0.0.1"
    # Environment of the server process (tests/settings.py reads it), on top of Redis.
    server_env: dict[str, str] = {}

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(services.CHROMIUM):
            services.missing("Chromium")
        if not services.redis_available():
            services.missing("Redis")
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            services.missing("Playwright")
        with cls.server_environment():
            super().setUpClass()
        # Playwright's sync API keeps an event loop running on this thread; the test's own
        # ORM calls (setting up users and rows) are still plain sync code.
        cls._async_unsafe = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        cls.playwright = sync_playwright().start()
        cls.browser = cls.playwright.chromium.launch(
            executable_path=services.CHROMIUM, args=services.CHROMIUM_ARGS
        )

    @classmethod
    @contextlib.contextmanager
    def server_environment(cls):
        """The environment a server process starts with (spawned, it reads it then)."""
        env = {"RA_TEST_LAYER": "redis", **cls.server_env}
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    del os.environ[name]
                else:
                    os.environ[name] = value

    @classmethod
    def restart_server(cls, while_down=None):
        """Kill the server process as a crash would, run ``while_down()``, and start a new
        one on the same port."""
        cls._server_process.kill()
        cls._server_process.join()
        if while_down:
            while_down()
        application = partial(make_application, static_wrapper=cls.static_wrapper)
        with cls.server_environment():
            cls._server_process = cls.ProtocolServerProcess(
                cls.host, application, setup=set_database_connection, port=cls._port
            )
            cls._server_process.start()
        if not cls._server_process.ready.wait(timeout=30):
            raise RuntimeError("the restarted server did not come up")

    def another_server(self) -> str:
        """A second daphne process on the same database and Redis, as a second server of a
        deployment would be; its URL. It is stopped (``.kill()``-able) at the end of the test."""
        application = partial(make_application, static_wrapper=self.static_wrapper)
        with self.server_environment():
            process = self.ProtocolServerProcess(
                self.host, application, setup=set_database_connection
            )
            process.start()
        self.addCleanup(process.join)
        self.addCleanup(process.terminate)
        if not process.ready.wait(timeout=30):
            raise RuntimeError("the second server did not come up")
        self.other_server = process
        return f"http://{self.host}:{process.port.value}"

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls.playwright.stop()
        if cls._async_unsafe is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        super().tearDownClass()

    def open_as(
        self, user, path: str, color_scheme: str = "light", live=True, server=None, **context
    ):
        """A fresh browser context logged in as ``user``, on ``path`` (of ``server``, by
        default the test's own); it records every websocket frame the page receives in
        ``page.frames_received``."""
        server = server or self.live_server_url
        client = Client()
        client.force_login(user)
        browser_context = self.browser.new_context(color_scheme=color_scheme, **context)
        browser_context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": server,
                }
            ]
        )
        self.addCleanup(browser_context.close)
        page = browser_context.new_page()
        page.frames_received = []
        page.console_errors = []
        page.on(
            "websocket",
            lambda ws: ws.on("framereceived", lambda payload: page.frames_received.append(payload)),
        )
        page.on(
            "response",
            lambda response: (
                response.status >= 400
                and page.console_errors.append(f"{response.status} {response.url}")
            ),
        )
        page.on(
            "console",
            lambda message: (
                message.type in ("error", "warning")
                # Chromium asks every site for a favicon; the test server has none.
                and not message.location.get("url", "").endswith("/favicon.ico")
                and page.console_errors.append(message.text)
            ),
        )
        page.goto(server + path)
        if live:
            self.wait_until_live(page)
        return page

    def wait_until_live(self, page, timeout_ms: int = 10000):
        """Until the server has confirmed the page's subscription."""
        for _ in range(timeout_ms // 25):
            if any('"subscribed"' in frame for frame in page.frames_received):
                return
            page.wait_for_timeout(25)
        raise AssertionError(f"no subscription confirmed; frames: {page.frames_received}")

    @staticmethod
    def wait_until_idle(page) -> None:
        """Until the page has fetched everything it was told of."""
        page.wait_for_function(
            "() => { const live = window.realtimeAdmin;"
            " return live && !live.running && !live.changed.size && !live.resyncWanted; }"
        )

    def assert_settled(self, page) -> None:
        """Until the page has fetched all it was told of (and a moment more for stragglers:
        a tail, or the catch-up for rows written just before the page was rendered)."""
        self.wait_until_idle(page)
        page.wait_for_timeout(1500)
        self.wait_until_idle(page)

    @staticmethod
    def row_texts(page) -> list[str]:
        return page.eval_on_selector_all(
            "#result_list tbody tr", "rows => rows.map(r => r.innerText.trim())"
        )

    @staticmethod
    def results_html(page) -> list[str]:
        """The header, each row and the paginator, minus the state this app or actions.js
        adds to rows, for comparison with a fresh reload."""
        parts = [page.inner_html("#result_list thead"), page.inner_html(".paginator")]
        parts += page.eval_on_selector_all(
            "#result_list tbody tr", "rows => rows.map(r => r.outerHTML)"
        )
        parts = [re.sub(r' data-ra-pk="[^"]*"', "", html) for html in parts]
        return [re.sub(r'<tr class="(ra-flash|selected| )*">', "<tr>", html) for html in parts]
