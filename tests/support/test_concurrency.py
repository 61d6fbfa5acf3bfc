"""A question recorded while another writer holds its customer: no deadlock. Asking
locks the order (its events commit in id order) and references the customer; the
points ledger locks the customer and references the order. Proven on PostgreSQL, where
the two really race (SQLite serialises writers)."""

import threading
import time

import pytest
from django.db import connection, transaction

from customers.models import Customer
from support import services
from support.models import Question
from tests.factories import PointsEntryFactory, UserFactory, place_order
from tests.testkit.concurrency import at_once

pytestmark = pytest.mark.django_db(transaction=True)


def someone_waits_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        # Inside a transaction the activity view is a snapshot taken once: take a new one.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent row locks need PostgreSQL")
def test_asking_about_an_order_while_the_points_ledger_holds_the_customer_does_not_deadlock(mug):
    customer = UserFactory().customer
    order = place_order(customer, {mug: 1})

    customer_held = threading.Event()

    def ledger():
        with transaction.atomic():
            Customer.objects.select_for_update().get(pk=customer.pk)  # as customers.services does
            customer_held.set()
            deadline = time.monotonic() + 30
            while not someone_waits_on_a_lock():  # the question's transaction is blocked on us
                assert time.monotonic() < deadline, "the question never waited for the customer"
                time.sleep(0.05)
            PointsEntryFactory(customer=customer, order=order)  # references the order: key-share at commit
        return "ledger"

    def ask():
        assert customer_held.wait(timeout=30)  # the ledger takes the customer first
        return services.ask(customer=customer, question="Where is it?", order_id=order.pk).pk

    ledger_done, question_id = at_once([ledger, ask])

    assert ledger_done == "ledger"
    assert Question.objects.get(pk=question_id).order_id == order.pk
