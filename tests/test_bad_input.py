"""Whatever a client sends, the socket and the refresh endpoint answer clearly and carry on;
a flood of frames is cut off without touching anyone else's socket."""

import asyncio
import json
from urllib.parse import urlencode

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import factories
from tests.test_consumer import connect, make, session_cookie, subscribe

pytestmark = pytest.mark.django_db(transaction=True)

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
labels = st.sampled_from(["shop.order", "shop.customer", "auth.user", "realtime_admin.job", "x"])
# Frames that look like ours, with every field possibly of the wrong kind.
near_frames = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["subscribe", "unsubscribe", "job", "jobs", "Subscribe", ""])
        | json_values
    },
    optional={
        "model": labels | json_values,
        "site": st.sampled_from(["admin", "vip", "nope"]) | json_values,
        "shown": st.lists(st.text(max_size=6) | st.integers(), max_size=6) | json_values,
        "since": st.floats() | json_values,
        "id": st.integers() | json_values,
        "pk": st.text(max_size=6) | st.integers() | json_values,
    },
)
frames = st.one_of(  # as daphne hands them to the consumer
    near_frames.map(lambda frame: {"text": json.dumps(frame)}),
    json_values.map(lambda value: {"text": json.dumps(value)}),
    st.text(max_size=40).map(lambda text: {"text": text}),
    st.binary(max_size=40).map(lambda data: {"bytes": data}),
)
ANSWERS = {"subscribed", "changes", "error", "resync", "job", "jobs"}


@FUZZ
@given(sequence=st.lists(frames, min_size=1, max_size=12))
def test_no_frame_crashes_the_socket_or_gets_an_unclear_answer(sequence, staff_cookie):
    """Any mix of frames: each gets nothing or one of the documented frames, the socket stays
    open, and a good subscribe still works afterwards."""

    async def exercise():
        communicator, connected = await connect(cookie=staff_cookie)
        assert connected

        async def answer_to(frame) -> dict:
            output = await communicator.receive_output(timeout=5)
            assert output["type"] == "websocket.send", (frame, output)
            answer = json.loads(output["text"])
            assert answer["type"] in ANSWERS, (frame, answer)
            # carol may view orders only: nothing about other models reaches her.
            assert answer.get("model", "shop.order") == "shop.order", (frame, answer)
            return answer

        for frame in sequence:
            await communicator.send_input({"type": "websocket.receive", **frame})
            while not await communicator.receive_nothing(timeout=0.02):
                await answer_to(frame)
        # A good subscribe still works (answers to the last frames may come first).
        await communicator.send_json_to({"type": "subscribe", "model": "shop.order"})
        while (await answer_to("the last subscribe"))["type"] != "subscribed":
            pass
        await communicator.disconnect()

    async_to_sync(exercise)()


@pytest.fixture
def staff_cookie(db):
    return async_to_sync(session_cookie)(factories.staff("carol", "view_order"))


async def test_a_flood_of_frames_is_cut_off_and_other_sockets_carry_on(settings):
    settings.REALTIME_ADMIN = {**settings.REALTIME_ADMIN, "MAX_FRAMES_PER_SECOND": 5}
    flooder, _ = await connect(await make(factories.superuser)("flooder"))
    bystander, _ = await connect(await make(factories.superuser)("bystander"))
    await subscribe(bystander)
    for _ in range(20):
        await flooder.send_json_to({"type": "unsubscribe", "model": "shop.order"})
    assert await flooder.receive_output() == {"type": "websocket.close", "code": 4429}
    order = await make(factories.order)()
    frame = await bystander.receive_json_from()
    assert frame["changes"] == [{"pk": str(order.pk), "op": "created"}]


async def test_frames_within_the_rate_are_never_cut_off(settings):
    settings.REALTIME_ADMIN = {**settings.REALTIME_ADMIN, "MAX_FRAMES_PER_SECOND": 5}
    communicator, _ = await connect(await make(factories.superuser)())
    for _ in range(12):  # four a second, for three seconds
        assert (await subscribe(communicator))["type"] == "subscribed"
        await asyncio.sleep(0.25)
    await communicator.disconnect()


