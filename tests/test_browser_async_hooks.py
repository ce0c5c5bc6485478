"""An AsyncModelAdmin's async def hooks, used from a real browser under daphne."""

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
