"""The payment services on their own, behind the handler-run guard: each must be
idempotent by itself (the second line of defence), with the real sandbox gateway."""

import contextlib
import uuid
from decimal import Decimal

import pytest
from django.db import transaction

from events.models import Event
from orders import services as order_services
from orders.signals import CancelReason
from payments import services
from payments.gateways import GatewayUnavailable
from payments.gateways.sandbox import SandboxGateway
from payments.models import Payment
from tests.factories import UserFactory, place_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(mug):
    return place_order(UserFactory().customer, {mug: 2})  # 25.80 EUR


def charge(order, token="tok_ok"):
    """As the charge handler calls it: in the run's transaction, under the key of the
    order's order.placed event."""
    placed = Event.objects.get(type="order.placed", stream=f"order:{order.pk}")
    with transaction.atomic():
        return services.charge_order(order_id=order.pk, token=token, key=str(placed.key))


def test_charging_an_order_twice_charges_the_card_once(order):
    first = charge(order)
    again = charge(order)

    assert again.pk == first.pk
    assert (again.status, again.charge_id) == ("captured", first.charge_id)
    assert len(SandboxGateway().captured_charges()) == 1
    assert Event.objects.filter(type="payment.captured").count() == 1
    assert Event.objects.get(type="payment.captured").payload == {
        "order_id": order.pk,
        "payment_id": first.pk,
        "amount": "25.80",
        "currency": "EUR",
        "charge_id": first.charge_id,
    }


def test_a_declined_charge_records_payment_failed_once(order):
    first = charge(order, "tok_declined")
    charge(order, "tok_declined")

    assert (first.status, first.failure_reason) == ("failed", "card_declined")
    assert Event.objects.get(type="payment.failed").payload == {
        "order_id": order.pk,
        "payment_id": first.pk,
        "reason": "card_declined",
    }


def test_a_transient_gateway_failure_writes_nothing_and_the_third_try_captures(order):
    for _ in range(2):
        with pytest.raises(GatewayUnavailable):
            charge(order, "tok_flaky")
        assert not Payment.objects.exists()  # the charge's transaction rolled back whole
        assert not Event.objects.filter(type__startswith="payment.").exists()

    assert charge(order, "tok_flaky").status == "captured"


def test_settling_before_the_charge_voids_the_payment_so_it_is_never_charged(order):
    order_services.cancel_order(order_id=order.pk, reason=CancelReason.CUSTOMER)

    settled = services.settle_cancelled_order(order_id=order.pk, idempotency_key="settle-key")
    charged = charge(order)

    assert settled.status == charged.status == "voided"
    assert SandboxGateway().captured_charges() == []


def test_a_charge_arriving_after_the_order_was_cancelled_does_not_take_money(order):
    order_services.cancel_order(order_id=order.pk, reason=CancelReason.CUSTOMER)

    payment = charge(order)

    assert payment.status == "voided"
    assert SandboxGateway().captured_charges() == []
    assert not Event.objects.filter(type__startswith="payment.").exists()


def test_settling_a_captured_payment_refunds_it_once(order):
    captured = charge(order)

    first = services.settle_cancelled_order(order_id=order.pk, idempotency_key="settle-key")
    again = services.settle_cancelled_order(order_id=order.pk, idempotency_key="settle-key")

    assert (first.status, again.refund_id) == ("refunded", first.refund_id)
    assert [(r["charge_id"], r["amount"]) for r in SandboxGateway().refunds()] == [(captured.charge_id, "25.80")]
    assert Event.objects.filter(type="payment.refunded").count() == 1


def test_settling_a_failed_payment_leaves_it_failed(order):
    charge(order, "tok_declined")

    assert services.settle_cancelled_order(order_id=order.pk, idempotency_key="k").status == "failed"
    assert SandboxGateway().refunds() == []


