"""A poison event — one whose handler fails every time — ends ``failed`` after its
attempts, is not tried again, and holds up nothing else."""

import re
import time
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Max

from customers.models import Customer
from events import services as events
from events.models import HandlerRun
from orders.models import Order
from orders.signals import OrderPlaced, PlacedLine
from payments.tasks import charge_order

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_event_whose_handler_always_fails_ends_failed_and_the_other_orders_keep_flowing(shop):
    stack = shop.stack
    # order.placed for an order that does not exist (as after a bad data fix): the
    # charge handler fails on every attempt, with the real code and no test hook.
    missing = (Order.objects.aggregate(top=Max("id"))["top"] or 0) + 10**6
    with transaction.atomic():
        poison = events.record(
            OrderPlaced(
                order_id=missing,
                customer_id=Customer.objects.get(user__username=shop.api.username).pk,
                total=Decimal("9.90"),
                currency="EUR",
                payment_token="tok_ok",
                lines=(PlacedLine(sku="MUG-01", quantity=1, unit_price=Decimal("9.90")),),
            )
        )
    stream = shop.stream()
    stream.place(12)  # while the poison event is being retried

    run = stack.wait_for(
        lambda: HandlerRun.objects.filter(event=poison, status="failed").first(), "the poison run to be given up"
    )
    max_attempts = charge_order.spec.max_attempts
    assert run.attempts == max_attempts
    assert "DoesNotExist" in run.last_error
    tally = shop.verify(stream.committed(), poison_attempts=run.attempts)
    assert tally.orders == 12

    # Nothing loops: a few relay passes later, no attempt more, no message more.
    def attempts_logged() -> int:
        return len(
            re.findall(rf"event={poison.pk} handler=payments.charge_order attempt \d+ failed", stack.worker.log())
        )

    logged = attempts_logged()
    assert logged == max_attempts - 1  # the last one is logged as "failed after"
    time.sleep(3)  # six relay passes
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("failed", max_attempts)
    assert attempts_logged() == logged
    poison.refresh_from_db()
    assert poison.dispatched_at is not None
