"""Users' own TestCase suites see every batch through captureOnCommitCallbacks."""

import pytest
from shop.models import Order

from realtime_admin import bus
from tests import factories
from tests.test_capture import flat


@pytest.mark.django_db
def test_each_captured_block_gets_its_own_batch(monkeypatch, django_capture_on_commit_callbacks):
    batches = []
    monkeypatch.setattr(bus, "publish", lambda changes, by=None: batches.append(flat(changes)))
    with django_capture_on_commit_callbacks(execute=True) as first:
        one = factories.order()
    with django_capture_on_commit_callbacks(execute=True) as second:
        Order.objects.get(pk=one.pk).save()
    assert (len(first), len(second)) == (1, 1)
    assert [batch[("shop.order", str(one.pk))] for batch in batches] == ["created", "updated"]
