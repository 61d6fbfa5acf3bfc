"""The broker out of reach of the web and the relay while orders keep coming: the API
keeps answering 201, and once the broker is back every order completes."""

import pytest

from events.models import Event
from tests.testkit.stack import require_network_broker

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_orders_keep_being_accepted_while_the_broker_is_away_and_all_complete_once_it_is_back(shop):
    stack = shop.stack
    proxy = require_network_broker(stack)
    stream = shop.stream()
    stream.place(8)

    proxy.off()
    stream.place(16)
    outage = stream.accepted[8:]
    assert len(outage) == 16
    assert stream.dropped == 0  # every one answered 201
    placed = Event.objects.filter(type="order.placed", stream__in=[f"order:{i}" for i in outage])
    # The relay keeps trying (and failing) meanwhile; none of them is dispatched.
    stack.wait_for(lambda: all(e.dispatch_attempts >= 2 for e in placed.all()), "the relay to try each waiting event")
    assert placed.filter(dispatched_at=None).count() == 16

    proxy.on()
    stream.place(8)

    tally = shop.verify(stream.committed(), outage_orders=len(outage))
    assert tally.orders == 32
    assert placed.filter(dispatched_at=None).count() == 0
