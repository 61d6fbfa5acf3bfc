"""The order saga, run in-process: on-commit dispatch to the real broker, then every
handler task consumed from it and applied (``run_handlers``)."""

from decimal import Decimal

import pytest
from django.core import mail

from catalog.models import Product
from customers.models import PointsEntry
from events.models import Event, HandlerRun
from notifications.models import EmailRecord, Notification
from orders.models import Order
from payments.gateways.sandbox import SandboxGateway
from payments.models import Payment
from project.celery import app as celery_app
from tests.testkit.broker import queued_messages
from tests.testkit.handlers import dispatch

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = "/api/v1/orders"


@pytest.fixture
def shop(mug):
    """A mug at 12.90 with 10 in stock; an order of 2 costs 25.80, worth 25 points."""
    return mug


def place(client, token="tok_ok", quantity=2) -> dict:
    response = client.post(
        ORDERS, {"items": [{"sku": "MUG-01", "quantity": quantity}], "payment_token": token}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def timeline(client, order_id: int) -> list[str]:
    response = client.get(f"{ORDERS}/{order_id}/events")
    assert response.status_code == 200
    return [e["type"] for e in response.json()["results"]]


def runs(order_id: int) -> dict[str, tuple[str, int]]:
    return {
        f"{r.event.type} -> {r.handler}": (r.status, r.attempts)
        for r in HandlerRun.objects.filter(event__stream=f"order:{order_id}").select_related("event")
    }


def stock() -> int:
    return Product.objects.get(sku="MUG-01").stock


def test_order_placed_is_dispatched_after_commit_with_a_charge_run_enqueued(shopper_client, shop, broker):
    order = place(shopper_client)
    event = Event.objects.get(type="order.placed")
    assert (event.dispatched_at, queued_messages()["payments"]) == (None, 0)  # the request only committed it

    assert dispatch() == 1

    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert event.dispatch_attempts == 1
    run = HandlerRun.objects.get(event=event)
    assert (run.handler, run.status, run.attempts, run.enqueued) == ("payments.charge_order", "pending", 0, 1)
    assert run.task_id == f"{event.pk}:payments.charge_order"
    assert queued_messages() == {
        "events": 0,
        "orders": 0,
        "payments": 1,
        "notifications": 0,
        "loyalty": 0,
        "support": 0,
        "webhooks": 0,
        "exports": 0,
    }
    assert Order.objects.get(pk=order["id"]).status == "pending"


def test_captured_payment_marks_the_order_paid_awards_points_and_confirms(shopper, shopper_client, shop, run_handlers):
    order = place(shopper_client, "tok_ok")

    ran = run_handlers()

    assert sorted(ran) == sorted(
        ["payments.charge_order", "orders.mark_paid", "customers.award_points", "notifications.order_confirmed"]
    )
    assert shopper_client.get(f"{ORDERS}/{order['id']}").json()["status"] == "paid"
    payment = Payment.objects.get()
    assert (payment.order_id, payment.status, payment.amount, payment.currency) == (
        order["id"],
        "captured",
        Decimal("25.80"),
        "EUR",
    )
    ledger = SandboxGateway().captured_charges()
    assert [(c["charge_id"], c["amount"], c["token"]) for c in ledger] == [(payment.charge_id, "25.80", "tok_ok")]
    assert ledger[0]["idempotency_key"] == str(Event.objects.get(type="order.placed").key)

    assert list(PointsEntry.objects.values_list("customer", "amount", "reason", "order")) == [
        (shopper.customer.pk, 25, "order_paid", order["id"])
    ]
    assert shopper_client.get("/api/v1/me").json()["points_balance"] == 25

    notification = Notification.objects.get()
    assert (notification.customer, notification.kind, notification.order_id) == (
        shopper.customer,
        "order_confirmed",
        order["id"],
    )
    paid_event = Event.objects.get(type="order.paid")
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [shopper.email]
    assert email.subject == f"Order #{order['id']} confirmed"
    assert email.extra_headers["Message-ID"] == f"<order_confirmed.{paid_event.key}@orderflow>"
    assert "25.80 EUR" in email.body
    assert EmailRecord.objects.get().message_id == email.extra_headers["Message-ID"]

    assert timeline(shopper_client, order["id"]) == ["order.placed", "payment.captured", "order.paid"]
    assert set(runs(order["id"]).values()) == {("done", 1)}
    assert stock() == 8


def test_declined_payment_cancels_order_and_releases_stock(shopper, shopper_client, shop, run_handlers):
    order = place(shopper_client, "tok_declined")
    assert stock() == 8

    run_handlers()

    cancelled = Order.objects.get(pk=order["id"])
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "payment_declined")
    assert stock() == 10
    payment = Payment.objects.get()
    assert (payment.status, payment.failure_reason) == ("failed", "card_declined")
    assert SandboxGateway().captured_charges() == []
    assert not PointsEntry.objects.exists()
    assert list(Notification.objects.values_list("kind", flat=True)) == ["order_cancelled"]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == f"Order #{order['id']} cancelled"
    assert "the payment was declined" in mail.outbox[0].body
    assert "refunded" not in mail.outbox[0].body
    assert timeline(shopper_client, order["id"]) == ["order.placed", "payment.failed", "order.cancelled"]
    assert set(runs(order["id"]).values()) == {("done", 1)}


