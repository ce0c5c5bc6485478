"""The websocket endpoint, spoken to through the project's real ASGI stack."""

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone
from shop.models import Order

from realtime_admin import bus
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/realtime-admin/"


@sync_to_async
def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(user=None, origin=b"http://testserver", cookie=None):
    """A socket through the demo's ASGI stack, logged in as ``user`` or with ``cookie``."""
    from demo.asgi import application

    headers = [(b"origin", origin), (b"host", b"testserver")]
    if user is not None and cookie is None:
        cookie = await session_cookie(user)
    if cookie is not None:
        headers.append((b"cookie", cookie))
    communicator = WebsocketCommunicator(application, PATH, headers=headers)
    connected, _ = await communicator.connect()
    return communicator, connected


async def subscribe(communicator, model="shop.order", shown=()):
    await communicator.send_json_to({"type": "subscribe", "model": model, "shown": list(shown)})
    return await communicator.receive_json_from()


make = database_sync_to_async


async def test_anonymous_sockets_are_closed_with_a_clear_code():
    communicator, connected = await connect()
    assert connected
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4401}


async def test_non_staff_users_are_closed_too():
    user = await make(factories.staff)("visitor")
    user.is_staff = False
    await make(user.save)()
    communicator, _ = await connect(user)
    assert (await communicator.receive_output())["code"] == 4403


async def test_a_foreign_origin_is_refused():
    user = await make(factories.superuser)()
    _, connected = await connect(user, origin=b"http://evil.example")
    assert not connected


async def test_staff_get_notices_of_committed_changes():
    communicator, _ = await connect(await make(factories.superuser)())
    assert await subscribe(communicator) == {"type": "subscribed", "model": "shop.order"}
    order = await make(factories.order)()
    assert await communicator.receive_json_from() == {
        "type": "changes",
        "model": "shop.order",
        "seq": 1,
        "changes": [{"pk": str(order.pk), "op": "created"}],
    }
    order.status = "paid"
    await make(order.save)()
    frame = await communicator.receive_json_from()
    assert frame["seq"] == 2
    assert frame["changes"] == [{"pk": str(order.pk), "op": "updated"}]
    await communicator.disconnect()


async def test_a_model_the_user_may_not_view_gives_nothing():
    user = await make(factories.staff)("bob", "view_customer")
    communicator, _ = await connect(user)
    answer = await subscribe(communicator, "shop.order")
    assert answer == {"type": "error", "message": "Cannot subscribe to 'shop.order'."}
    await make(factories.order)()
    assert await communicator.receive_nothing(timeout=0.3)
    assert await subscribe(communicator, "shop.customer") == {
        "type": "subscribed",
        "model": "shop.customer",
    }


@pytest.mark.parametrize("model", ["shop.nothing", "sessions.session", "nonsense", 7])
async def test_unknown_or_unregistered_models_are_refused(model):
    communicator, _ = await connect(await make(factories.superuser)())
    answer = await subscribe(communicator, model)
    assert answer["type"] == "error"


async def test_row_level_rules_hold_on_the_socket():
    alice = await make(factories.staff)("alice", "view_order")
    someone = await make(factories.staff)("someone", "view_order")
    hers = await make(factories.order)(owner=alice)
    theirs = await make(factories.order)(owner=someone)
    communicator, _ = await connect(alice)
    await subscribe(communicator, shown=[hers.pk])

    await make(factories.order)(owner=someone)  # not hers: not even its pk
    theirs.status = "paid"
    await make(theirs.save)()
    await make(theirs.delete)()  # deleted, but never shown to her
    assert await communicator.receive_nothing(timeout=0.3)

    hers.status = "paid"
    await make(hers.save)()
    assert (await communicator.receive_json_from())["changes"] == [
        {"pk": str(hers.pk), "op": "updated"}
    ]
    pk = hers.pk
    await make(hers.delete)()
    assert (await communicator.receive_json_from())["changes"] == [{"pk": str(pk), "op": "deleted"}]


async def test_unsubscribed_sockets_hear_nothing_more():
    communicator, _ = await connect(await make(factories.superuser)())
    await subscribe(communicator)
    await communicator.send_json_to({"type": "unsubscribe", "model": "shop.order"})
    # Frames are handled in order: once this is answered, the unsubscribe was handled too.
    assert (await subscribe(communicator, "shop.tag"))["type"] == "subscribed"
    await make(factories.order)()
    assert await communicator.receive_nothing(timeout=0.3)


async def test_a_gap_in_a_publishers_sequence_asks_the_page_to_resync():
    communicator, _ = await connect(await make(factories.superuser)())
    await subscribe(communicator)
    layer = get_channel_layer()
    group = bus.group_name("shop.order")
    event = {"type": bus.EVENT_TYPE, "group": group, "model": "shop.order", "origin": "elsewhere"}
    await layer.group_send(group, {**event, "seq": 1, "changes": []})
    await layer.group_send(group, {**event, "seq": 3, "changes": []})
    assert await communicator.receive_json_from() == {"type": "resync", "model": "shop.order"}


