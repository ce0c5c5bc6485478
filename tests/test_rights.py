"""Rights that change while a socket is open: it stops within RECHECK_INTERVAL, with a code
that tells the page why. Sessions are checked as Django checks them, fallbacks included."""

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from tests import factories
from tests.test_consumer import connect, make, session_cookie, subscribe

pytestmark = pytest.mark.django_db(transaction=True)

RECHECK = 0.2


@pytest.fixture(autouse=True)
def quick_rechecks(settings):
    settings.REALTIME_ADMIN = {**settings.REALTIME_ADMIN, "RECHECK_INTERVAL": RECHECK}


async def closed_with(communicator) -> int:
    """The close code, skipping nothing: any frame before the close fails the test."""
    output = await communicator.receive_output(timeout=RECHECK * 10)
    assert output["type"] == "websocket.close", output
    return output["code"]


async def live_socket(user, cookie=None):
    communicator, connected = await connect(user, cookie=cookie)
    assert connected
    assert (await subscribe(communicator))["type"] == "subscribed"
    return communicator


async def reconnecting_is_refused(cookie: bytes) -> bool:
    """The page reconnects with the cookie it has: is it turned away for good (4401)?"""
    communicator, _ = await connect(cookie=cookie)
    return await communicator.receive_output() == {"type": "websocket.close", "code": 4401}


def session_key(cookie: bytes) -> str:
    return cookie.decode().partition("=")[2]


async def test_logging_out_in_another_tab_ends_the_stream():
    user = await make(factories.staff)("carol", "view_order")
    cookie = await session_cookie(user)
    communicator = await live_socket(user, cookie)

    @sync_to_async
    def log_out_over_http():
        client = Client()
        client.cookies[django_settings.SESSION_COOKIE_NAME] = session_key(cookie)
        assert client.post("/admin/logout/").status_code == 200

    await log_out_over_http()
    assert await closed_with(communicator) == 4000  # reconnect, and be told
    assert await reconnecting_is_refused(cookie)


async def test_an_expired_session_ends_the_stream():
    user = await make(factories.staff)("carol", "view_order")
    cookie = await session_cookie(user)
    communicator = await live_socket(user, cookie)
    await make(SessionStore(session_key(cookie)).delete)()  # as clearsessions would
    assert await closed_with(communicator) == 4000
    assert await reconnecting_is_refused(cookie)


async def test_a_password_change_elsewhere_ends_the_stream():
    user = await make(factories.staff)("carol", "view_order")
    cookie = await session_cookie(user)
    communicator = await live_socket(user, cookie)
    user.set_password("something new")
    await make(user.save)()
    assert await closed_with(communicator) == 4000
    assert await reconnecting_is_refused(cookie)


async def test_changing_ones_own_password_keeps_the_page_live():
    """Django cycles the session key and sends the new cookie: the page reconnects with it."""
    user = await make(factories.staff)("carol", "view_order")
    client = Client()
    await make(client.force_login)(user)
    name = django_settings.SESSION_COOKIE_NAME
    cookie = f"{name}={client.cookies[name].value}".encode()
    communicator = await live_socket(user, cookie)

    @sync_to_async
    def change_password():
        from django.contrib.auth import update_session_auth_hash
        from django.test import RequestFactory

        request = RequestFactory().get("/")
        request.session = SessionStore(session_key(cookie))
        request.user = user
        user.set_password("something new")
        user.save()
        update_session_auth_hash(request, user)  # what the password change view does
        request.session.save()
        return f"{name}={request.session.session_key}".encode()

    new_cookie = await change_password()
    assert await closed_with(communicator) == 4000
    again = await live_socket(user, new_cookie)  # the browser's cookie now
    await again.disconnect()


@pytest.mark.parametrize(
    "revoke, code", [("is_staff", 4403), ("permission", 4403), ("is_active", 4000)]
)
async def test_losing_a_right_ends_the_stream_without_a_new_frame(revoke, code):
    user = await make(factories.staff)("carol", "view_order")
    communicator = await live_socket(user)
    if revoke == "permission":
        await make(user.user_permissions.clear)()
    else:
        setattr(user, revoke, False)  # an inactive user's session no longer logs them in
        await make(user.save)()
    assert await closed_with(communicator) == code
    # Nothing more reaches it: its groups were left before the close.
    await make(factories.order)()
    assert await communicator.receive_nothing(timeout=0.3)


