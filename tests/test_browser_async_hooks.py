"""An AsyncModelAdmin's async def hooks and async def actions of each shape, used from a real
browser under daphne (tests/async_site.py)."""

import pytest
from shop.models import Customer

from tests import factories
from tests.browser import LiveAdminTestCase

pytestmark = pytest.mark.browser

CUSTOMERS = "/async-admin/shop/customer/"


class AsyncHookTests(LiveAdminTestCase):
    def test_adding_and_changing_through_async_hooks_under_daphne(self):
        root = factories.superuser()
        page = self.open_as(root, CUSTOMERS + "add/", live=False)
        page.fill("#id_name", "Grace Hopper")
        page.fill("#id_city", "Arlington")
        page.fill("#id_orders-0-number", "H-1")
        page.fill("#id_orders-0-amount", "12.50")
        page.click("input[name=_save]")
        page.wait_for_selector(".messagelist .success")
        customer = Customer.objects.get(name="Grace Hopper")
        assert customer.email == "root@example.com"  # async save_model
        assert [order.status for order in customer.orders.all()] == ["paid"]  # save_formset

        # The changelist: the async get_queryset and get_search_results (by city).
        factories.customer("Hidden Figure", "Arlington")
        page.goto(self.live_server_url + CUSTOMERS + "?q=arlington")
        names = page.eval_on_selector_all(
            "#result_list tbody th a", "links => links.map(a => a.textContent)"
        )
        assert names == ["Grace Hopper"]
        assert page.console_errors == []


class AsyncDeleteAndActionTests(LiveAdminTestCase):
    # A server process of its own: the admin's log entries name content types, which the
    # server caches, and a previous test's flush would leave those ids stale.

    def run_action(self, page, action: str, *customers) -> None:
        for customer in customers:
            page.check(f"#result_list input.action-select[value='{customer.pk}']")
        page.select_option("select[name=action]", action)
        page.click("#changelist-form button[name=index]")

    @staticmethod
    def confirm(page) -> None:
        """Answer a delete confirmation page, and wait for the success message after it."""
        page.click("form input[name=post] ~ input[type=submit]")  # "Yes, I'm sure"
        page.wait_for_selector(".messagelist .success")

    def test_async_function_and_site_wide_actions_under_daphne(self):
        root = factories.superuser()
        ada = factories.customer("Ada Lovelace", "London")
        grace = factories.customer("Grace Hopper", "Arlington")
        page = self.open_as(root, CUSTOMERS)
        # A function action that answers with its own response: a CSV download.
        with page.expect_download() as download:
            self.run_action(page, "export_as_csv", ada, grace)
        lines = open(download.value.path()).read().splitlines()  # noqa: SIM115
        assert lines == ["name,email,city", "Ada Lovelace,,London", "Grace Hopper,,Arlington"]

        page = self.open_as(root, CUSTOMERS)
        self.run_action(page, "stamp_city", grace)  # a site-wide action
        page.wait_for_selector(".messagelist")
        assert "Stamped." in page.inner_text(".messagelist")
        assert Customer.objects.get(pk=grace.pk).city == "Stamped"
        assert page.console_errors == []

    def test_async_delete_hooks_under_daphne(self):
        root = factories.superuser()
        ada = factories.customer("Ada Lovelace", "London")
        grace = factories.customer("Grace Hopper", "Arlington")
        linus = factories.customer("Linus", "Helsinki")
        # delete_model (a soft delete here), from the change form's Delete link.
        page = self.open_as(root, f"{CUSTOMERS}{ada.pk}/change/", live=False)  # get_object
        page.click("a.deletelink")
        self.confirm(page)
        assert "deleted successfully" in page.inner_text(".messagelist")
        assert Customer.objects.get(pk=ada.pk).name == "Deleted Ada Lovelace"

        # delete_queryset, through the stock delete_selected action.
        page.goto(self.live_server_url + CUSTOMERS)
        self.run_action(page, "delete_selected", grace, linus)
        self.confirm(page)
        cities = {c.city for c in Customer.objects.filter(pk__in=[grace.pk, linus.pk])}
        assert cities == {""}
        assert page.console_errors == []
