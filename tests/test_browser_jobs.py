"""Background actions as staff see them: Run returns at once, a progress bar moves."""

import time

import django
import pytest
from django.contrib.sessions.models import Session

from realtime_admin.jobs.models import Job
from tests import factories
from tests.browser import LiveAdminTestCase
from tests.conftest import OtherProcess

pytestmark = pytest.mark.browser

ORDERS = "/admin/shop/order/"
# Records every aria-valuenow the progress bar shows, whatever re-renders it.
RECORD_PROGRESS = """
window.__progress = [];
new MutationObserver(() => {
    const bar = document.querySelector('.ra-progress[role=progressbar]');
    if (bar) window.__progress.push([bar.getAttribute('aria-valuenow'),
                                     bar.getAttribute('aria-valuemax')]);
}).observe(document, {subtree: true, childList: true, attributes: true});
"""
PROGRESS_NOW = "Number(document.querySelector('.ra-progress')?.getAttribute('aria-valuenow'))"


class BackgroundActionTests(LiveAdminTestCase):
    def setUp(self):
        self.root = factories.superuser()
        customer = factories.customer()
        self.orders = [factories.order(customer=customer) for _ in range(5)]
        self.writer = OtherProcess()
        self.addCleanup(self.writer.close)

    def run_action(self, page, action, rows=5):
        for row in range(1, rows + 1):
            page.check(f"#result_list tbody tr:nth-child({row}) input.action-select")
        page.select_option("select[name=action]", action)
        started = time.monotonic()
        page.click("#changelist-form button[name=index]")
        page.wait_for_selector(".messagelist .info")
        return time.monotonic() - started

    def test_run_returns_at_once_and_the_bar_steps_to_the_end(self):
        page = self.open_as(self.root, ORDERS)
        page.add_init_script(RECORD_PROGRESS)
        took = self.run_action(page, "recalculate")  # 0.4 s per order: 2 s of work
        assert took < 1.5
        assert "is running in the background" in page.inner_text(".messagelist .info")
        self.wait_until_live(page)
        bar = page.wait_for_selector(".ra-progress[role=progressbar][aria-valuemax]")
        assert bar.get_attribute("aria-label") == "Recalculate amounts (in the background)"
        assert bar.get_attribute("aria-valuemax") == "5"
        page.wait_for_selector(".ra-jobs .messagelist .success", timeout=20000)
        assert page.inner_text(".ra-jobs .success").startswith("Recalculated 5 orders.")
        seen = [int(now) for now, _ in page.evaluate("window.__progress")]
        assert seen == sorted(seen) and seen[-1] == 5
        assert len(set(seen)) >= 4  # a slow job shows (nearly) every step
        assert Job.objects.get().status == "succeeded"

        page.reload()  # the result stays until dismissed
        self.wait_until_live(page)
        assert page.inner_text(".ra-jobs .success").startswith("Recalculated 5 orders.")
        page.click(".ra-jobs .ra-job-dismiss")
        page.wait_for_function("() => !document.querySelector('.ra-jobs .messagelist')")
        # A job frame arriving after the click (e.g. the answer to the page's own question
        # on connecting) does not bring it back.
        frames = len(page.frames_received)
        page.evaluate(
            "id => window.realtimeAdmin.socket.send({type: 'job', id})", Job.objects.get().pk
        )

        def answered():  # (the dismissal's own "jobs" list may come in around the answer)
            return any('"type": "job"' in frame for frame in page.frames_received[frames:])

        for _ in range(100):
            if answered():
                break
            page.wait_for_timeout(20)
        assert answered()
        assert page.query_selector(".ra-jobs .messagelist") is None
        for _ in range(40):
            if Job.objects.get().dismissed_at:
                break
            time.sleep(0.05)
        page.reload()
        self.wait_until_live(page)
        assert page.query_selector(".ra-jobs .messagelist") is None

    def test_a_reload_mid_job_keeps_streaming(self):
        page = self.open_as(self.root, ORDERS)
        self.run_action(page, "recalculate")
        page.wait_for_function(f"() => {PROGRESS_NOW} >= 1")
        page.reload()
        self.wait_until_live(page)
        now = int(page.get_attribute(".ra-progress", "aria-valuenow"))
        assert now < 5
        page.wait_for_function(
            f"() => {PROGRESS_NOW} > {now} || document.querySelector('.ra-jobs .success')"
        )
        page.wait_for_selector(".ra-jobs .success", timeout=20000)

    def test_a_job_can_be_cancelled(self):
        page = self.open_as(self.root, ORDERS)
        self.run_action(page, "recalculate")
        page.wait_for_function(f"() => {PROGRESS_NOW} >= 1")
        page.click(".ra-job-cancel")
        page.wait_for_selector(".ra-jobs .messagelist .warning", timeout=10000)
        assert "was cancelled" in page.inner_text(".ra-jobs .warning")
        job = Job.objects.get()
        assert job.status == "cancelled" and job.done < 5

    def test_progress_frames_leave_the_cancel_button_in_place_and_focused(self):
        customer = self.orders[0].customer
        self.orders += [factories.order(customer=customer) for _ in range(5)]
        page = self.open_as(self.root, ORDERS)
        self.run_action(page, "recalculate", rows=10)  # 4 s of work
        page.wait_for_function(f"() => {PROGRESS_NOW} >= 1")
        page.focus(".ra-job-cancel")
        page.evaluate("document.activeElement.dataset.marked = 'yes'")
        now = page.evaluate(PROGRESS_NOW)
        assert now <= 8, "too late to see a frame come in"
        page.wait_for_function(f"() => {PROGRESS_NOW} > {now}")  # a frame has come in since
        # Still the very same button (a rebuilt one would drop a click half-way through it)
        # and still focused, so a keyboard user can cancel.
        assert page.evaluate("document.activeElement.dataset.marked") == "yes"
        assert page.evaluate("document.activeElement.matches('.ra-job-cancel')")
        page.keyboard.press("Enter")
        page.wait_for_selector(".ra-job-cancel:disabled")
        assert page.inner_text(".ra-job-cancel") == "Cancelling…"
        page.wait_for_selector(".ra-jobs .messagelist .warning", timeout=10000)
        assert Job.objects.get().status == "cancelled"

    def test_a_cancel_sent_to_the_login_page_is_not_taken_for_done(self):
        page = self.open_as(self.root, ORDERS)
        self.run_action(page, "recalculate")
        page.wait_for_function(f"() => {PROGRESS_NOW} >= 1")
        Session.objects.all().delete()  # e.g. logged out in another tab
        page.click(".ra-job-cancel")
        page.wait_for_selector("#ra-stopped-notice")
        assert "your session has ended" in page.inner_text("#ra-stopped-notice")
        # Not "Cancelling…" for good: the cancel never reached the job.
        page.wait_for_selector(".ra-job-cancel:enabled")
        assert page.inner_text(".ra-job-cancel") == "Cancel"
        assert not Job.objects.get().cancel_requested

    def test_an_async_action_runs_too(self):
        page = self.open_as(self.root, ORDERS)
        self.run_action(page, "email_customers", rows=3)
        page.wait_for_selector(".ra-jobs .messagelist .success", timeout=20000)
        assert page.inner_text(".ra-jobs .success").startswith("Emailed 3 customers.")

    def test_other_users_never_see_the_job(self):
        page = self.open_as(self.root, ORDERS)
        self.run_action(page, "recalculate", rows=1)
        job = Job.objects.get()
        alice = factories.staff("alice", "view_order", "change_order")
        other = self.open_as(alice, ORDERS)
        assert other.query_selector(".ra-job") is None
        other.evaluate(f"window.realtimeAdmin.socket.send({{type: 'job', id: {job.pk}}})")
        other.wait_for_timeout(500)
        frames = " ".join(other.frames_received)
        assert f"Cannot follow job {job.pk}" in frames
        assert "Recalculate" not in frames

    def test_the_users_other_tabs_show_the_job_and_put_it_away_together(self):
        page = self.open_as(self.root, ORDERS)
        other_tab = page.context.new_page()  # the same user's second tab, already open
        other_tab.goto(self.live_server_url + ORDERS)
        other_tab.wait_for_function("() => window.realtimeAdmin?.socket?.isOpen")
        self.run_action(page, "recalculate", rows=2)
        other_tab.wait_for_selector(".ra-jobs .ra-job", timeout=10000)  # started elsewhere
        other_tab.wait_for_selector(".ra-jobs .messagelist .success", timeout=20000)
        assert other_tab.inner_text(".ra-jobs .success").startswith("Recalculated 2 orders.")
        page.wait_for_selector(".ra-jobs .messagelist .success", timeout=20000)
        other_tab.click(".ra-jobs .ra-job-dismiss")
        page.wait_for_function("() => !document.querySelector('.ra-jobs .ra-job')")
        assert page.console_errors == [] and other_tab.query_selector(".ra-jobs .ra-job") is None

    @pytest.mark.skipif(django.VERSION < (6, 1), reason="change-form actions are new in Django 6.1")
    def test_a_job_run_from_the_change_form_is_shown_on_that_form(self):
        order = self.orders[0]
        page = self.open_as(self.root, f"{ORDERS}{order.pk}/change/", live=False)
        page.select_option("select[name='CHANGE_FORM-action']", "recalculate")
        page.click("#order_form button[name=index]")  # back to the form, the job running
        page.wait_for_selector(".messagelist .info")
        page.wait_for_selector(".ra-jobs .messagelist .success", timeout=20000)
        assert page.inner_text(".ra-jobs .success").startswith("Recalculated 1 order.")
        # Above the change form, and the changelist does not list it as one of its own.
        assert page.evaluate(
            "() => Boolean(document.querySelector('.ra-jobs').compareDocumentPosition("
            "document.getElementById('order_form')) & Node.DOCUMENT_POSITION_FOLLOWING)"
        )
        changelist = self.open_as(self.root, ORDERS)
        assert changelist.query_selector(".ra-job") is None
        page.reload()  # the result stays until dismissed
        page.wait_for_selector(".ra-jobs .messagelist .success")
        page.click(".ra-jobs .ra-job-dismiss")
        page.wait_for_function("() => !document.querySelector('.ra-jobs .messagelist')")
        for _ in range(40):
            if Job.objects.get().dismissed_at:
                break
            time.sleep(0.05)
        assert Job.objects.get().dismissed_at is not None
        assert page.console_errors == []
