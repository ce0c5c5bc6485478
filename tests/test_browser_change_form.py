"""The live change form and presence in a real browser: two users in two browser contexts,
on two server processes sharing one database and one Redis."""

import json

import pytest
from django.contrib.sessions.models import Session

from tests import factories, services
from tests.browser import LiveAdminTestCase
from tests.conftest import OtherProcess

pytestmark = pytest.mark.browser

ORDERS = "/admin/shop/order/"


def wait_for_frame(page, kind: str, timeout_ms: int = 10000) -> None:
    for _ in range(timeout_ms // 25):
        if any(f'"type": "{kind}"' in frame for frame in page.frames_received):
            return
        page.wait_for_timeout(25)
    raise AssertionError(f"no {kind} frame; frames: {page.frames_received}")


def avatars(page) -> list[str]:
    return page.eval_on_selector_all(".ra-presence li", "items => items.map(i => i.title)")


class ChangeFormCase(LiveAdminTestCase):
    server_env = {"RA_TEST_HEARTBEAT_INTERVAL": "1"}

    def setUp(self):
        self.alice = factories.superuser("alice")
        self.alice.first_name, self.alice.last_name = "Alice", "Liddell"
        self.alice.save()
        self.bob = factories.superuser("bob")
        self.bob.first_name, self.bob.last_name = "Bob", "Marley"
        self.bob.save()
        self.order = factories.order(number="A-1", status="new", amount="10.00")

    def open_form(self, user, server=None):
        page = self.open_as(user, f"{ORDERS}{self.order.pk}/change/", live=False, server=server)
        wait_for_frame(page, "presence")
        return page


class ChangeFormTests(ChangeFormCase):
    def test_changes_from_a_script_and_a_delete(self):
        writer = OtherProcess()  # a worker or cron job: its own process, no user
        self.addCleanup(writer.close)
        alice = self.open_form(self.alice)
        # (A server of its own: this class's server caches content type ids from earlier
        # tests, which the database no longer has, and the admin's log entry needs one.)
        bob = self.open_form(self.bob, server=self.another_server())
        bob.select_option("#id_status", "shipped")
        bob.click("input[name=_continue]")
        bob.wait_for_selector(".messagelist .success")
        writer("update", pk=self.order.pk, amount="12.00")
        banner_text = "() => document.querySelector('#ra-change-banner .ra-banner-text')"
        alice.wait_for_function(f"{banner_text}?.textContent.includes('Bob Marley and another')")
        alice.wait_for_function(
            "() => document.querySelector('#ra-change-banner .ra-banner')"
            ".textContent.includes('Changed: Status and Amount.')"
        )
        assert avatars(alice) == ["Bob Marley"]
        writer("delete", pk=self.order.pk)
        alice.wait_for_function(
            "() => /no longer available to you, after a change by another process .*: it was "
            "deleted, or you may no longer see it\\./.test("
            "document.querySelector('#ra-change-banner .ra-banner-text').textContent)"
        )
        # The delete is the script's alone: Bob only changed the order before it.
        assert "Bob" not in alice.inner_text("#ra-change-banner .ra-banner")
        assert alice.is_hidden(".ra-reload") and alice.is_hidden(".ra-compare")
        # Nor is anybody shown as still here: the socket no longer follows the object.
        assert avatars(alice) == [] and alice.is_hidden(".ra-presence")

    def test_a_form_that_finds_its_session_over_stops_and_says_so(self):
        writer = OtherProcess()
        self.addCleanup(writer.close)
        alice = self.open_form(self.alice)
        Session.objects.all().delete()  # e.g. logged out in another tab
        writer("update", pk=self.order.pk, amount="12.00")  # the form asks what changed
        notice = alice.wait_for_selector("#ra-change-banner .ra-notice .error")
        assert "your session has ended" in notice.inner_text()
        assert alice.query_selector("#ra-change-banner .ra-banner") is None
        alice.wait_for_function("() => !window.realtimeAdminForm.socket.isOpen")

    def test_reload_on_a_page_a_refused_save_came_back_to_asks_first(self):
        writer = OtherProcess()
        self.addCleanup(writer.close)
        alice = self.open_form(self.alice)
        writer("update", pk=self.order.pk, amount="12.00")
        alice.fill("#id_amount", "99.00")
        alice.click("input[name=_continue]")
        alice.wait_for_selector(".errornote")  # refused: someone else changed the amount too
        alice.wait_for_function("() => window.realtimeAdminForm.socket.isOpen")
        writer("update", pk=self.order.pk, amount="13.00")
        alice.wait_for_selector("#ra-change-banner .ra-reload", state="visible")
        dialogs = []
        alice.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        alice.click("#ra-change-banner .ra-reload")
        assert dialogs == ["Discard your unsaved changes and reload?"]
        assert alice.input_value("#id_amount") == "99.00"  # the input the save came back with

    def test_a_server_that_crashes_takes_its_users_away_within_seconds(self):
        second = self.another_server()
        alice = self.open_form(self.alice)
        self.open_form(self.bob, server=second)
        alice.wait_for_function("() => document.querySelectorAll('.ra-presence li').length === 1")
        self.other_server.kill()  # no goodbye: its announcements just stop
        # Expired after 3 missed heartbeats of 1 s (here), plus the check's own heartbeat.
        alice.wait_for_selector(".ra-presence", state="hidden", timeout=8000)

    def test_presence_on_the_changelist_in_dark_mode(self):
        alice = self.open_as(self.alice, ORDERS, color_scheme="dark")
        bob = self.open_as(self.bob, ORDERS)
        alice.wait_for_function("() => document.querySelectorAll('.ra-presence li').length === 1")
        assert avatars(alice) == ["Bob Marley"]
        # Bob on the change form is elsewhere: not on the list any more.
        bob.goto(self.live_server_url + f"{ORDERS}{self.order.pk}/change/")
        alice.wait_for_selector(".ra-presence", state="hidden", timeout=5000)


class TwoUsersTests(ChangeFormCase):
    # A server process of its own: the admin's saves write log entries naming content types,
    # which a server process caches, and a previous test's flush would leave those ids stale.

    def test_two_users_on_two_servers_see_each_other_and_each_others_changes(self):
        second = self.another_server()
        alice = self.open_form(self.alice)
        bob = self.open_form(self.bob, server=second)

        # Presence, across the two server processes.
        alice.wait_for_function("() => document.querySelectorAll('.ra-presence li').length === 1")
        bob.wait_for_function("() => document.querySelectorAll('.ra-presence li').length === 1")
        assert avatars(alice) == ["Bob Marley"]
        assert avatars(bob) == ["Alice Liddell"]
        assert alice.inner_text(".ra-presence li span[aria-hidden]") == "BM"

        # Alice types; Bob changes the status and saves on the other server.
        alice.fill("#id_amount", "99.00")
        bob.select_option("#id_status", "shipped")
        bob.click("input[name=_continue]")
        bob.wait_for_selector(".messagelist .success")

        banner = alice.wait_for_selector("#ra-change-banner .ra-banner")
        text = banner.inner_text()
        assert "This order was changed by Bob Marley" in text
        assert "Changed: Status." in text
        assert alice.input_value("#id_amount") == "99.00"  # her input is untouched
        # Screen readers hear it once, from a live region kept apart from the ticking time.
        announced = alice.text_content("[role=status][aria-live=polite].visually-hidden")
        assert "changed by Bob Marley" in announced and "Changed: Status." in announced

        # Compare: under the status field, what is saved now.
        alice.click(".ra-compare")
        assert alice.inner_text(".field-status .ra-saved-value") == "Saved now: Shipped"
        assert alice.input_value("#id_status") == "new"  # her form still shows what she loaded

        # Her save keeps Bob's status, which she did not change, and says so.
        alice.click("input[name=_continue]")
        alice.wait_for_selector(".messagelist .success")
        assert (
            "Someone else changed Status since you opened this order, and you did not: their "
            "change is kept." in alice.inner_text(".messagelist .info")
        )
        self.order.refresh_from_db()
        assert (self.order.status, str(self.order.amount)) == ("shipped", "99.00")

        # Bob's page heard of Alice's save in turn, naming her.
        bob.wait_for_function(
            "() => (document.querySelector('#ra-change-banner .ra-banner-text') || {})"
            ".textContent?.includes('Alice Liddell')"
        )
        # Both change the status now: Bob saves first, and Alice's save is refused once,
        # with her input kept and Compare showing Bob's value...
        alice.wait_for_function("() => window.realtimeAdminForm.socket.isOpen")
        alice.select_option("#id_status", "cancelled")
        bob.select_option("#id_status", "paid")
        bob.click("input[name=_continue]")
        bob.wait_for_selector(".messagelist .success")
        alice.click("input[name=_continue]")
        error = alice.wait_for_selector(".errornote ~ ul.errorlist, ul.errorlist.nonfield")
        assert "Someone else changed this order since you opened it: Status." in error.inner_text()
        assert alice.input_value("#id_status") == "cancelled"
        alice.wait_for_selector("#ra-change-banner .ra-compare", state="visible")
        alice.click(".ra-compare")
        assert alice.inner_text(".field-status .ra-saved-value") == "Saved now: Paid"
        self.order.refresh_from_db()
        assert (self.order.status, str(self.order.amount)) == ("paid", "99.00")
        # ...and saving again overwrites it, knowingly.
        alice.click("input[name=_continue]")
        alice.wait_for_selector(".messagelist .success")
        self.order.refresh_from_db()
        assert (self.order.status, str(self.order.amount)) == ("cancelled", "99.00")

        # Bob leaves: Alice's row of faces empties within seconds.
        bob.context.close()
        alice.wait_for_selector(".ra-presence", state="hidden", timeout=5000)
        assert alice.console_errors == []


class PresenceAcrossARedisRestartTests(ChangeFormCase):
    """Redis without persistence restarts under two server processes: every group is gone.
    The hubs notice at their next heartbeat, announce themselves again and ask the others."""

    @classmethod
    def setUpClass(cls):
        cls.redis = services.RedisServer()
        if not cls.redis.start():
            services.missing("redis-server")
        cls.server_env = {
            **cls.server_env,
            "RA_TEST_REDIS_URL": cls.redis.url,
            # The restart drops every socket: the grace (the default) covers the reconnect.
            "RA_TEST_PRESENCE_GRACE": "5",
        }
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.redis.stop()

    def test_presence_comes_back_after_a_redis_restart(self):
        second = self.another_server()
        carol = factories.superuser("carol")
        alice = self.open_form(self.alice)
        self.open_form(self.bob, server=second)
        alice.wait_for_function("() => document.querySelectorAll('.ra-presence li').length === 1")
        told_before = len(alice.frames_received)
        self.redis.restart()
        # Someone arriving on the other server after the restart is seen, and Bob still is.
        self.open_form(carol, server=second)
        alice.wait_for_function(
            "() => document.querySelectorAll('.ra-presence li').length === 2", timeout=15000
        )
        assert avatars(alice) == ["Bob Marley", "carol"]
        # Bob never blinked out: the restart was noticed before his announcements expired.
        rosters = [
            json.loads(frame)["users"]
            for frame in alice.frames_received[told_before:]
            if '"type": "presence"' in frame
        ]
        assert all("Bob Marley" in [user["name"] for user in users] for users in rosters), rosters


class FrenchChangeFormTests(ChangeFormCase):
    server_env = {"RA_TEST_LANGUAGE_CODE": "fr"}

    def test_what_the_socket_says_is_in_the_pages_language(self):
        writer = OtherProcess()
        self.addCleanup(writer.close)
        alice = self.open_form(self.alice)
        Session.objects.all().delete()
        writer("update", pk=self.order.pk, amount="12.00")  # the form asks what changed
        notice = alice.wait_for_selector("#ra-change-banner .ra-notice .error")
        assert "votre session a pris fin" in notice.inner_text()
