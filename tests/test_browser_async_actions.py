"""An ``async def`` action run from the changelist in a real browser, under daphne."""

import pytest

from tests import factories
from tests.browser import LiveAdminTestCase

pytestmark = pytest.mark.browser

ORDERS = "/admin/shop/order/"


class AsyncActionTests(LiveAdminTestCase):
    def test_an_async_action_runs_under_daphne_and_other_tabs_see_its_writes(self):
        root = factories.superuser()
        for _ in range(3):
            factories.order()
        watcher = self.open_as(root, ORDERS)  # another tab, kept live
        page = self.open_as(root, ORDERS)
        page.check("#result_list tbody tr:nth-child(1) input.action-select")
        page.check("#result_list tbody tr:nth-child(2) input.action-select")
        page.select_option("select[name=action]", "mark_shipped")
        page.click("#changelist-form button[name=index]")
        page.wait_for_selector(".messagelist .success")
        assert "2 orders marked as shipped" in page.inner_text(".messagelist")
        statuses = page.eval_on_selector_all(
            "#result_list tbody td.field-status", "cells => cells.map(c => c.textContent)"
        )
        assert statuses == ["Shipped", "Shipped", "New"]
        # The action's saves were announced like any other: the other tab shows them.
        watcher.wait_for_function(
            "() => Array.from(document.querySelectorAll('#result_list td.field-status'))"
            ".filter(c => c.textContent === 'Shipped').length === 2"
        )
        assert page.console_errors == [] and watcher.console_errors == []