@pytest.mark.parametrize(
    "frame, message",
    [
        ({"text_data": "not json"}, "Frames must be JSON text."),
        ({"bytes_data": b"\x00\x01"}, "Frames must be JSON text."),
        ({"text_data": "[1]"}, "A frame must be a JSON object."),
        ({"text_data": '{"type": "shout"}'}, "Unknown frame type."),
        ({"text_data": '{"type": "subscribe", "model": "shop.order", "shown": 3}'}, None),
        ({"text_data": '{"type": "subscribe", "x": "' + "a" * 70000 + '"}'}, "Frame too large."),
    ],
)
async def test_bad_frames_get_an_error_frame_and_the_socket_lives_on(frame, message):
    communicator, _ = await connect(await make(factories.superuser)())
    await communicator.send_to(**frame)
    answer = await communicator.receive_json_from()
    assert answer["type"] == "error"
    if message:
        assert answer["message"] == message
    assert await subscribe(communicator) == {"type": "subscribed", "model": "shop.order"}


async def test_notify_reaches_sockets():
    communicator, _ = await connect(await make(factories.superuser)())
    await subscribe(communicator)
    order = await make(factories.order)()
    await communicator.receive_json_from()
    await make(Order.objects.filter(pk=order.pk).update)(status="shipped")
    import realtime_admin

    await make(realtime_admin.notify)(Order, [order.pk])
    frame = await communicator.receive_json_from()
    assert frame["changes"] == [{"pk": str(order.pk), "op": "updated"}]


async def test_another_admin_site_needs_that_sites_permission():
    from tests.vip_admin import vip_site  # noqa: F401  (registers the "vip" site)

    alice = await make(factories.staff)("alice", "view_order")
    communicator, _ = await connect(alice)
    await communicator.send_json_to({"type": "subscribe", "model": "shop.order", "site": "vip"})
    assert (await communicator.receive_json_from())["type"] == "error"
    root, _ = await connect(await make(factories.superuser)())
    await root.send_json_to({"type": "subscribe", "model": "shop.order", "site": "vip"})
    assert (await root.receive_json_from())["type"] == "subscribed"


@pytest.mark.parametrize(
    "revoke, code",
    # An inactive user's session no longer logs them in: reconnecting will say so (4401).
    [("is_staff", 4403), ("is_active", 4000), ("permission", 4403)],
)
async def test_a_revoked_user_is_cut_off_when_the_page_subscribes_again(revoke, code):
    user = await make(factories.staff)("carol", "view_order")
    communicator, _ = await connect(user)
    assert (await subscribe(communicator))["type"] == "subscribed"
    if revoke == "permission":
        await make(user.user_permissions.clear)()
    else:
        setattr(user, revoke, False)
        await make(user.save)()
    await communicator.send_json_to({"type": "subscribe", "model": "shop.order", "shown": []})
    assert await communicator.receive_output() == {"type": "websocket.close", "code": code}


async def test_deletes_are_told_only_for_rows_the_user_may_see():
    alice = await make(factories.staff)("alice", "view_order")
    theirs = await make(factories.order)(owner=await make(factories.staff)("dave"))
    communicator, _ = await connect(alice)
    await subscribe(communicator, shown=[theirs.pk])  # claiming to show a row she cannot see
    left = [{"pk": str(theirs.pk), "op": "deleted"}]  # as if it were gone: it leaves her page
    assert (await communicator.receive_json_from())["changes"] == left
    await make(theirs.delete)()
    assert await communicator.receive_nothing(timeout=0.3)


async def test_a_row_that_leaves_the_users_rules_is_told_to_the_page_showing_it():
    alice = await make(factories.staff)("alice", "view_order")
    hers = await make(factories.order)(owner=alice)
    communicator, _ = await connect(alice)
    await subscribe(communicator, shown=[hers.pk])
    hers.owner = None
    await make(hers.save)()
    frame = await communicator.receive_json_from()
    assert frame["changes"] == [{"pk": str(hers.pk), "op": "deleted"}]  # gone from her view
    # Told once, so that it leaves her page; then nothing more of it, even if her page's
    # list of shown rows (as in the race where it names it again) or her tab lingers.
    hers.status = "paid"
    await make(hers.save)()
    await make(hers.delete)()
    assert await communicator.receive_nothing(timeout=0.3)


