"""channels_redis against a real Redis, its core layer and its pub/sub layer: writes in one
process reach sockets in another."""

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async

from tests import factories
from tests.test_consumer import connect, subscribe

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]


async def test_a_write_reaches_a_socket_through_redis(any_redis_layer):
    communicator, _ = await connect(await database_sync_to_async(factories.superuser)())
    await subscribe(communicator)
    order = await database_sync_to_async(factories.order)()
    frame = await communicator.receive_json_from(timeout=5)
    assert frame["changes"] == [{"pk": str(order.pk), "op": "created"}]
    await communicator.disconnect()


async def test_a_write_in_another_process_reaches_this_processs_socket(
    any_redis_layer, other_process
):
    user = await database_sync_to_async(factories.superuser)()
    customer = await database_sync_to_async(factories.customer)()
    write = sync_to_async(other_process)  # it blocks on a pipe: keep the loop free
    communicator, _ = await connect(user)
    await subscribe(communicator)

    created = await write("create", customer_id=customer.pk, number="X-1")
    frame = await communicator.receive_json_from(timeout=5)
    assert frame["changes"] == [{"pk": str(created["pk"]), "op": "created"}]

    await write("update", pk=created["pk"], status="paid")
    frame = await communicator.receive_json_from(timeout=5)
    assert frame["changes"] == [{"pk": str(created["pk"]), "op": "updated"}]

    # Order has row-level rules: a delete goes only to tabs that show the row.
    await subscribe(communicator, shown=[created["pk"]])
    await write("delete", pk=created["pk"])
    frame = await communicator.receive_json_from(timeout=5)
    assert frame["changes"] == [{"pk": str(created["pk"]), "op": "deleted"}]
    await communicator.disconnect()
