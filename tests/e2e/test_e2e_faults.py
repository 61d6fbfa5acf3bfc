"""Faults, end to end: the broker out of the dispatcher's reach, tasks delivered twice."""

import pytest
import requests

from events.models import Event, HandlerRun
from payments.gateways.sandbox import SandboxGateway
from project.celery import app
from tests.testkit.stack import settled

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def placed_event(order_id: int) -> Event:
    return Event.objects.get(stream=f"order:{order_id}", type="order.placed")


def charges_for(event: Event) -> list[dict]:
    return [c for c in SandboxGateway().captured_charges() if c["idempotency_key"] == str(event.key)]


def send_again(run: HandlerRun) -> None:
    """Publish a handler's task straight to the broker, as a redelivery would."""
    queue = app.tasks[run.handler].spec.queue
    app.send_task(run.handler, args=[run.event_id], task_id=run.task_id, queue=queue)


def skipped(e2e, run: HandlerRun) -> int:
    """How many deliveries of the run the worker turned away: as already done, or as a
    duplicate of a copy another worker process was handling at that moment."""
    log = e2e.stack.worker.log()
    prefix = f"event={run.event_id} handler={run.handler}"
    return log.count(f"{prefix} already done; skipped") + log.count(f"{prefix} running elsewhere; duplicate skipped")


def wait_confirmed(e2e, order_id: int) -> None:
    e2e.wait_status(order_id, "paid")
    e2e.stack.wait_for(lambda: e2e.mails() and e2e.points() and e2e.notifications(), "email, points, notification")
    e2e.stack.wait_for(lambda: settled(f"order:{order_id}"), f"order #{order_id}'s events to be handled")


def assert_confirmed_once(e2e, order: dict) -> None:
    assert len(charges_for(placed_event(order["id"]))) == 1
    [mail] = e2e.mails()
    assert f"#{order['id']}" in mail.subject
    assert [(p["reason"], p["order"]) for p in e2e.points()] == [("order_paid", order["id"])]
    assert [n["kind"] for n in e2e.notifications()] == ["order_confirmed"]
    assert e2e.timeline(order["id"]) == ["order.placed", "payment.captured", "order.paid"]


def test_order_placed_while_the_broker_is_unreachable_is_relayed_once_it_is_back(e2e, network_broker):
    network_broker.off()
    readyz = requests.get(f"{e2e.stack.base_url}/readyz", timeout=30)
    assert readyz.status_code == 503
    assert readyz.json()["checks"] == {"database": "ok", "broker": "unreachable"}

    order = e2e.place_order({"MUG-01": 1})  # 201: the order is committed, the event waits

    event = placed_event(order["id"])
    # The relay tries, fails and tries again; nothing happens to the order meanwhile.
    e2e.stack.wait_for(
        lambda: Event.objects.get(pk=event.pk).dispatch_attempts >= 2, "the relay to try the event (and fail)"
    )
    event.refresh_from_db()
    assert event.dispatched_at is None
    assert event.last_dispatch_error  # the broker's error, for the admin's "not dispatched, with an error"
    # No handler has run (the dispatcher may have written its runs before publishing).
    assert not HandlerRun.objects.filter(event=event).exclude(status="pending", attempts=0).exists()
    assert e2e.order(order["id"])["status"] == "pending"
    assert charges_for(event) == []

    network_broker.on()

    wait_confirmed(e2e, order["id"])
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert_confirmed_once(e2e, order)
    assert requests.get(f"{e2e.stack.base_url}/readyz", timeout=30).status_code == 200


def test_every_task_of_a_paid_order_delivered_again_changes_nothing(e2e):
    order = e2e.place_order({"MUG-01": 2, "STICKER-01": 3})  # 35.40 EUR
    wait_confirmed(e2e, order["id"])
    runs = list(HandlerRun.objects.filter(event__stream=f"order:{order['id']}"))
    assert {r.handler for r in runs} == {
        "payments.charge_order",
        "orders.mark_paid",
        "customers.award_points",
        "notifications.order_confirmed",
    }
    assert all(r.status == "done" and r.attempts == 1 for r in runs)

    for run in runs:
        send_again(run)
        send_again(run)
    for run in runs:
        e2e.stack.wait_for(lambda run=run: skipped(e2e, run) >= 2, f"both extra deliveries of {run.handler}")
    assert [skipped(e2e, run) for run in runs] == [2] * len(runs)

    assert_confirmed_once(e2e, order)
    assert e2e.points()[0]["amount"] == 35
    assert e2e.get("me")["points_balance"] == 35
    for run in runs:
        run.refresh_from_db()
        assert (run.status, run.attempts) == ("done", 1)


def test_charge_delivered_twice_before_its_event_is_dispatched_charges_once(e2e, network_broker):
    network_broker.off()  # the relay cannot publish, so only our two copies are delivered
    order = e2e.place_order({"CAP-01": 2})  # 30.00 EUR
    event = placed_event(order["id"])
    charge = HandlerRun(event=event, handler="payments.charge_order")
    send_again(charge)
    send_again(charge)

    e2e.stack.wait_for(lambda: skipped(e2e, charge) >= 1, "the second copy of the charge to be turned away")
    e2e.stack.wait_for(
        lambda: HandlerRun.objects.filter(event=event, handler=charge.handler, status="done").exists(),
        "the first copy of the charge to be done",
    )
    # Now the relay dispatches order.placed (its charge run is already done: nothing to
    # send) and payment.captured, which pays the order.
    network_broker.on()

    wait_confirmed(e2e, order["id"])
    event.refresh_from_db()
    assert event.dispatched_at is not None
    run = HandlerRun.objects.get(event=event, handler="payments.charge_order")
    assert run.status == "done"
    # One copy charged, the other was turned away without using an attempt (and so was
    # the relay's, had it published one before it saw the run done).
    assert run.attempts == 1
    assert e2e.stack.worker.log().count(f"event={event.pk} handler=payments.charge_order done") == 1
    assert skipped(e2e, charge) >= 1
    assert_confirmed_once(e2e, order)
    assert e2e.points()[0]["amount"] == 30