async def test_row_rules_that_fail_close_the_gap_with_a_resync(monkeypatch):
    def broken(*args):
        raise RuntimeError("a get_queryset() that needs a real request")

    monkeypatch.setattr("realtime_admin.consumers.visible_pks", broken)
    communicator, _ = await connect(await make(factories.staff)("manager", "view_order"))
    await subscribe(communicator)
    await make(factories.order)()
    assert await communicator.receive_json_from() == {"type": "resync", "model": "shop.order"}


@pytest.mark.parametrize(
    "text",
    [
        '{"type": ["subscribe"]}',
        '{"type": {"a": 1}}',
        '{"type": "unsubscribe", "model": ["shop.order"]}',
        '{"type": "subscribe", "model": "shop.order", "site": ["admin"]}',
        '{"type": "subscribe", "model": "shop.order", "shown": [{"pk": 1}]}',
        "[" * 60000,
    ],
)
async def test_frames_of_the_wrong_shape_never_crash_the_socket(text):
    communicator, _ = await connect(await make(factories.superuser)())
    await communicator.send_to(text_data=text)
    answer = await communicator.receive_json_from() if "unsubscribe" not in text else None
    assert answer is None or answer["type"] == "error"
    assert await subscribe(communicator) == {"type": "subscribed", "model": "shop.order"}


async def test_a_row_told_to_the_page_counts_as_shown_before_the_page_says_so():
    alice = await make(factories.staff)("alice", "view_order")
    communicator, _ = await connect(alice)
    await subscribe(communicator)
    hers = await make(factories.order)(owner=alice)
    assert (await communicator.receive_json_from())["changes"][0]["op"] == "created"
    pk = hers.pk
    await make(hers.delete)()  # before the page's new shown list arrives
    assert (await communicator.receive_json_from())["changes"] == [{"pk": str(pk), "op": "deleted"}]
    # The page's list, sent before it took the delete in, still names the row: no resync,
    # the page was told.
    assert (await subscribe(communicator, shown=[pk]))["type"] == "subscribed"
    assert await communicator.receive_nothing(timeout=0.3)


async def test_a_row_deleted_before_the_page_said_it_shows_it_is_told_as_deleted():
    alice = await make(factories.staff)("alice", "view_order")
    hers = await make(factories.order)(owner=alice)  # on the page as rendered
    communicator, _ = await connect(alice)
    await subscribe(communicator)
    pk = hers.pk
    await make(hers.delete)()  # not told: the socket did not know the page showed it
    assert await communicator.receive_nothing(timeout=0.3)
    assert (await subscribe(communicator, shown=[pk]))["type"] == "subscribed"
    frame = await communicator.receive_json_from()
    assert frame["changes"] == [{"pk": str(pk), "op": "deleted"}]


async def test_rows_its_user_cannot_see_leave_the_page_as_if_deleted():
    alice = await make(factories.staff)("alice", "view_order")
    theirs = await make(factories.order)()
    communicator, _ = await connect(alice)
    assert await subscribe(communicator, shown=[theirs.pk, "999999", "", "x", "1" * 30]) == {
        "type": "subscribed",
        "model": "shop.order",
    }
    # The same answer for a row she may not see and one that does not exist, or could not
    # (no integer): no oracle.
    frame = await communicator.receive_json_from()
    told = {change["pk"]: change["op"] for change in frame["changes"]}
    assert told == dict.fromkeys([str(theirs.pk), "999999", "", "x", "1" * 30], "deleted")


async def job_for(user):
    from realtime_admin.jobs.models import Job

    return await Job.objects.acreate(
        description="Recount", action="x", model="shop.order", user=user
    )


async def follow(communicator, job_id):
    await communicator.send_json_to({"type": "job", "id": job_id})
    return await communicator.receive_json_from()


async def test_the_starter_follows_their_job_as_it_changes():
    owner = await make(factories.staff)("owner", "view_order")
    job = await job_for(owner)
    communicator, _ = await connect(owner)
    assert (await follow(communicator, job.pk))["job"]["status"] == "queued"
    job.done, job.total = 3, 10
    await make(job.publish)()
    frame = await communicator.receive_json_from()
    assert (frame["type"], frame["job"]["done"], frame["job"]["total"]) == ("job", 3, 10)
    job.status = "succeeded"
    await make(job.publish)()
    assert (await communicator.receive_json_from())["job"]["status"] == "succeeded"
    # Nothing more comes of a finished job: the socket stopped following it.
    await make(job.publish)()
    assert await communicator.receive_nothing(timeout=0.3)


@pytest.mark.parametrize("who", ["someone else", "view_job", "superuser"])
async def test_only_the_starter_superusers_and_view_job_follow_a_job(who):
    from django.contrib.auth.models import Permission

    job = await job_for(await make(factories.staff)("owner", "view_order"))
    if who == "superuser":
        user = await make(factories.superuser)()
    else:
        user = await make(factories.staff)("other", "view_order")
        if who == "view_job":
            permission = await Permission.objects.aget(codename="view_job")
            await user.user_permissions.aadd(permission)
    communicator, _ = await connect(user)
    answer = await follow(communicator, job.pk)
    if who == "someone else":
        assert answer == {"type": "error", "message": f"Cannot follow job {job.pk}."}
        await make(job.publish)()
        assert await communicator.receive_nothing(timeout=0.3)
    else:
        assert answer["job"]["id"] == job.pk


