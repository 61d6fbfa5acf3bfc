"""The life of an order, end to end: HTTP API, real worker processes, real broker,
real database, real SMTP server (see conftest.py for how they are started)."""

import pytest

from events.models import Event, HandlerRun
from payments.gateways.sandbox import SandboxGateway
from tests.testkit.stack import settled

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def placed_event(order_id: int) -> Event:
    return Event.objects.get(stream=f"order:{order_id}", type="order.placed")


def charges_for(order_id: int) -> list[dict]:
    key = str(placed_event(order_id).key)
    return [c for c in SandboxGateway().captured_charges() if c["idempotency_key"] == key]


def wait_settled(e2e, order_id: int) -> None:
    e2e.stack.wait_for(lambda: settled(f"order:{order_id}"), f"order #{order_id}'s events to be handled")


def test_paid_order_is_confirmed_by_email_earns_points_and_notifies(e2e):
    products = {p["sku"]: p for p in e2e.get("products")["results"]}
    assert products["MUG-01"]["price"] == "12.90"
    stock_before = products["MUG-01"]["stock"]

    order = e2e.place_order({"MUG-01": 2}, token="tok_ok")
    assert order["total"] == "25.80"
    assert e2e.product("MUG-01")["stock"] == stock_before - 2

    e2e.wait_status(order["id"], "paid")
    e2e.stack.wait_for(lambda: e2e.mails() and e2e.points() and e2e.notifications(), "email, points, notification")
    wait_settled(e2e, order["id"])

    [mail] = e2e.mails()
    assert mail.rcpt_tos == (e2e.email,)
    assert mail.message["To"] == e2e.email
    assert f"#{order['id']}" in mail.subject
    assert "confirmed" in mail.subject
    assert "25.80 EUR" in mail.body

    [entry] = e2e.points()
    assert entry["amount"] == 25  # 25.80 EUR: one point per whole euro
    assert entry["reason"] == "order_paid"
    assert entry["order"] == order["id"]
    assert e2e.get("me")["points_balance"] == 25

    [note] = e2e.notifications()
    assert note["kind"] == "order_confirmed"
    assert note["order"] == order["id"]

    assert e2e.timeline(order["id"]) == ["order.placed", "payment.captured", "order.paid"]
    assert len(charges_for(order["id"])) == 1
    assert e2e.product("MUG-01")["stock"] == stock_before - 2


def test_declined_payment_cancels_the_order_and_puts_stock_back(e2e):
    stock_before = e2e.product("TEE-01")["stock"]

    order = e2e.place_order({"TEE-01": 3}, token="tok_declined")
    assert e2e.product("TEE-01")["stock"] == stock_before - 3

    e2e.wait_status(order["id"], "cancelled")
    e2e.stack.wait_for(e2e.mails, "the cancellation email")
    wait_settled(e2e, order["id"])

    assert e2e.product("TEE-01")["stock"] == stock_before
    [mail] = e2e.mails()
    assert f"#{order['id']}" in mail.subject
    assert "cancelled" in mail.subject
    assert "declined" in mail.body
    assert e2e.points() == []
    assert e2e.get("me")["points_balance"] == 0
    assert [n["kind"] for n in e2e.notifications()] == ["order_cancelled"]
    assert e2e.timeline(order["id"]) == ["order.placed", "payment.failed", "order.cancelled"]
    assert charges_for(order["id"]) == []


def test_flaky_gateway_is_retried_until_the_order_is_paid(e2e):
    order = e2e.place_order({"CAP-01": 1}, token="tok_flaky")

    e2e.wait_status(order["id"], "paid")
    e2e.stack.wait_for(lambda: e2e.mails() and e2e.points(), "the confirmation email and the points")
    wait_settled(e2e, order["id"])

    charge_run = HandlerRun.objects.get(event=placed_event(order["id"]), handler="payments.charge_order")
    assert charge_run.attempts == 3  # two transient failures, then the capture
    assert "GatewayUnavailable" not in charge_run.last_error
    assert len(charges_for(order["id"])) == 1
    assert len(e2e.mails()) == 1
    assert [p["amount"] for p in e2e.points()] == [15]
    assert e2e.timeline(order["id"]) == ["order.placed", "payment.captured", "order.paid"]


def test_customer_cancels_a_paid_order_refund_stock_and_points_go_back(e2e):
    stock_before = e2e.product("BAG-01")["stock"]
    order = e2e.place_order({"BAG-01": 4}, token="tok_ok")  # 38.00 EUR
    e2e.wait_status(order["id"], "paid")
    e2e.stack.wait_for(lambda: e2e.points() and e2e.mails(), "the points and the confirmation email")
    wait_settled(e2e, order["id"])
    assert e2e.get("me")["points_balance"] == 38

    cancelled = e2e.post(f"orders/{order['id']}/cancel")
    assert cancelled["status"] == "cancelled"
    assert e2e.product("BAG-01")["stock"] == stock_before
    e2e.post(f"orders/{order['id']}/cancel", expect=409)

    e2e.stack.wait_for(lambda: "payment.refunded" in e2e.timeline(order["id"]), "the refund")
    e2e.stack.wait_for(lambda: len(e2e.points()) == 2 and len(e2e.mails()) == 2, "points reverted, second email")
    wait_settled(e2e, order["id"])

    assert e2e.timeline(order["id"]) == [
        "order.placed",
        "payment.captured",
        "order.paid",
        "order.cancelled",
        "payment.refunded",
    ]
    assert sorted((p["reason"], p["amount"]) for p in e2e.points()) == [("order_cancelled", -38), ("order_paid", 38)]
    assert e2e.get("me")["points_balance"] == 0
    confirmation, cancellation = sorted(e2e.mails(), key=lambda m: "cancelled" in m.subject)
    assert "confirmed" in confirmation.subject
    assert "cancelled" in cancellation.subject
    assert "refunded" in cancellation.body
    [refund] = [r for r in SandboxGateway().refunds() if r["charge_id"] == charges_for(order["id"])[0]["charge_id"]]
    assert refund["amount"] == "38.00"
    assert e2e.order(order["id"])["status"] == "cancelled"
    assert e2e.product("BAG-01")["stock"] == stock_before
