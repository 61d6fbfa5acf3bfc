"""Resuming from Last-Event-ID is exact only if an order's events commit in id order:
every writer of an order's events holds the order's row lock until it commits
(``orders.services.hold_for_events``). Proven here where it can fail: on PostgreSQL,
with a payment recorded while a cancellation holds the order (SQLite has one writer at
a time, so there ids always commit in order)."""

import threading
import time

import pytest
from django.db import connection, transaction

from events.models import Event
from orders import services as order_services
from orders.signals import CancelReason
from payments import services as payment_services
from tests.factories import ProductFactory, UserFactory, place_order

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 30.0  # seconds: the bound on waiting for the other transaction


def someone_waits_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises writers: nothing to race")
def test_a_payment_recorded_while_a_cancellation_holds_the_order_commits_after_it_with_a_higher_id():
    order = place_order(UserFactory().customer, {ProductFactory(stock=5): 1})
    key = str(Event.objects.get(stream=f"order:{order.pk}", type="order.placed").key)  # the charge's
    holding, charge_waits, errors = threading.Event(), threading.Event(), []

    def cancellation():
        try:
            with transaction.atomic():
                order_services.hold_for_events(order_id=order.pk)  # as cancel_order's lock
                holding.set()
                charge_waits.wait(WAIT)  # the charge is at the gateway and back, waiting
                order_services.cancel_order(order_id=order.pk, reason=CancelReason.CUSTOMER)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def charge():
        try:
            holding.wait(WAIT)
            payment_services.charge_order(order_id=order.pk, token="tok_ok", key=key)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=cancellation), threading.Thread(target=charge)]
    for thread in threads:
        thread.start()
    try:
        holding.wait(WAIT)
        wait_until(someone_waits_for_a_lock, "the charge to wait for the order's lock before recording")
    finally:
        charge_waits.set()
        for thread in threads:
            thread.join(WAIT)
    assert not errors, errors

    # The cancellation recorded its event after the charge had started to wait, and
    # committed first: its id is the lower one, so ids follow the commits.
    events = list(Event.objects.filter(stream=f"order:{order.pk}").order_by("id").values_list("type", flat=True))
    assert events == ["order.placed", "order.cancelled", "payment.captured"]