async def test_rights_that_still_hold_keep_the_stream_open():
    user = await make(factories.staff)("carol", "view_order")
    communicator = await live_socket(user)
    assert await communicator.receive_nothing(timeout=RECHECK * 4)
    order = await make(factories.order)(owner=user)
    frame = await communicator.receive_json_from()
    assert frame["changes"] == [{"pk": str(order.pk), "op": "created"}]


async def test_a_superuser_made_a_manager_is_told_only_of_their_rows_from_the_next_check():
    user = await make(factories.superuser)("carol")  # sees every order, whoever owns it
    communicator = await live_socket(user)
    user.is_superuser = False
    await make(user.save)()
    await make(user.user_permissions.set)(
        await make(list)(Permission.objects.filter(codename="view_order"))
    )
    # Still allowed to view: the page re-reads its rows under her rules, once.
    frame = await communicator.receive_json_from(timeout=RECHECK * 10)
    assert frame == {"type": "resync", "model": "shop.order"}
    assert await communicator.receive_nothing(timeout=RECHECK * 4)
    await make(factories.order)()  # not hers: not even its pk, now
    assert await communicator.receive_nothing(timeout=0.3)
    mine = await make(factories.order)(owner=user)
    frame = await communicator.receive_json_from()
    assert frame["changes"] == [{"pk": str(mine.pk), "op": "created"}]


async def test_a_rotated_secret_key_with_the_old_one_as_fallback_keeps_users_logged_in(settings):
    user = await make(factories.staff)("carol", "view_order")
    cookie = await session_cookie(user)
    communicator = await live_socket(user, cookie)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "rotated", [settings.SECRET_KEY]
    assert await communicator.receive_nothing(timeout=RECHECK * 4)
    # A new socket is let in too, and, unlike with Channels' own AuthMiddleware, its session
    # is left alone (the next HTTP request rotates it, as Django does).
    again = await live_socket(user, cookie)
    assert await make(SessionStore(session_key(cookie)).exists)(session_key(cookie))
    await again.disconnect()
    await communicator.disconnect()


async def test_a_rotated_secret_key_without_fallback_ends_the_stream(settings):
    user = await make(factories.staff)("carol", "view_order")
    communicator = await live_socket(user)
    settings.SECRET_KEY = "rotated"
    assert await closed_with(communicator) == 4000


async def test_a_session_taken_over_by_another_user_ends_the_stream():
    carol = await make(factories.staff)("carol", "view_order")
    cookie = await session_cookie(carol)
    communicator = await live_socket(carol, cookie)

    @sync_to_async
    def log_in_as_someone_else():
        store = SessionStore(session_key(cookie))
        other = factories.superuser()
        store["_auth_user_id"] = str(other.pk)
        store["_auth_user_hash"] = other.get_session_auth_hash()
        store.save()

    await log_in_as_someone_else()
    assert await closed_with(communicator) == 4000  # the page reconnects as whoever it is now


async def test_a_job_the_user_may_no_longer_see_ends_the_stream():
    from django.contrib.auth.models import Permission

    from realtime_admin.jobs.models import Job

    owner = await make(factories.staff)("carol", "view_order")
    viewer = await make(factories.staff)("dave", "view_order")
    view_job = await make(Permission.objects.get)(
        content_type__app_label="realtime_admin", codename="view_job"
    )
    await make(viewer.user_permissions.add)(view_job)
    job = await make(Job.objects.create)(
        description="Recalculate", action="x", model="shop.order", user=owner
    )
    communicator = await live_socket(viewer)
    await communicator.send_json_to({"type": "job", "id": job.pk})
    assert (await communicator.receive_json_from())["job"]["id"] == job.pk
    await make(viewer.user_permissions.remove)(view_job)
    assert await closed_with(communicator) == 4403