@pytest.mark.parametrize("job_id", ["7", None, True, 1.5, 999999])
async def test_a_job_frame_needs_a_real_job_id(job_id):
    communicator, _ = await connect(await make(factories.superuser)())
    assert (await follow(communicator, job_id))["type"] == "error"


async def test_following_a_job_whose_worker_died_says_it_failed():
    from datetime import timedelta

    from django.utils import timezone

    owner = await make(factories.staff)("owner", "view_order")
    job = await job_for(owner)
    job.status, job.heartbeat_at = "running", timezone.now() - timedelta(minutes=5)
    await make(job.save)()
    communicator, _ = await connect(owner)
    state = (await follow(communicator, job.pk))["job"]
    assert (state["status"], state["error"]) == ("failed", "The worker running this job stopped.")


async def test_a_socket_whose_handler_failed_leaves_the_hub(monkeypatch):
    from realtime_admin.consumers import ChangelistConsumer
    from realtime_admin.hub import hub_for

    communicator, _ = await connect(await make(factories.superuser)())
    await subscribe(communicator)
    hub = hub_for(get_channel_layer())
    assert hub.members[bus.group_name("shop.order")]

    def fail(*args):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(ChangelistConsumer, "authorize", fail)
    await communicator.send_json_to({"type": "subscribe", "model": "shop.order"})
    with pytest.raises(RuntimeError):
        await communicator.receive_output()
    assert not hub.members.get(bus.group_name("shop.order"))


async def test_a_page_is_told_its_list_of_the_users_jobs_as_it_changes():
    from realtime_admin.jobs.models import Job

    owner = await make(factories.staff)("owner", "view_order")
    other = await make(factories.staff)("other", "view_order")
    communicator, _ = await connect(owner)
    page = {"type": "jobs", "model": "shop.order", "site": "admin", "pk": None}
    await communicator.send_json_to(page)
    assert await communicator.receive_json_from() == {"type": "jobs", "jobs": []}
    job = await job_for(owner)  # started in another tab
    await make(bus.publish_user_jobs)(owner.pk)
    frame = await communicator.receive_json_from()
    assert [state["id"] for state in frame["jobs"]] == [job.pk]
    await job_for(other)  # somebody else's: nothing
    await make(bus.publish_user_jobs)(other.pk)
    assert await communicator.receive_nothing(timeout=0.3)
    await Job.objects.filter(pk=job.pk).aupdate(dismissed_at=timezone.now())  # in another tab
    await make(bus.publish_user_jobs)(owner.pk)
    assert await communicator.receive_json_from() == {"type": "jobs", "jobs": []}
    # A change form lists the jobs run from it, on its object.
    await Job.objects.filter(pk=job.pk).aupdate(
        dismissed_at=None, location="change_form", pks=["7"]
    )
    await communicator.send_json_to({**page, "pk": "7"})
    assert [state["id"] for state in (await communicator.receive_json_from())["jobs"]] == [job.pk]
    await communicator.send_json_to({**page, "pk": "8"})
    assert await communicator.receive_json_from() == {"type": "jobs", "jobs": []}


@pytest.mark.parametrize(
    "frame", [{}, {"model": "shop.order"}, {"model": 1, "site": "admin"}, {"site": "admin"}]
)
async def test_a_jobs_frame_needs_a_model_and_a_site(frame):
    communicator, _ = await connect(await make(factories.superuser)())
    await communicator.send_json_to({"type": "jobs", **frame})
    assert (await communicator.receive_json_from())["type"] == "error"


async def test_a_multi_table_childs_list_carries_no_pk_of_a_parent_row_not_its_own(mti_tables):
    """A place that is not a restaurant is no row of the restaurants' list: its pk does not
    reach it (the list hears of every place, and checks which are its own)."""
    place_model, restaurant_model = mti_tables
    communicator, _ = await connect(await make(factories.superuser)())
    await communicator.send_json_to(
        {"type": "subscribe", "model": "shop.restaurant", "site": "mti", "shown": []}
    )
    assert (await communicator.receive_json_from())["type"] == "subscribed"
    await make(place_model.objects.create)(name="Park")
    restaurant = await make(restaurant_model.objects.create)(name="Luigi's")
    frame = await communicator.receive_json_from()
    assert frame["changes"] == [{"pk": str(restaurant.pk), "op": "created"}]
    assert await communicator.receive_nothing(timeout=0.3)
