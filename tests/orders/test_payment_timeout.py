"""Orders left unpaid: cancelled after ORDER_PAYMENT_TIMEOUT through order.cancelled,
like any cancellation (stock back, payment voided or refunded, customer told), once,
however many sweepers run."""

import sqlite3
import threading
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from catalog.models import Product
from events.models import Event, HandlerRun
from orders import services
from orders.models import Order
from payments.gateways.sandbox import SandboxGateway
from payments.models import Payment
from project.celery import app as celery_app
from tests.factories import UserFactory, place_order
from tests.testkit.concurrency import at_once

pytestmark = pytest.mark.django_db(transaction=True)

needs_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent row locks need PostgreSQL")


def placed_ago(order, minutes: float) -> None:
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))


def timeline(order) -> list[str]:
    return list(Event.objects.filter(stream=f"order:{order.pk}").order_by("id").values_list("type", flat=True))


def stock(sku="MUG-01") -> int:
    return Product.objects.get(sku=sku).stock


def charge_now(order) -> None:
    """The order's charge task, as a payments worker runs it."""
    placed = Event.objects.get(stream=f"order:{order.pk}", type="order.placed")
    celery_app.tasks["payments.charge_order"].apply(args=[placed.pk], task_id=f"{placed.pk}:payments.charge_order")


def test_an_order_unpaid_past_the_timeout_is_cancelled_voided_and_the_customer_told(mug, run_handlers, settings):
    settings.ORDER_PAYMENT_TIMEOUT = 30 * 60
    order = place_order(UserFactory().customer, {mug: 3})  # no payments worker takes its charge
    placed_ago(order, 31)
    assert stock() == 7

    assert services.cancel_unpaid_orders() == [order.pk]

    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == ("cancelled", "payment_timeout")
    assert stock() == 10
    cancelled = Event.objects.get(stream=f"order:{order.pk}", type="order.cancelled")
    assert cancelled.payload["reason"] == "payment_timeout"
    assert cancelled.payload["was_paid"] is False

    run_handlers()  # the payments worker is back: the charge, then the cancellation's handlers

    assert Payment.objects.get(order=order).status == "voided"
    assert SandboxGateway().captured_charges() == []
    assert [m.subject for m in mail.outbox] == [f"Order #{order.pk} cancelled"]
    assert "we did not receive its payment in time" in mail.outbox[0].body
    assert timeline(order) == ["order.placed", "order.cancelled"]
    assert Order.objects.get(pk=order.pk).status == "cancelled"
    assert set(HandlerRun.objects.values_list("status", flat=True)) == {"done"}


def test_the_sweeper_leaves_recent_paid_and_payment_decided_orders_alone(mug, run_handlers, settings):
    settings.ORDER_PAYMENT_TIMEOUT = 30 * 60
    customer = UserFactory().customer
    paid = place_order(customer, {mug: 1})
    captured = place_order(customer, {mug: 1})
    run_handlers()
    recent = place_order(customer, {mug: 1})
    assert Order.objects.get(pk=paid.pk).status == "paid"
    # Captured, but its mark_paid is still queued behind a backlog: the order is pending
    # with its payment outcome recorded. The sweeper must leave it to mark_paid.
    Order.objects.filter(pk=captured.pk).update(status="pending")
    placed_ago(recent, 29)
    placed_ago(paid, 60)
    placed_ago(captured, 60)

    assert services.cancel_unpaid_orders() == []

    assert dict(Order.objects.values_list("pk", "status")) == {
        recent.pk: "pending",
        paid.pk: "paid",
        captured.pk: "pending",
    }
    assert not Event.objects.filter(type="order.cancelled").exists()


def test_the_sweeper_asks_the_payment_not_the_events_which_retention_prunes(mug, run_handlers, settings):
    settings.ORDER_PAYMENT_TIMEOUT = 30 * 60
    customer = UserFactory().customer
    captured = place_order(customer, {mug: 1})
    run_handlers()
    Order.objects.filter(pk=captured.pk).update(status="pending")  # mark_paid still queued
    unpaid = place_order(customer, {mug: 1})  # its charge never ran
    Event.objects.all().delete()  # retention pruned every event
    placed_ago(captured, 60)
    placed_ago(unpaid, 60)

    assert services.cancel_unpaid_orders() == [unpaid.pk]
    assert Order.objects.get(pk=captured.pk).status == "pending"


def test_sweeping_twice_cancels_once(mug, broker):
    order = place_order(UserFactory().customer, {mug: 2})
    placed_ago(order, 120)

    assert services.cancel_unpaid_orders() == [order.pk]
    assert services.cancel_unpaid_orders() == []

    assert Event.objects.filter(type="order.cancelled").count() == 1
    assert stock() == 10


def test_a_sweep_is_bounded_oldest_first(mug, broker):
    customer = UserFactory().customer
    orders = [place_order(customer, {mug: 1}) for _ in range(3)]
    for minutes, order in zip((90, 120, 60), orders, strict=True):
        placed_ago(order, minutes)

    assert services.cancel_unpaid_orders(limit=2) == [orders[1].pk, orders[0].pk]
    assert services.cancel_unpaid_orders(limit=2) == [orders[2].pk]


