"""The refresh endpoint renders exactly what a reload would show, for that viewer and tab."""

import re
from datetime import UTC, datetime

import pytest
from django.contrib import admin
from django.contrib.messages import constants, get_messages
from shop.models import Order

from tests import factories

pytestmark = pytest.mark.django_db

ORDERS = "/admin/shop/order/"
CUSTOMERS = "/admin/shop/customer/"


def page_rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>.*?</tr>", body, re.S)


def refresh(client, changelist: str, query: str = "", shown=("placeholder",), **body):
    """POST to the endpoint as a tab showing ``shown`` rows (a tab showing none would be
    sent to the whole region instead)."""
    response = client.post(
        f"{changelist}__live__/?{query}",
        {"shown": list(shown), **body},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content[:300]
    return response.json()


@pytest.fixture
def shop_data():
    customers = [factories.customer(name) for name in ("Ada", "Grace", "Alan")]
    for index in range(30):
        factories.order(
            customer=customers[index % 3],
            status=["new", "paid", "shipped"][index % 3],
            amount=index + 1,
            created_at=datetime(2025 + index % 2, 1 + index % 12, 3, tzinfo=UTC),
        )
    return customers


@pytest.mark.parametrize(
    "query",
    [
        "",
        "status__exact=paid",
        "q=Grace",
        "o=4",
        "o=-3.2",
        "p=2",
        "created_at__year=2026",
        "_popup=1",
        "all=",
        "_facets=True",
        "status__exact=paid&_facets=True",
        "created_at__year=2026&q=Ada&_facets=True",
    ],
)
def test_rows_are_byte_for_byte_what_a_reload_shows(admin_client, shop_data, query):
    page = admin_client.get(f"{ORDERS}?{query}").content.decode()
    state = refresh(admin_client, ORDERS, query, full=True)
    assert state["region"] is False
    assert [state["rows"][pk] for pk in state["pks"]] == page_rows(page)
    assert state["fragments"]["paginator"].strip() in page
    assert 'data-filter-title="status"' in state["fragments"]["filters"]
    assert state["fragments"]["filters"] in page
    if query != "_popup=1":
        assert state["fragments"]["actions"].strip() in page


@pytest.mark.parametrize("query", ["", "q=Ada", "o=-1"])
def test_list_editable_rows_and_hidden_fields_match_a_reload(admin_client, shop_data, query):
    page = admin_client.get(f"{CUSTOMERS}?{query}").content.decode()
    state = refresh(admin_client, CUSTOMERS, query, full=True)
    assert [state["rows"][pk] for pk in state["pks"]] == page_rows(page)
    assert 'name="form-0-city"' in state["rows"][state["pks"][0]]
    assert state["formset"]["hidden"] in page.replace("\n", "")
    assert f'name="form-TOTAL_FORMS" value="{state["formset"]["total"]}"' in page


def test_the_filters_follow_the_rows(admin_client, shop_data):
    before = refresh(admin_client, CUSTOMERS, full=True)["fragments"]["filters"]
    factories.customer("Edsger", city="Nuenen")
    after = refresh(admin_client, CUSTOMERS, full=True)["fragments"]["filters"]
    assert "Nuenen" not in before
    assert "Nuenen" in after
    assert after in admin_client.get(CUSTOMERS).content.decode()


@pytest.mark.parametrize("show_facets", list(admin.ShowFacets))
def test_the_filters_are_what_a_reload_shows_however_facets_are_shown(
    admin_client, shop_data, show_facets, monkeypatch
):
    monkeypatch.setattr(admin.site._registry[Order], "show_facets", show_facets)
    state = refresh(admin_client, ORDERS, "status__exact=new", full=True)
    assert (
        state["fragments"]["filters"]
        in admin_client.get(f"{ORDERS}?status__exact=new").content.decode()
    )
    assert ("New (10)" in state["fragments"]["filters"]) == (show_facets == admin.ShowFacets.ALWAYS)


def test_facet_counts_follow_the_rows(admin_client, shop_data):
    def new_orders():
        filters = refresh(admin_client, ORDERS, "_facets=True", full=True)["fragments"]["filters"]
        return re.search(r"New \((\d+)\)", filters).group(1)

    assert new_orders() == "10"
    factories.order(status="new")
    assert new_orders() == "11"


def test_only_changed_and_unseen_rows_are_rendered(admin_client, shop_data):
    everything = refresh(admin_client, ORDERS, full=True)["pks"]
    shown = everything[1:]  # the tab misses the first row
    state = refresh(admin_client, ORDERS, shown=shown, changed=[shown[3]])
    assert state["pks"] == everything
    assert set(state["rows"]) == {everything[0], shown[3]}


def test_list_editable_renders_every_row_when_form_numbers_move(admin_client, shop_data):
    everything = refresh(admin_client, CUSTOMERS, full=True)["pks"]
    state = refresh(admin_client, CUSTOMERS, shown=everything[1:])
    assert set(state["rows"]) == set(everything)


def test_a_row_that_left_the_filter_is_not_on_the_page(admin_client, shop_data):
    paid = refresh(admin_client, ORDERS, "status__exact=paid", full=True)["pks"]
    Order.objects.filter(pk=paid[0]).update(status="new")
    state = refresh(admin_client, ORDERS, "status__exact=paid", shown=paid, changed=[paid[0]])
    assert paid[0] not in state["pks"]
    assert paid[0] not in state["rows"]


def test_a_page_that_empties_asks_for_the_whole_region(admin_client, shop_data):
    state = refresh(admin_client, ORDERS, "q=nobody", shown=["1"])
    assert state == {"region": True}
    region = admin_client.get(f"{ORDERS}__live__/?q=nobody")
    assert region.status_code == 200
    assert b'id="changelist"' in region.content


def test_row_level_rules_hold(client, shop_data):
    alice = factories.staff("alice", "view_order")
    mine = Order.objects.all()[:4]
    Order.objects.filter(pk__in=[o.pk for o in mine]).update(owner=alice)
    client.force_login(alice)
    state = refresh(client, ORDERS, full=True)
    assert sorted(state["pks"]) == sorted(str(o.pk) for o in mine)
    assert "4 orders" in state["fragments"]["paginator"]


def test_a_user_without_view_permission_is_refused(client, shop_data):
    client.force_login(factories.staff("bob", "view_customer"))
    response = client.post(f"{ORDERS}__live__/", "{}", content_type="application/json")
    assert response.status_code == 403
    assert client.get(f"{ORDERS}__live__/").status_code == 403


def test_anonymous_users_are_sent_to_the_login(client, shop_data):
    response = client.post(f"{ORDERS}__live__/", "{}", content_type="application/json")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize(
    "body, message",
    [
        ("not json", b"must be JSON"),
        ("[1, 2]", b"Expected"),
        ('{"shown": "1,2"}', b"Expected"),
        ('{"full": "yes"}', b"Expected"),
        ('{"changed": [{"pk": 1}]}', b"strings or integers"),
        ("[" * 60000, b"must be JSON"),
        ('{{"shown": [{}]}}'.format(",".join(map(str, range(1001)))), b"Too many primary keys"),
    ],
)
def test_bad_bodies_are_answered_with_400(admin_client, shop_data, body, message):
    response = admin_client.post(f"{ORDERS}__live__/", body, content_type="application/json")
    assert response.status_code == 400
    assert message in response.content


def test_other_methods_are_refused(admin_client):
    assert admin_client.put(f"{ORDERS}__live__/").status_code == 405


def test_a_refresh_needs_the_csrf_token(shop_data):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(factories.superuser())
    response = client.post(f"{ORDERS}__live__/", "{}", content_type="application/json")
    assert response.status_code == 403


def test_a_vanished_page_number_asks_for_the_whole_region(admin_client, shop_data):
    assert refresh(admin_client, ORDERS, "p=9") == {"region": True}


def test_refreshing_leaves_the_users_messages_alone(admin_client, shop_data):
    page = admin_client.get(ORDERS)
    request = page.wsgi_request
    storage = get_messages(request)
    storage.add(constants.SUCCESS, "Saved it.")
    storage.update(page)
    admin_client.cookies.update(page.cookies)
    refresh(admin_client, ORDERS, "q=Ada", full=True)
    assert b"Saved it." in admin_client.get(ORDERS).content


def test_a_view_only_user_gets_the_read_only_rows_a_reload_shows(client, shop_data):
    client.force_login(factories.staff("reader", "view_customer"))
    page = client.get(CUSTOMERS).content.decode()
    state = refresh(client, CUSTOMERS, full=True)
    assert [state["rows"][pk] for pk in state["pks"]] == page_rows(page)
    assert "form-0-city" not in "".join(state["rows"].values())
    assert state["formset"] is None


def test_rows_the_user_may_not_change_match_a_reload(admin_client, shop_data, monkeypatch):
    import django
    from shop.admin import CustomerAdmin

    def may_change(self, request, obj=None):
        return obj is None or obj.name != "Ada"

    monkeypatch.setattr(CustomerAdmin, "has_change_permission", may_change)
    page = admin_client.get(CUSTOMERS).content.decode()
    state = refresh(admin_client, CUSTOMERS, full=True)
    rows = [state["rows"][pk] for pk in state["pks"]]
    assert rows == page_rows(page)
    if django.VERSION >= (6, 1):  # 6.1 drops the inputs of rows the user may not change
        assert "Ada" in rows[0] and 'name="form-0-city"' not in rows[0]


def test_a_guard_in_changelist_view_refuses_the_refresh_too(client, shop_data, monkeypatch):
    """Access decided in an override of changelist_view (a reload would answer 403) holds
    for the refresh: it goes through the ModelAdmin's own changelist_view."""
    from django.core.exceptions import PermissionDenied

    order_admin = admin.site._registry[Order]
    stock = order_admin.changelist_view

    def auditors_only(request, extra_context=None):
        if not request.user.is_superuser:
            raise PermissionDenied
        return stock(request, extra_context)

    monkeypatch.setattr(order_admin, "changelist_view", auditors_only)
    client.force_login(factories.staff("carol", "view_order"))
    response = client.post(f"{ORDERS}__live__/", {"shown": ["1"]}, content_type="application/json")
    assert response.status_code == 403


def test_rows_follow_a_default_filter_set_in_changelist_view(admin_client, shop_data, monkeypatch):
    """The common recipe that sets a default filter in changelist_view: the refresh shows
    what a reload shows, not the unfiltered list."""
    order_admin = admin.site._registry[Order]
    stock = order_admin.changelist_view

    def new_orders_by_default(request, extra_context=None):
        if "status__exact" not in request.GET:
            request.GET = request.GET.copy()
            request.GET["status__exact"] = "new"
        return stock(request, extra_context)

    monkeypatch.setattr(order_admin, "changelist_view", new_orders_by_default)
    page = admin_client.get(f"{ORDERS}?status__exact=new").content.decode()
    state = refresh(admin_client, ORDERS, full=True)
    assert [state["rows"][pk] for pk in state["pks"]] == page_rows(page)


def test_a_changelist_view_answering_otherwise_sends_the_tab_to_the_whole_region(
    admin_client, shop_data, monkeypatch
):
    from django.shortcuts import redirect

    order_admin = admin.site._registry[Order]
    monkeypatch.setattr(order_admin, "changelist_view", lambda request: redirect("/elsewhere/"))
    assert refresh(admin_client, ORDERS) == {"region": True}