refresh_bodies = st.one_of(
    st.binary(max_size=60),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries(
        {},
        optional={
            "shown": st.lists(st.text(max_size=6) | st.integers(), max_size=5) | json_values,
            "changed": st.lists(st.text(max_size=6) | st.integers(), max_size=5) | json_values,
            "full": st.booleans() | json_values,
        },
    ).map(lambda body: json.dumps(body).encode()),
)
querystrings = st.dictionaries(
    st.sampled_from(["o", "q", "p", "status__exact", "all", "created__year", "_popup", "x"]),
    st.text(max_size=8),
    max_size=3,
)


@FUZZ
@given(body=refresh_bodies, query=querystrings)
def test_the_refresh_endpoint_answers_any_request_with_the_admins_own_statuses(
    admin_client, body, query
):
    response = admin_client.post(
        f"/admin/shop/order/__live__/?{urlencode(query)}", body, content_type="application/json"
    )
    assert response.status_code in (200, 400), (body, query, response.status_code)
    if response.status_code == 200:
        state = response.json()
        assert "region" in state or {"pks", "rows", "fragments"} <= state.keys()


async def test_too_many_subscriptions_get_an_error_and_the_others_carry_on(monkeypatch):
    from realtime_admin.jobs.models import Job

    monkeypatch.setattr("realtime_admin.consumers.MAX_SUBSCRIPTIONS", 2)
    root = await make(factories.superuser)()
    customer = await make(factories.customer)()  # before listening to customers
    communicator, _ = await connect(root)
    for model in ("shop.order", "shop.customer"):
        assert (await subscribe(communicator, model=model))["type"] == "subscribed"
    assert await subscribe(communicator, model="shop.tag") == {
        "type": "error",
        "message": "Too many subscriptions.",
    }
    jobs = [
        await make(Job.objects.create)(description="x", action="x", model="shop.order", user=root)
        for _ in range(3)
    ]
    for job in jobs[:2]:
        await communicator.send_json_to({"type": "job", "id": job.pk})
        assert (await communicator.receive_json_from())["type"] == "job"
    await communicator.send_json_to({"type": "job", "id": jobs[2].pk})
    assert (await communicator.receive_json_from())["message"] == "Too many subscriptions."
    order = await make(factories.order)(customer=customer)
    frame = await communicator.receive_json_from()
    assert frame["changes"] == [{"pk": str(order.pk), "op": "created"}]
    await communicator.disconnect()


@pytest.mark.parametrize("page_size", ["list_per_page", "list_max_show_all"])
async def test_a_changelist_with_pages_of_more_rows_than_the_limit_can_still_be_live(
    monkeypatch, page_size
):
    """MAX_REQUEST_PKS (1000) bounds a page's frames and refreshes, unless the ModelAdmin
    shows more rows on a page (or "Show all"): then its page and a frame's changes."""
    from django.contrib import admin
    from shop.models import Order

    monkeypatch.setattr(admin.site._registry[Order], page_size, 1200)
    communicator, _ = await connect(await make(factories.superuser)())
    assert (await subscribe(communicator, shown=range(1, 1401)))["type"] == "subscribed"
    assert await subscribe(communicator, shown=range(1, 1402)) == {
        "type": "error",
        "message": "Too many shown pks.",
    }

    @make
    def refresh(shown, changed):
        client = Client()
        client.force_login(get_user_model().objects.get(username="root"))
        body = {"shown": [str(pk) for pk in shown], "changed": [str(pk) for pk in changed]}
        url = "/admin/shop/order/__live__/"
        return client.post(url, body, content_type="application/json").status_code

    assert await refresh(range(1, 1201), range(2000, 2200)) == 200
    assert await refresh(range(1, 1201), range(2000, 2201)) == 400