def test_flaky_gateway_is_retried_until_the_payment_is_captured(shopper_client, shop, run_handlers):
    order = place(shopper_client, "tok_flaky")

    run_handlers()

    charge = HandlerRun.objects.get(handler="payments.charge_order")
    assert (charge.status, charge.attempts, charge.last_error) == ("done", 3, "")
    assert Order.objects.get(pk=order["id"]).status == "paid"
    assert Payment.objects.get().status == "captured"
    assert len(SandboxGateway().captured_charges()) == 1
    assert len(mail.outbox) == 1
    assert PointsEntry.objects.get().amount == 25


def test_cancelling_a_paid_order_refunds_it_and_takes_the_points_back(shopper, shopper_client, shop, run_handlers):
    order = place(shopper_client, "tok_ok")
    run_handlers()
    assert Order.objects.get(pk=order["id"]).status == "paid"

    response = shopper_client.post(f"{ORDERS}/{order['id']}/cancel")
    run_handlers()

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert stock() == 10
    payment = Payment.objects.get()
    assert payment.status == "refunded"
    refunds = SandboxGateway().refunds()
    assert [(r["refund_id"], r["charge_id"], r["amount"]) for r in refunds] == [
        (payment.refund_id, payment.charge_id, "25.80")
    ]
    assert sorted(PointsEntry.objects.values_list("reason", "amount")) == [("order_cancelled", -25), ("order_paid", 25)]
    assert shopper_client.get("/api/v1/me").json()["points_balance"] == 0
    assert [m.subject for m in mail.outbox] == [f"Order #{order['id']} confirmed", f"Order #{order['id']} cancelled"]
    assert "you cancelled it" in mail.outbox[1].body
    assert "refunded" in mail.outbox[1].body
    assert sorted(Notification.objects.values_list("kind", flat=True)) == ["order_cancelled", "order_confirmed"]
    assert timeline(shopper_client, order["id"]) == [
        "order.placed",
        "payment.captured",
        "order.paid",
        "order.cancelled",
        "payment.refunded",
    ]
    assert set(runs(order["id"]).values()) == {("done", 1)}


def test_an_order_cancelled_before_its_charge_runs_is_never_charged(shopper_client, shop, run_handlers):
    order = place(shopper_client, "tok_ok")

    assert shopper_client.post(f"{ORDERS}/{order['id']}/cancel").status_code == 200
    run_handlers()

    assert Order.objects.get(pk=order["id"]).status == "cancelled"
    assert Payment.objects.get().status == "voided"
    assert SandboxGateway().captured_charges() == []
    assert SandboxGateway().refunds() == []
    assert not PointsEntry.objects.exists()
    assert [m.subject for m in mail.outbox] == [f"Order #{order['id']} cancelled"]
    assert stock() == 10
    assert timeline(shopper_client, order["id"]) == ["order.placed", "order.cancelled"]


def test_redelivered_tasks_change_nothing_a_second_time(shopper_client, shop, run_handlers):
    order = place(shopper_client, "tok_ok")
    run_handlers()
    done = list(HandlerRun.objects.order_by("id").values_list("event_id", "handler"))
    assert len(done) == 4

    for event_id, handler in done:  # the broker delivers every message again
        celery_app.tasks[handler].apply(args=[event_id], task_id=f"{event_id}:{handler}", throw=True)
    assert run_handlers() == []

    assert len(SandboxGateway().captured_charges()) == 1
    assert Payment.objects.count() == 1
    assert len(mail.outbox) == 1
    assert EmailRecord.objects.count() == 1
    assert Notification.objects.count() == 1
    assert PointsEntry.objects.count() == 1
    assert timeline(shopper_client, order["id"]) == ["order.placed", "payment.captured", "order.paid"]
    assert set(runs(order["id"]).values()) == {("done", 1)}


def test_a_charge_the_gateway_took_before_a_crash_is_not_taken_again(shopper_client, shop, run_handlers):
    """The handler charged, then died before its transaction committed: the retry asks
    the gateway again with the same key and gets the first charge back."""
    order = place(shopper_client, "tok_ok")
    placed = Event.objects.get(type="order.placed")
    first = SandboxGateway().charge(
        amount=Decimal("25.80"), currency="EUR", token="tok_ok", idempotency_key=str(placed.key)
    )

    run_handlers()

    assert Order.objects.get(pk=order["id"]).status == "paid"
    assert Payment.objects.get().charge_id == first.charge_id
    assert [c["charge_id"] for c in SandboxGateway().captured_charges()] == [first.charge_id]
