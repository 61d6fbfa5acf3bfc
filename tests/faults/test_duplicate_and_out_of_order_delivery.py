"""Every task delivered twice, and events handled out of order: no effect twice, no
order going backwards."""

import re

import pytest

from events import services as events
from events.models import Event, HandlerRun
from payments.gateways.sandbox import SandboxGateway
from payments.models import Payment
from tests.testkit.stack import require_network_broker

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

TWICE = {"ORDERFLOW_PUBLISH_COPIES": "2"}


def test_every_task_delivered_twice_has_its_effect_once(shop):
    stack = shop.stack
    # The relay (the one process that publishes handler tasks) publishes every task
    # twice: the broker delivers two copies, racing on the worker processes.
    stack.restart("relay", env=TWICE)
    stream = shop.stream()
    stream.place(20)
    order_ids = stream.committed()
    shop.quiesce(order_ids)

    runs = list(HandlerRun.objects.filter(event__stream__in=[f"order:{i}" for i in order_ids]))
    log = stack.worker.log()
    turned_away = {
        (int(event), handler) for event, handler in re.findall(r"event=(\d+) handler=(\S+) [^\n]*skipped", log)
    }
    # Every run's second copy was turned away, and used no attempt.
    assert {(r.event_id, r.handler) for r in runs} <= turned_away
    assert {(r.status, r.attempts) for r in runs} == {("done", 1)}
    shop.verify(order_ids, runs=len(runs), copies_turned_away=len(turned_away))


def test_events_handled_out_of_order_never_take_an_order_backwards(shop):
    stack = shop.stack
    api = shop.api
    worker_args = stack.worker.args

    # 1. payment.captured handled after order.cancelled: a worker that leaves the
    #    orders queue alone charges the order, but does not mark it paid; the customer
    #    cancels it; the cancellation's handlers refund the capture. Then the capture's
    #    handler runs, last: the order stays cancelled.
    stack.restart("worker", args=[*worker_args, "-Q", "events,payments,notifications,loyalty"])
    late_capture = api.place_order({"MUG-01": 2})
    stack.wait_for(
        lambda: Payment.objects.filter(order_id=late_capture["id"], status="captured").exists(), "the capture"
    )
    assert api.post(f"orders/{late_capture['id']}/cancel")["status"] == "cancelled"
    stack.wait_for(
        lambda: Payment.objects.filter(order_id=late_capture["id"], status="refunded").exists(), "the refund"
    )
    mark_paid = HandlerRun.objects.get(event__stream=f"order:{late_capture['id']}", handler="orders.mark_paid")
    assert mark_paid.status == "pending"  # still waiting on the orders queue
    stack.restart("worker", args=worker_args)  # now it is handled

    # 2. order.cancelled handled before order.placed's charge: the relay cannot reach
    #    the broker, so neither event is dispatched; the cancellation is dispatched first,
    #    then the relay dispatches order.placed once the broker is back: never charged.
    proxy = require_network_broker(stack)
    proxy.off()
    never_charged = api.place_order({"CAP-01": 1})
    assert api.post(f"orders/{never_charged['id']}/cancel")["status"] == "cancelled"
    cancelled = Event.objects.get(stream=f"order:{never_charged['id']}", type="order.cancelled")
    # From here: the test process reaches the broker directly.
    assert events.dispatch_events([cancelled.pk]).dispatched == 1
    stack.wait_for(
        lambda: not HandlerRun.objects.filter(event=cancelled).exclude(status="done").exists(),
        "the cancellation's handlers",
    )
    placed = Event.objects.get(stream=f"order:{never_charged['id']}", type="order.placed")
    assert placed.dispatched_at is None
    proxy.on()

    tally = shop.verify([late_capture["id"], never_charged["id"]])
    assert (tally.cancelled, tally.charges, tally.refunds, tally.points) == (2, 1, 1, 0)
    assert api.timeline(late_capture["id"]) == [
        "order.placed",
        "payment.captured",
        "order.cancelled",
        "payment.refunded",
    ]
    assert api.timeline(never_charged["id"]) == ["order.placed", "order.cancelled"]
    mark_paid.refresh_from_db()
    assert mark_paid.status == "done"  # it ran, and left the cancelled order alone
    placed.refresh_from_db()
    assert placed.dispatched_at is not None
    assert HandlerRun.objects.get(event=placed, handler="payments.charge_order").status == "done"
    assert Payment.objects.get(order_id=never_charged["id"]).status == "voided"
    assert str(placed.key) not in {c["idempotency_key"] for c in SandboxGateway().captured_charges()}
    assert [m.subject for m in api.mails()] == [
        f"Order #{late_capture['id']} cancelled",
        f"Order #{never_charged['id']} cancelled",
    ]
