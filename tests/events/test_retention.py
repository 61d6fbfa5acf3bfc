"""Retention: old, completely handled events go with their runs; anything still due,
failed or recent stays."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from events import services
from events.models import Event, HandlerRun
from project.celery import app as celery_app
from tests.factories import UserFactory, place_order

pytestmark = pytest.mark.django_db(transaction=True)

OLD = timedelta(days=31)


def age(order, by: timedelta = OLD) -> None:
    """Every event of the order occurred, and every run of it finished, that long ago."""
    then = timezone.now() - by
    Event.objects.filter(stream=f"order:{order.pk}").update(occurred_at=then)
    HandlerRun.objects.filter(event__stream=f"order:{order.pk}").update(finished_at=then)


def run_of(order, handler: str) -> HandlerRun:
    return HandlerRun.objects.get(event__stream=f"order:{order.pk}", handler=handler)


def kept(order) -> bool:
    return Event.objects.filter(stream=f"order:{order.pk}").exists()


@pytest.fixture
def orders(mug, run_handlers):
    """Paid orders, every event dispatched and every run done: three events and four
    runs each (order.placed, payment.captured, order.paid)."""
    customer = UserFactory().customer
    made = [place_order(customer, {mug: 1}) for _ in range(7)]
    run_handlers()
    assert set(HandlerRun.objects.values_list("status", flat=True)) == {"done"}
    return made


def test_prune_deletes_old_handled_events_with_their_runs_and_nothing_still_due(orders, settings):
    settings.EVENTS_RETENTION_DAYS = 30
    handled, skipped, undispatched, open_run, failed, retried_lately, recent = orders
    for order in orders[:-1]:
        age(order)
    age(recent, timedelta(days=29))
    HandlerRun.objects.filter(pk=run_of(skipped, "customers.award_points").pk).update(status="skipped")
    Event.objects.filter(stream=f"order:{undispatched.pk}", type="order.paid").update(dispatched_at=None)
    HandlerRun.objects.filter(pk=run_of(open_run, "notifications.order_confirmed").pk).update(
        status="retrying", finished_at=None
    )
    HandlerRun.objects.filter(pk=run_of(failed, "orders.mark_paid").pk).update(status="failed")
    HandlerRun.objects.filter(pk=run_of(retried_lately, "payments.charge_order").pk).update(
        finished_at=timezone.now() - timedelta(days=1)
    )

    report = services.prune()

    # Two whole orders (3 events, 4 runs each), and of the four orders with one event
    # kept, their other two events: 2 + 2 + 3 + 3 runs (order.paid has two handlers).
    assert (report.events, report.runs) == (2 * 3 + 4 * 2, 2 * 4 + 2 + 2 + 3 + 3)
    assert not kept(handled)
    assert not kept(skipped)
    assert not HandlerRun.objects.filter(event__stream__in=[f"order:{handled.pk}", f"order:{skipped.pk}"]).exists()
    # Kept: the undispatched event, the event with an open run, the one with a failed
    # run (a dead letter waiting for staff), the one whose run was retried lately, and
    # the recent order. Their sibling events that are fully handled went.
    assert set(Event.objects.filter(stream=f"order:{undispatched.pk}").values_list("type", flat=True)) == {"order.paid"}
    assert Event.objects.get(stream=f"order:{open_run.pk}").type == "order.paid"
    assert run_of(open_run, "notifications.order_confirmed").status == "retrying"
    assert Event.objects.get(stream=f"order:{failed.pk}").type == "payment.captured"
    assert run_of(failed, "orders.mark_paid").status == "failed"
    assert Event.objects.get(stream=f"order:{retried_lately.pk}").type == "order.placed"
    assert Event.objects.filter(stream=f"order:{recent.pk}").count() == 3
    assert services.prune().events == 0


def test_a_late_copy_of_a_pruned_events_task_does_nothing(orders):
    order = orders[0]
    age(order)
    charge = run_of(order, "payments.charge_order")
    assert services.prune().events == 7 * 3 - 6 * 3  # only this order's three events

    result = celery_app.tasks["payments.charge_order"].apply(args=[charge.event_id], task_id=charge.task_id)

    assert result.successful()
    assert not HandlerRun.objects.filter(event_id=charge.event_id).exists()


def test_prune_deletes_in_bounded_batches(orders):
    for order in orders:
        age(order)

    first = services.prune(batch=4, max_batches=2)

    assert (first.events, first.runs) == (8, first.runs)
    assert Event.objects.count() == 21 - 8
    rest = services.prune(batch=4, max_batches=10)
    assert rest.events == 13
    assert not Event.objects.exists()
    assert not HandlerRun.objects.exists()


def test_events_prune_command_counts_then_deletes(orders):
    age(orders[0], timedelta(days=3))
    out = StringIO()

    call_command("events", "prune", "--older-than", "2d", "--dry-run", stdout=out)
    call_command("events", "prune", "--older-than", "2d", stdout=out)

    assert out.getvalue().splitlines() == [
        "would delete 3 event(s) older than 2 days, 0:00:00 with their handler runs",
        "deleted 3 event(s) older than 2 days, 0:00:00 and 4 handler run(s)",
    ]
    assert Event.objects.count() == 18
