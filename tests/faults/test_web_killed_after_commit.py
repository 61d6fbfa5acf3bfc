"""The web process SIGKILLed after an order committed and before it answered: the
client loses its answer, the order is dispatched all the same (by the dispatcher, which
never needed the web process) and completes."""

import pytest

from events.models import Event

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_orders_whose_web_process_died_before_answering_are_dispatched_and_complete(shop):
    stack = shop.stack
    # Each gunicorn worker dies at every third order it commits; the master starts a new one.
    stack.restart("web", env={"ORDERFLOW_CRASH_POINTS": "events.after_commit:every=3"})
    stream = shop.stream()
    stream.place(30)

    kills = shop.crash_kills("web")
    assert kills >= 5
    # One kill, one client whose connection died: the sync worker had that one request.
    assert stream.dropped == kills
    # ... and every one of those orders was committed before the process died.
    order_ids = stream.committed()
    assert len(order_ids) == len(stream.accepted) + stream.dropped == 30
    unanswered = sorted(set(order_ids) - set(stream.accepted))

    tally = shop.verify(order_ids, kills=kills, dropped=stream.dropped)
    assert tally.paid >= 20
    placed = Event.objects.filter(type="order.placed", stream__in=[f"order:{i}" for i in unanswered])
    assert placed.count() == len(unanswered)
    assert all(e.dispatched_at is not None for e in placed)