def test_whether_a_users_rules_leave_rows_out():
    from django.contrib import admin
    from shop.models import Customer, OpenOrder, Order

    from realtime_admin.permissions import narrows_rows, plain_request

    boss = plain_request(factories.superuser("boss"))
    manager = plain_request(factories.staff("manager", "view_order"))
    orders, open_orders = admin.site._registry[Order], admin.site._registry[OpenOrder]
    assert not narrows_rows(orders, boss)  # "own orders only" does not apply to superusers
    assert narrows_rows(orders, manager)
    assert narrows_rows(open_orders, boss)  # a proxy's admin that filters, for everyone
    assert not narrows_rows(admin.site._registry[Customer], manager)  # no rules at all

    class Narrowing(admin.ModelAdmin):
        def __init__(self, shape):
            super().__init__(Order, admin.site)
            self.shape = shape

        def get_queryset(self, request):
            return self.shape(super().get_queryset(request))

    for shape in (
        lambda qs: qs[:10],
        lambda qs: qs.none(),
        lambda qs: qs.union(qs),
        lambda qs: qs.extra(where=["1 = 1"]),
        lambda qs: qs.exclude(status="new"),
        lambda qs: qs.using("default"),  # events do not say which database they came from
        lambda qs: 1 / 0,  # rules that cannot be read here are checked on each change
    ):
        assert narrows_rows(Narrowing(shape), boss)
    assert not narrows_rows(Narrowing(lambda qs: qs.select_related("customer")), boss)


async def test_rows_that_leave_a_users_rules_without_a_change_are_caught_up_at_the_recheck():
    """Alice moves from the London team to Paris: no order changed, yet the London order
    her page shows is no longer hers to see. The next re-check has the page re-read."""
    from tests.rule_sites import team_site  # noqa: F401

    alice = await make(factories.staff)("alice", "view_order", last_name="London")
    order = await make(factories.order)(customer=await make(factories.customer)())
    communicator, _ = await connect(alice)
    await communicator.send_json_to(
        {"type": "subscribe", "model": "shop.order", "site": "team", "shown": [str(order.pk)]}
    )
    assert await communicator.receive_json_from() == {"type": "subscribed", "model": "shop.order"}
    assert await communicator.receive_nothing(timeout=RECHECK * 3)  # her rules still hold
    alice.last_name = "Paris"
    await make(alice.save)()
    frame = await communicator.receive_json_from(timeout=RECHECK * 10)
    assert frame == {"type": "resync", "model": "shop.order"}
    # Once: the page re-reads its rows (and would say so if its rows changed), so that row
    # is no reason to re-read them at every check after.
    assert await communicator.receive_nothing(timeout=RECHECK * 4)


async def test_rules_that_need_the_requests_url_have_the_page_re_read_over_http():
    """The socket's request has no URL: rules that read it cannot be evaluated there. The
    socket stays, verifies nothing (so tells no row as deleted) and has the page re-read its
    rows over HTTP, where the rules work; a change form cannot follow its object."""
    from tests.rule_sites import url_bound_site  # noqa: F401

    alice = await make(factories.staff)("alice", "view_order", "change_order")
    hers = await make(factories.order)(owner=alice)
    communicator, _ = await connect(alice)
    page = {"model": "shop.order", "site": "url_bound"}
    await communicator.send_json_to({"type": "subscribe", "shown": [str(hers.pk)], **page})
    assert await communicator.receive_json_from() == {"type": "subscribed", "model": "shop.order"}
    assert await communicator.receive_json_from() == {"type": "resync", "model": "shop.order"}
    await make(factories.order)(owner=alice)  # a change: narrowed on the socket, it fails too
    assert await communicator.receive_json_from() == {"type": "resync", "model": "shop.order"}
    await communicator.send_json_to({"type": "object", "pk": str(hers.pk), **page})
    assert (await communicator.receive_json_from())["type"] == "error"
    assert await communicator.receive_nothing(timeout=RECHECK * 3)  # and it stays open