def test_the_customer_cannot_cancel_an_order_the_sweeper_cancelled(mug, broker):
    customer = UserFactory().customer
    order = place_order(customer, {mug: 1})
    placed_ago(order, 60)
    services.cancel_unpaid_orders()

    with pytest.raises(services.OrderAlreadyCancelled):
        services.cancel_own_order(customer=customer, order_id=order.pk)

    assert Event.objects.filter(type="order.cancelled").count() == 1


@needs_postgresql
def test_sweepers_running_at_once_cancel_each_order_once(broker):
    product = Product.objects.create(sku="MUG-01", name="Mug", price="12.90", currency="EUR", stock=100)
    customer = UserFactory().customer
    orders = [place_order(customer, {product: 2}) for _ in range(12)]
    Order.objects.update(created_at=timezone.now() - timedelta(hours=1))
    sweepers = 4

    cancelled = at_once([lambda: services.cancel_unpaid_orders(limit=100)] * sweepers)

    every = [order_id for batch in cancelled for order_id in batch]
    assert len(cancelled) == sweepers
    assert sorted(every) == sorted(o.pk for o in orders)  # each once, none twice
    assert Event.objects.filter(type="order.cancelled").count() == 12
    assert stock() == 100


def _charge_waiting_on_the_gateway() -> bool:
    """Another connection is inside the charge's transaction, past its "is the order
    still pending?" read (its last statement before the gateway), waiting for the
    gateway's answer."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database()"
            " AND state = 'idle in transaction' AND query LIKE %s",
            ['SELECT % FROM "orders_order" WHERE %'],
        )
        return cursor.fetchone()[0] == 1


@needs_postgresql
def test_a_capture_landing_after_the_timeout_cancellation_is_refunded_not_paid(mug, run_handlers):
    """The charge found the order pending and is waiting on a slow gateway when the
    timeout comes: the sweeper cancels the order; the gateway then takes the money and
    payment.captured arrives for a cancelled order. mark_paid leaves it cancelled, and
    the cancellation's settle handler refunds the capture."""
    order = place_order(UserFactory().customer, {mug: 1})
    placed_ago(order, 60)
    SandboxGateway().captured_charges()  # creates the ledger
    ledger = sqlite3.connect(django_settings.SANDBOX_GATEWAY_DB, timeout=30, isolation_level=None)
    ledger.execute("BEGIN IMMEDIATE")  # the gateway is slow to answer
    charging = threading.Thread(target=lambda: (charge_now(order), connection.close()))
    charging.start()
    try:
        deadline = time.monotonic() + 30
        while not _charge_waiting_on_the_gateway() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _charge_waiting_on_the_gateway(), "the charge never reached the gateway"

        assert services.cancel_unpaid_orders() == [order.pk]
    finally:
        ledger.execute("ROLLBACK")
        ledger.close()
        charging.join(timeout=60)

    run_handlers()

    assert Order.objects.get(pk=order.pk).status == "cancelled"
    assert Payment.objects.get(order=order).status == "refunded"
    [charge] = SandboxGateway().captured_charges()
    assert [r["charge_id"] for r in SandboxGateway().refunds()] == [charge["charge_id"]]
    assert timeline(order) == ["order.placed", "order.cancelled", "payment.captured", "payment.refunded"]
    assert stock() == 10


# --- the command and the schedule ------------------------------------------------------


def test_cancel_unpaid_orders_command_lists_then_cancels(mug, broker):
    order = place_order(UserFactory().customer, {mug: 1})
    placed_ago(order, 45)
    out = StringIO()

    call_command("cancel_unpaid_orders", "--older-than", "40m", "--dry-run", stdout=out)
    assert Order.objects.get(pk=order.pk).status == "pending"
    call_command("cancel_unpaid_orders", "--older-than", "40m", stdout=out)

    assert out.getvalue().splitlines() == [
        f"  order #{order.pk}",
        "would cancel 1 order(s) pending for more than 0:40:00",
        f"  order #{order.pk}",
        "cancelled 1 order(s) pending for more than 0:40:00",
    ]
    assert Order.objects.get(pk=order.pk).cancel_reason == "payment_timeout"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--older-than", "half an hour"), "give a duration like 90s"),
        (("--limit", "0"), "--limit must be a positive number"),
    ],
)
def test_cancel_unpaid_orders_command_refuses_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("cancel_unpaid_orders", *args, stdout=StringIO())


def test_the_sweeper_and_the_pruner_are_periodic_tasks_beat_schedules():
    celery_app.loader.import_default_modules()  # what worker and beat do at start: find every task
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    for name, queue in (("orders.cancel_unpaid_orders", "orders"), ("events.prune", "events")):
        entry = schedule[name]
        assert entry["task"] in celery_app.tasks
        assert entry["options"]["queue"] == queue
