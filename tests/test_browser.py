"""What staff see: the stock changelist, kept live, in a real browser."""

import json
import re

import pytest
from django.contrib.auth.models import Permission

from tests import factories
from tests.browser import LiveAdminTestCase
from tests.conftest import OtherProcess

pytestmark = pytest.mark.browser

ORDERS = "/admin/shop/order/"


class ChangelistTestCase(LiveAdminTestCase):
    """A superuser, a customer, and a writer in a process of its own (a worker or cron job)."""

    def setUp(self):
        self.root = factories.superuser()
        self.customer = factories.customer("Ada Lovelace")
        with self.server_environment():  # (the writer takes the server's channel layer)
            self.writer = OtherProcess()
        self.addCleanup(self.writer.close)

    def create(self, number, **fields):
        return self.writer("create", customer_id=self.customer.pk, number=number, **fields)["pk"]

    def wait_for_rows(self, page, expected):
        page.wait_for_function(
            "expected => JSON.stringify(Array.from(document.querySelectorAll("
            "'#result_list tbody tr th a')).map(a => a.textContent)) === JSON.stringify(expected)",
            arg=expected,
        )


class LiveChangelistTests(ChangelistTestCase):
    def test_rows_appear_change_and_disappear_with_the_counts(self):
        for number in ("A-1", "A-2"):
            self.create(number)
        page = self.open_as(self.root, ORDERS)
        self.wait_for_rows(page, ["A-2", "A-1"])

        new = self.create("A-3")
        self.wait_for_rows(page, ["A-3", "A-2", "A-1"])  # newest first, as ordered
        assert page.inner_text(".paginator").strip().endswith("3 orders")
        assert "ra-flash" in page.get_attribute("#result_list tbody tr:first-child", "class")

        self.writer("update", pk=new, status="paid")
        page.wait_for_function(
            "() => document.querySelector('#result_list tbody tr td.field-status')"
            "?.textContent === 'Paid'"
        )
        self.writer("delete", pk=new)
        self.wait_for_rows(page, ["A-2", "A-1"])
        assert "2 orders" in page.inner_text(".paginator")
        assert page.console_errors == []

    def test_the_live_page_equals_a_fresh_reload(self):
        pks = [self.create(f"B-{n}") for n in range(4)]
        page = self.open_as(self.root, ORDERS + "?o=-4")  # by amount, descending
        self.writer("update", pk=pks[0], amount="99.00")
        self.writer("delete", pk=pks[1])
        self.create("B-9", amount="50.00")
        self.wait_for_rows(page, ["B-0", "B-9", "B-3", "B-2"])
        page.wait_for_timeout(300)  # let the flashes and fragments settle
        live = self.results_html(page)
        page.reload()
        assert self.results_html(page) == live

    def test_a_filtered_tab_gains_and_loses_rows_as_they_match(self):
        paid = self.create("C-1", status="paid")
        self.create("C-2", status="new")
        page = self.open_as(self.root, ORDERS + "?status__exact=new")
        self.wait_for_rows(page, ["C-2"])
        self.writer("update", pk=paid, status="new")
        self.wait_for_rows(page, ["C-2", "C-1"])
        self.writer("update", pk=paid, status="shipped")
        self.wait_for_rows(page, ["C-2"])
        assert "1 order" in page.inner_text(".paginator")

    def test_a_row_level_restricted_user_sees_and_hears_only_her_rows(self):
        alice = factories.staff("alice", "view_order")
        mine = self.create("D-1", owner_id=alice.pk)
        page = self.open_as(alice, ORDERS)
        self.wait_for_rows(page, ["D-1"])
        secret = self.create("D-SECRET")  # owned by nobody: not hers
        self.writer("update", pk=secret, status="paid")
        self.create("D-2", owner_id=alice.pk)
        self.wait_for_rows(page, ["D-2", "D-1"])
        page.wait_for_timeout(300)
        frames = [json.loads(frame) for frame in page.frames_received]
        announced = {change["pk"] for f in frames for change in f.get("changes", [])}
        assert str(secret) not in announced
        assert str(mine) not in announced
        assert "D-SECRET" not in page.content()

    def test_a_checked_row_stays_checked_and_actions_keep_working(self):
        for number in ("E-1", "E-2"):
            self.create(number)
        page = self.open_as(self.root, ORDERS)
        page.check("#result_list tbody tr:nth-child(2) input.action-select")  # E-1
        assert page.inner_text(".action-counter") == "1 of 2 selected"

        self.create("E-3")
        self.wait_for_rows(page, ["E-3", "E-2", "E-1"])
        assert page.is_checked("#result_list tbody tr:nth-child(3) input.action-select")
        page.wait_for_function(
            "() => document.querySelector('.action-counter')?.textContent === '1 of 3 selected'"
        )
        page.check("#result_list tbody tr:first-child input.action-select")  # the new row
        assert page.inner_text(".action-counter") == "2 of 3 selected"
        page.click("#action-toggle")
        assert page.inner_text(".action-counter") == "3 of 3 selected"
        assert all(
            page.eval_on_selector_all("input.action-select", "boxes => boxes.map(b => b.checked)")
        )

        # ...and the action runs on exactly the rows checked, inserted one included.
        page.select_option("select[name=action]", "mark_paid")
        page.click("#changelist-form button[name=index]")
        page.wait_for_selector(".messagelist .success")
        assert "3 orders marked as paid" in page.inner_text(".messagelist")

    def test_select_all_across_pages_takes_in_new_rows(self):
        for n in range(26):  # one more than a page
            self.create(f"K-{n:02d}")
        page = self.open_as(self.root, ORDERS)
        page.click("#action-toggle")
        page.click("div.actions span.question a")
        assert page.inner_text("div.actions span.all") == "All 26 selected"
        self.create("K-new")
        self.wait_for_rows(page, ["K-new", *[f"K-{n:02d}" for n in range(25, 1, -1)]])
        assert page.is_checked("#result_list tbody tr:first-child input.action-select")
        page.wait_for_function(
            "() => document.querySelector('div.actions span.all')?.textContent"
            " === 'All 27 selected'"
        )
        assert page.input_value("div.actions input.select-across") == "1"

    def test_selected_rows_are_never_pushed_off_the_page_unseen(self):
        for n in range(25):  # a full page
            self.create(f"M-{n:02d}")
        page = self.open_as(self.root, ORDERS)
        last = "#result_list tbody tr:last-child input.action-select"
        page.check(last)  # M-00, which a new row would push to page 2
        self.create("M-new")
        page.wait_for_selector("#ra-stale-notice")
        assert "would move off" in page.inner_text("#ra-stale-notice")
        assert page.is_checked(last)
        assert page.inner_text(".action-counter") == "1 of 25 selected"
        page.uncheck(last)  # nothing selected any more: the page catches up
        self.wait_for_rows(page, ["M-new", *[f"M-{n:02d}" for n in range(24, 0, -1)]])
        page.wait_for_selector("#ra-stale-notice", state="detached")

    def test_shift_click_ranges_include_inserted_rows(self):
        for number in ("N-1", "N-2"):
            self.create(number)
        page = self.open_as(self.root, ORDERS)
        self.create("N-3")
        self.wait_for_rows(page, ["N-3", "N-2", "N-1"])
        page.click("#result_list tbody tr:first-child input.action-select")
        page.click("#result_list tbody tr:last-child input.action-select", modifiers=["Shift"])
        assert page.inner_text(".action-counter") == "3 of 3 selected"

    def test_an_inserted_row_can_be_chosen_in_a_lookup_popup(self):
        self.create("P-1")
        opener = self.open_as(self.root, "/admin/", live=False)
        opener.evaluate(
            "() => { window.chosen = [];"
            " window.dismissRelatedLookupPopup = (w, id) => chosen.push(id); }"
        )
        frames = []
        opener.context.on(
            "page",
            lambda p: p.on(
                "websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(f))
            ),
        )
        with opener.expect_popup() as popup_info:
            opener.evaluate(f"window.open('{ORDERS}?_popup=1&_to_field=id', 'lookup')")
        popup = popup_info.value
        popup.frames_received = frames
        popup.wait_for_selector("#result_list")
        self.wait_until_live(popup)
        new = self.create("P-2")
        self.wait_for_rows(popup, ["P-2", "P-1"])
        popup.click("#result_list tbody tr:first-child th a")
        assert opener.evaluate("window.chosen") == [str(new)]

    def test_unsaved_list_editable_input_is_never_overwritten(self):
        grace = factories.customer("Grace Hopper", city="Arlington")
        page = self.open_as(self.root, "/admin/shop/customer/")
        # Past the catch-up for Grace, written just before: typed before it, the page could
        # only say it may be out of date.
        self.assert_settled(page)
        city = "#result_list tbody tr:first-child input[name=form-0-city]"  # Ada, first by name
        page.fill(city, "Somewhere new")
        self.writer("update", model="shop.customer", pk=grace.pk, city="Washington")
        page.wait_for_selector("#ra-stale-notice")
        assert "1 row changed elsewhere" in page.inner_text("#ra-stale-notice")
        assert page.input_value(city) == "Somewhere new"
        assert page.input_value("input[name=form-1-city]") == "Arlington"
        assert "would overwrite" in page.inner_text("#ra-stale-notice")  # Grace has inputs here

    def test_a_new_row_while_typing_is_not_said_to_be_overwritten(self):
        grace = factories.customer("Grace Hopper", city="Arlington")
        page = self.open_as(self.root, "/admin/shop/customer/")
        self.assert_settled(page)
        page.fill("input[name=form-0-city]", "Somewhere new")
        self.writer("create", model="shop.customer", name="Zuse", city="Berlin")
        notice = page.wait_for_selector("#ra-stale-notice")
        assert "1 row changed elsewhere" in notice.inner_text()
        assert "overwrite" not in notice.inner_text()  # saving here cannot touch the new row
        assert page.query_selector("text=Zuse") is None
        self.writer("update", model="shop.customer", pk=grace.pk, city="Washington")
        page.wait_for_function(
            "() => document.getElementById('ra-stale-notice').textContent.includes('2 rows')"
        )
        assert "Saving this page now would overwrite" in notice.inner_text()

    def test_typed_input_after_a_dropped_socket_may_be_overwritten_and_says_so(self):
        page = self.open_as(self.root, "/admin/shop/customer/")
        self.assert_settled(page)
        page.fill("input[name=form-0-city]", "Somewhere new")
        page.evaluate("window.realtimeAdmin.socket.socket.close()")  # changes may be missed
        notice = page.wait_for_selector("#ra-stale-notice")
        assert notice.inner_text() == (
            "This page may be out of date – reload to see the latest rows. "
            "Saving this page now may overwrite changes made elsewhere."
        )

    def test_a_failed_save_whose_rows_cannot_be_told_apart_warns_it_may_overwrite(self):
        grace = factories.customer("Grace Hopper", city="Arlington")
        page = self.open_as(self.root, "/admin/shop/customer/")

        # The page as a failed save renders it: a form's non-field error is a row of its own
        # above the form's row (set up while the page parses, before the live script starts).
        page.add_init_script("""
            new MutationObserver((_, observer) => {
                const body = document.querySelector("#result_list tbody");
                const config = document.getElementById("realtime-admin-config");
                if (!body || !config) return;
                observer.disconnect();
                body.insertAdjacentHTML("afterbegin", '<tr><td colspan="4">'
                    + '<ul class="errorlist nonfield"><li>No.</li></ul></td></tr>');
                config.textContent = config.textContent.replace(
                    '"hasErrors": false', '"hasErrors": true');
            }).observe(document, {childList: true, subtree: true});
        """)
        page.reload()
        page.wait_for_selector("#result_list .errorlist")
        page.wait_for_function("() => window.realtimeAdmin?.socket?.isOpen")
        page.wait_for_timeout(500)  # past any catch-up on connecting, which is held too
        page.evaluate("window.realtimeAdmin.clearStale()")
        self.writer("update", model="shop.customer", pk=grace.pk, city="Washington")
        page.wait_for_function(
            "() => document.getElementById('ra-stale-notice')?.textContent.includes('1 row')"
        )
        assert "Saving this page now may overwrite changes made elsewhere." in page.inner_text(
            "#ra-stale-notice"
        )

    def test_a_failed_list_editable_save_is_never_patched(self):
        grace = factories.customer("Grace Hopper", city="Arlington")
        page = self.open_as(self.root, "/admin/shop/customer/")
        # Longer than max_length (set by script: the browser's maxlength stops typing).
        page.eval_on_selector("input[name=form-0-city]", "el => { el.value = 'x'.repeat(61); }")
        page.click("input[name=_save]")
        page.wait_for_selector(".errornote")
        self.wait_until_live(page)
        self.writer("update", model="shop.customer", pk=grace.pk, city="Washington")
        page.wait_for_selector("#ra-stale-notice")
        assert page.input_value("input[name=form-0-city]") == "x" * 61
        assert page.input_value("input[name=form-1-city]") == "Arlington"
        # (It catches up on connecting, which it holds too: any row may have changed.)
        assert "Saving this page now may overwrite changes made elsewhere." in page.inner_text(
            "#ra-stale-notice"
        )
        dialogs = []
        page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
        page.click("#ra-stale-notice a")  # a GET of the page, not a re-POST of the form
        page.wait_for_function(
            "() => document.querySelector('input[name=form-1-city]')?.value === 'Washington'"
        )
        assert page.query_selector(".errornote") is None
        assert dialogs == ["Discard your unsaved changes and reload?"]

    def test_changed_rows_flash_unless_motion_is_reduced(self):
        self.create("J-1")
        for motion, animation in (("no-preference", "ra-flash"), ("reduce", "none")):
            page = self.open_as(self.root, ORDERS, reduced_motion=motion)
            self.create(f"J-{motion}")
            page.wait_for_selector("#result_list tbody tr.ra-flash")
            style = page.eval_on_selector(
                "#result_list tbody tr.ra-flash td.field-status",
                "cell => [getComputedStyle(cell).animationName,"
                " getComputedStyle(cell).backgroundColor]",
            )
            assert style[0] == animation
            assert style[1] != "rgba(0, 0, 0, 0)"  # still visibly marked while it lasts

    def test_list_editable_rows_update_while_nothing_is_typed(self):
        grace = factories.customer("Grace Hopper", city="Arlington")
        page = self.open_as(self.root, "/admin/shop/customer/")
        self.writer("update", model="shop.customer", pk=grace.pk, city="Washington")
        page.wait_for_function(
            "() => document.querySelector('input[name=form-1-city]')?.value === 'Washington'"
        )
        # The page still saves: the formset's management form and ids stayed consistent.
        page.fill("input[name=form-0-city]", "Paris")
        page.click("input[name=_save]")
        page.wait_for_selector(".messagelist .success")
        assert page.input_value("input[name=form-0-city]") == "Paris"

    def test_an_empty_changelist_fills_in_and_empties_again(self):
        page = self.open_as(self.root, ORDERS + "?status__exact=new&_facets=True")
        assert page.query_selector("#result_list") is None
        status = 'details[data-filter-title="status"]'
        page.click(f"{status} summary")  # closed filters stay closed across whole-region swaps
        page.type("#searchbar", "F-")  # and what is typed in the search box stays, focused
        pk = self.create("F-1")
        self.wait_for_rows(page, ["F-1"])
        assert "1 order" in page.inner_text(".paginator")
        assert "New (1)" in page.text_content(status)
        assert page.input_value("#searchbar") == "F-"
        assert page.evaluate("document.activeElement.id") == "searchbar"
        self.writer("delete", pk=pk)
        page.wait_for_function("() => !document.querySelector('#result_list')")
        assert "0 orders" in page.inner_text(".paginator")
        assert "New (0)" in page.text_content(status)
        assert page.get_attribute(status, "open") is None
        self.create("F-2", status="paid")  # a change to an empty page, refreshed in place
        page.wait_for_function(
            "s => document.querySelector(s).textContent.includes('Paid (1)')", arg=status
        )
        assert page.console_errors == []

    def test_a_focused_filter_link_keeps_the_focus_when_the_table_appears(self):
        page = self.open_as(self.root, ORDERS + "?status__exact=new&_facets=True")
        paid = 'details[data-filter-title="status"] a[href*="status__exact=paid"]'
        page.focus(paid)  # a keyboard user, half way down the filters
        page.evaluate("s => { document.querySelector(s).dataset.before = 'yes'; }", paid)
        self.create("K-1")
        self.wait_for_rows(page, ["K-1"])  # a whole fresh changelist region
        focused = page.evaluate(
            "() => [document.activeElement.getAttribute('href'), "
            "document.activeElement.dataset.before || null]"
        )
        assert focused == [page.get_attribute(paid, "href"), None]  # the new link, focused
        assert page.console_errors == []

    def test_an_empty_filtered_page_takes_changes_that_do_not_match_quietly(self):
        page = self.open_as(self.root, ORDERS + "?status__exact=cancelled")
        self.create("Q-1", status="new")  # not cancelled: stays off this page
        page.wait_for_timeout(800)
        assert page.query_selector("#ra-stale-notice") is None
        assert page.console_errors == []
        self.create("Q-2", status="cancelled")
        self.wait_for_rows(page, ["Q-2"])

    def test_when_the_refresh_fails_the_stock_page_is_left_alone(self):
        self.create("G-1")
        page = self.open_as(self.root, ORDERS)
        # Past the page's first catch-up (a model with row rules always has one).
        for _ in range(200):
            if any('"resync"' in frame for frame in page.frames_received):
                break
            page.wait_for_timeout(25)
        self.assert_settled(page)
        page.route(re.compile(r".*/__live__/.*"), lambda route: route.abort())
        before = page.inner_html("#result_list")
        self.create("G-2")
        notice = page.wait_for_selector("#ra-stale-notice")
        assert "1 row changed elsewhere" in notice.inner_text()
        page.evaluate("window.realtimeAdmin.requestResync()")  # no row known to have changed
        page.wait_for_function(
            "() => document.querySelector('#ra-stale-notice').textContent"
            ".includes('This page may be out of date')"
        )
        self.create("G-3")  # a count would now understate it: the notice stays as it is
        page.wait_for_function("() => window.realtimeAdmin.stale.size === 2")
        assert "may be out of date" in page.inner_text("#ra-stale-notice")
        assert page.inner_html("#result_list") == before
        page.check("#result_list tbody tr:first-child input.action-select")
        assert page.inner_text(".action-counter") == "1 of 1 selected"

    def test_a_page_number_that_no_longer_exists_is_left_alone_and_said_so(self):
        # (The stock view redirects such a page to ?e=1: not to be taken for a login page.)
        from shop.models import Order

        Order.objects.bulk_create(
            Order(number=f"P-{n:02d}", customer=self.customer, amount=1) for n in range(51)
        )
        page = self.open_as(self.root, ORDERS + "?p=3")  # 25 a page: the 51st row alone
        self.assert_settled(page)
        before = page.inner_html("#result_list")
        self.writer("delete", pk=Order.objects.order_by("pk").first().pk)
        notice = page.wait_for_selector("#ra-stale-notice")
        assert "1 row changed elsewhere" in notice.inner_text()
        assert page.query_selector("#ra-stopped-notice") is None
        assert page.evaluate("window.realtimeAdmin.socket.isOpen")
        assert page.inner_html("#result_list") == before

    def test_facet_counts_follow_and_a_closed_filter_stays_closed(self):
        self.create("J-1", status="new")
        page = self.open_as(self.root, ORDERS + "?_facets=True")
        status = 'details[data-filter-title="status"]'
        page.click(f"{status} summary")  # the user closes one filter
        assert page.get_attribute(status, "open") is None
        no_owner = 'details[data-filter-title="owner"] li:last-child a'  # "- (1)"
        page.focus(no_owner)  # and has the keyboard on a link of another
        page.eval_on_selector(no_owner, "a => { a.marked = true; }")
        self.create("J-2", status="paid")
        self.create("J-3", status="new")
        page.wait_for_function(
            "s => document.querySelector(s).textContent.includes('New (2)')", arg=status
        )
        assert "Paid (1)" in page.text_content(status)
        assert page.get_attribute(status, "open") is None
        # Its count changed too: the same link, still focused.
        assert page.text_content(no_owner) == "- (3)"
        assert page.evaluate("document.activeElement.marked === true")
        self.assert_settled(page)
        live = page.inner_html("#changelist-filter")
        page.reload()  # (filters.js keeps the closed filter closed, from sessionStorage)
        assert page.inner_html("#changelist-filter") == live
        page.click(f"{status} summary")  # and the filter still opens and closes as before
        assert page.get_attribute(status, "open") == ""

    def test_a_filter_appears_when_it_has_choices_and_goes_when_it_has_none(self):
        # Open orders filter by customer among those who have open orders: with one such
        # customer there is nothing to choose, and no such filter.
        grace = factories.customer("Grace Hopper")
        self.create("K-1")
        page = self.open_as(self.root, "/admin/shop/openorder/")
        assert page.query_selector('details[data-filter-title="customer"]') is None
        # Closed when the user last saw it (admin/js/filters.js keeps that per tab).
        page.evaluate(
            "sessionStorage.setItem('django.admin.filtersState', '{\"customer\": false}')"
        )
        theirs = self.writer("create", customer_id=grace.pk, number="K-2")["pk"]
        customer = '#changelist-filter details[data-filter-title="customer"]'
        page.wait_for_selector(customer, state="attached")
        assert "Grace Hopper" in page.text_content("#changelist-filter")
        assert page.get_attribute(customer, "open") is None
        page.click(f"{customer} summary")  # opened, and remembered as filters.js would
        page.wait_for_function(
            "() => JSON.parse(sessionStorage['django.admin.filtersState']).customer === true"
        )
        # filters.js writes its own copy of the state from load, which has no "customer".
        page.click('details[data-filter-title="status"] summary')
        page.wait_for_function(
            "() => { const state = JSON.parse(sessionStorage['django.admin.filtersState']);"
            " return state.status === false && state.customer === true; }"
        )
        self.wait_for_rows(page, ["K-2", "K-1"])
        hers = self.open_as(self.root, f"/admin/shop/openorder/?customer__id__exact={grace.pk}")
        assert "Clear all filters" in hers.text_content("#changelist-filter")
        self.writer("update", pk=theirs, status="shipped")  # no longer open
        page.wait_for_function(
            "() => !document.querySelector('details[data-filter-title=\"customer\"]')"
        )
        self.wait_for_rows(page, ["K-1"])
        # A filter in use that has nothing left to offer goes, and "Clear all filters" with it.
        hers.wait_for_function(
            "() => !document.querySelector('#changelist-filter').textContent"
            ".includes('Clear all filters')"
        )
        self.assert_settled(hers)
        live = hers.inner_html("#changelist-filter")
        hers.reload()
        assert hers.inner_html("#changelist-filter") == live
        assert page.console_errors == hers.console_errors == []

    def test_a_new_value_joins_its_filter(self):
        page = self.open_as(self.root, "/admin/shop/customer/")
        city = 'details[data-filter-title="city"]'
        assert "Nuenen" not in page.text_content(city)
        self.writer("create", model="shop.customer", name="Edsger", city="Nuenen")
        page.wait_for_function(
            "s => document.querySelector(s).textContent.includes('Nuenen')", arg=city
        )
        self.assert_settled(page)
        live = page.inner_html("#changelist-filter")
        page.reload()
        assert page.inner_html("#changelist-filter") == live

    def test_the_search_result_count_comes_and_goes_as_on_a_reload(self):
        """ "1 result (2 total)" shows only while the search leaves rows out."""

        def count(page) -> str:
            shown = page.query_selector("#changelist-search .quiet")
            return shown.inner_text().strip() if shown else ""

        self.create("A-1")
        page = self.open_as(self.root, ORDERS + "?q=A-")
        assert count(page) == ""
        other = self.create("Z-1")  # not found: "1 result (2 total)" appears
        page.wait_for_function("() => document.querySelector('#changelist-search .quiet')")
        self.assert_settled(page)
        assert count(page) == "1 result (2 total)"
        page.reload()
        assert count(page) == "1 result (2 total)"
        self.writer("delete", pk=other)  # all found again: the count goes
        page.wait_for_function("() => !document.querySelector('#changelist-search .quiet')")
        self.assert_settled(page)
        live = page.inner_html("#changelist-search")
        page.reload()
        assert page.inner_html("#changelist-search") == live

    def test_text_primary_keys_of_any_kind_stay_live(self):
        """Coupons are keyed by their code: slashes, quotes, markup, accents, and names an
        object has anyway ("constructor")."""
        codes = ["a/b", 'it\'s "q"', "x_2F<y>", "ünï", "constructor", "toString"]
        for code in codes:
            self.writer("create", model="shop.coupon", code=code, description="before")
        page = self.open_as(self.root, "/admin/shop/coupon/")
        for code in codes:
            self.writer("update", model="shop.coupon", pk=code, description="after")
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('#result_list td.field-description'))"
            ".every(cell => cell.textContent === 'after')"
        )
        self.writer("delete", model="shop.coupon", pk="constructor")
        self.wait_for_rows(page, sorted(set(codes) - {"constructor"}))
        self.assert_settled(page)
        live = self.results_html(page)
        page.reload()
        assert self.results_html(page) == live
        assert page.console_errors == []

    def test_staff_without_view_permission_get_no_notices(self):
        self.create("I-1")
        viewer = factories.staff("viewer", "view_customer")
        viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
        page = self.open_as(viewer, "/admin/shop/customer/")
        self.create("I-2")
        page.wait_for_timeout(500)
        assert not [f for f in page.frames_received if "shop.order" in f]


class LiveChangelistOnThePubSubLayerTests(ChangelistTestCase):
    """Some of the same pages, with channels_redis' pub/sub layer in the server and the
    writer."""

    server_env = {"RA_TEST_REDIS_BACKEND": "pubsub"}

    test_rows_appear_change_and_disappear_with_the_counts = (
        LiveChangelistTests.test_rows_appear_change_and_disappear_with_the_counts
    )
    test_a_row_level_restricted_user_sees_and_hears_only_her_rows = (
        LiveChangelistTests.test_a_row_level_restricted_user_sees_and_hears_only_her_rows
    )