def test_the_sandbox_answers_a_repeated_key_with_the_first_result():
    gateway = SandboxGateway()
    key = str(uuid.uuid4())

    first = gateway.charge(amount=Decimal("5.00"), currency="EUR", token="tok_ok", idempotency_key=key)
    again = gateway.charge(amount=Decimal("5.00"), currency="EUR", token="tok_declined", idempotency_key=key)

    assert again == first
    assert first.captured
    assert len(gateway.captured_charges()) == 1


class KilledBeforeCommit(Exception):
    pass


def capture_with_the_answer_lost(order):
    """The gateway captures, then our transaction never commits (the worker died
    between the gateway call and the commit, or the call timed out)."""
    with contextlib.suppress(KilledBeforeCommit), transaction.atomic():
        charge(order)
        raise KilledBeforeCommit
    assert not Payment.objects.exists()
    assert len(SandboxGateway().captured_charges()) == 1


def test_a_cancel_after_a_capture_whose_answer_was_lost_refunds_it(order):
    capture_with_the_answer_lost(order)
    order_services.cancel_order(order_id=order.pk, reason=CancelReason.CUSTOMER)

    settled = services.settle_cancelled_order(order_id=order.pk, idempotency_key="settle-key")
    charged_again = charge(order)

    assert settled.status == charged_again.status == "refunded"
    [captured] = SandboxGateway().captured_charges()
    assert [(r["charge_id"], r["amount"]) for r in SandboxGateway().refunds()] == [(captured["charge_id"], "25.80")]
    assert settled.charge_id == captured["charge_id"]
    assert Event.objects.filter(type="payment.refunded").count() == 1
    assert not Event.objects.filter(type="payment.captured").exists()


def test_a_charge_retried_after_the_cancel_refunds_a_lost_capture_once(order):
    capture_with_the_answer_lost(order)
    order_services.cancel_order(order_id=order.pk, reason=CancelReason.CUSTOMER)

    retried = charge(order)
    settled = services.settle_cancelled_order(order_id=order.pk, idempotency_key="settle-key")

    assert retried.status == settled.status == "refunded"
    assert len(SandboxGateway().refunds()) == 1
    assert Event.objects.filter(type="payment.refunded").count() == 1


def test_a_void_before_the_charge_makes_the_gateway_decline_it():
    gateway = SandboxGateway()
    key = str(uuid.uuid4())

    nothing_taken = gateway.void(idempotency_key=key)
    late = gateway.charge(amount=Decimal("5.00"), currency="EUR", token="tok_ok", idempotency_key=key)

    assert (nothing_taken.refund_id, late.captured, late.decline_reason) == ("", False, "voided")
    assert gateway.captured_charges() == []


def test_charges_use_the_orders_charge_key_which_its_order_placed_event_carries(order):
    charge(order)

    [captured] = SandboxGateway().captured_charges()
    placed = Event.objects.get(type="order.placed", stream=f"order:{order.pk}")
    assert captured["idempotency_key"] == str(order.charge_key) == str(placed.key)
    assert Payment.objects.get(order=order).charge_key == str(order.charge_key)


def test_a_lost_capture_is_refunded_under_the_orders_key_after_its_events_were_pruned(order):
    capture_with_the_answer_lost(order)
    Event.objects.filter(stream=f"order:{order.pk}").delete()  # retention took them
    order_services.cancel_order(order_id=order.pk, reason=CancelReason.CUSTOMER)

    settled = services.settle_cancelled_order(order_id=order.pk, idempotency_key="settle-key")

    [captured] = SandboxGateway().captured_charges()
    assert settled.status == "refunded"
    assert settled.charge_key == str(order.charge_key)
    assert [r["charge_id"] for r in SandboxGateway().refunds()] == [captured["charge_id"]]


def test_an_order_that_does_not_exist_is_never_charged(order):
    from orders.models import Order

    with pytest.raises(Order.DoesNotExist), transaction.atomic():
        # as the charge handler calls it: the amount from the order.placed event
        services.charge_order(
            order_id=order.pk + 1000, token="tok_ok", key=str(uuid.uuid4()), amount=Decimal("9.90"), currency="EUR"
        )

    assert SandboxGateway().captured_charges() == []
    assert not Payment.objects.exists()
