"""The relay's retries are bounded: a run nobody takes ends a dead letter instead of
being sent forever; an event that cannot be dispatched waits longer after each failure,
stays visible, and is never dropped."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from events import services
from events.models import Event, HandlerRun
from orders.models import Order
from project.celery import app as celery_app
from tests.factories import UserFactory, place_order
from tests.testkit.admin import rows_of
from tests.testkit.broker import purge_queues, queued_messages
from tests.testkit.handlers import dispatch


def overdue(run: HandlerRun) -> None:
    """Its deadline went by with no worker taking it (no worker on its queue)."""
    HandlerRun.objects.filter(pk=run.pk).update(deadline=timezone.now() - timedelta(seconds=1))


@pytest.mark.django_db(transaction=True)
def test_a_run_no_worker_takes_is_dead_lettered_after_the_allowed_resends_then_retryable(mug, run_handlers, settings):
    settings.EVENTS_MAX_RESENDS = 2
    order = place_order(UserFactory().customer, {mug: 1})
    dispatch()
    run = HandlerRun.objects.get(handler="payments.charge_order")

    for expected_resends in (1, 2):
        purge_queues()  # lost again: nobody consumes the payments queue
        overdue(run)
        report = services.relay()
        assert (report.resent, report.gave_up) == (1, 0)
        run.refresh_from_db()
        assert (run.status, run.resends, run.enqueued) == ("pending", expected_resends, 1 + expected_resends)

    purge_queues()
    overdue(run)
    report = services.relay()

    assert (report.resent, report.gave_up) == (0, 1)
    assert queued_messages()["payments"] == 0
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.finished_at is not None
    assert run.last_error == (
        "gave up: sent 3 times (2 re-sends in a row) and never taken by a worker before its deadline; "
        "is a worker consuming queue 'payments'?"
    )
    overdue(run)
    assert (services.relay().resent, services.relay().gave_up) == (0, 0)  # a dead letter stays put

    assert services.retry_failed(run.pk) is True  # ... until staff retry it, with a fresh budget
    run_handlers()
    run.refresh_from_db()
    assert (run.status, run.resends, run.attempts) == ("done", 0, 1)
    assert Order.objects.get(pk=order.pk).status == "paid"


@pytest.mark.django_db(transaction=True)
def test_a_worker_taking_the_run_starts_the_count_of_unanswered_resends_over(mug, run_handlers, settings):
    settings.EVENTS_MAX_RESENDS = 1
    place_order(UserFactory().customer, {mug: 1}, payment_token="tok_flaky")
    dispatch()
    run = HandlerRun.objects.get(handler="payments.charge_order")
    purge_queues()
    overdue(run)
    assert services.relay().resent == 1
    assert HandlerRun.objects.get(pk=run.pk).resends == 1

    run_handlers()  # a worker takes it: flaky twice, then captured

    run.refresh_from_db()
    assert (run.status, run.resends, run.attempts) == ("done", 0, 3)


@pytest.mark.django_db(transaction=True)
def test_the_relay_command_says_when_it_gave_up_on_runs(mug, broker, settings):
    settings.EVENTS_MAX_RESENDS = 0
    place_order(UserFactory().customer, {mug: 1})
    dispatch()
    overdue(HandlerRun.objects.get())
    out = StringIO()

    call_command("events", "relay", stdout=out)

    assert out.getvalue().strip() == (
        "relay: dispatched 0 event(s), re-sent 0 run(s), gave up on 1 run(s) never taken by a worker (now failed)"
    )


@pytest.fixture
def poison_event(mug, broker, settings) -> Event:
    """An event left undispatched whose type is no longer declared (renamed in a
    deploy): dispatching it fails for a reason of its own, every time."""
    settings.EVENTS_RETRY_BACKOFF_BASE = 60.0
    order = place_order(UserFactory().customer, {mug: 1})  # the dispatcher has not run yet
    Event.objects.filter(stream=f"order:{order.pk}").update(type="order.placed.v0")
    return Event.objects.get(stream=f"order:{order.pk}")


@pytest.mark.django_db
def test_an_event_that_cannot_be_dispatched_waits_longer_each_time_and_is_never_dropped(poison_event):
    report = services.relay()

    assert report.failed == 1
    poison_event.refresh_from_db()
    assert (poison_event.dispatched_at, poison_event.dispatch_attempts) == (None, 1)
    assert poison_event.last_dispatch_error == "KeyError: 'order.placed.v0'"
    assert poison_event.next_dispatch_at > timezone.now() + timedelta(seconds=29)

    assert services.relay().failed == 0  # backing off: not tried again yet
    assert Event.objects.get(pk=poison_event.pk).dispatch_attempts == 1

    Event.objects.filter(pk=poison_event.pk).update(next_dispatch_at=timezone.now())
    assert services.relay().failed == 1
    poison_event.refresh_from_db()
    assert poison_event.dispatch_attempts == 2
    assert poison_event.next_dispatch_at > timezone.now() + timedelta(seconds=59)  # twice the wait

    # Fixed by the next deploy: the relay dispatches it at its next try.
    Event.objects.filter(pk=poison_event.pk).update(type="order.placed", next_dispatch_at=timezone.now())
    assert services.relay().dispatched == 1
    poison_event.refresh_from_db()
    assert poison_event.dispatched_at is not None
    assert (poison_event.last_dispatch_error, poison_event.next_dispatch_at) == ("", None)
    assert HandlerRun.objects.get(event=poison_event).handler == "payments.charge_order"


@pytest.mark.django_db
def test_staff_find_events_failing_to_dispatch_in_the_admin(admin_client, poison_event):
    services.relay()
    url = reverse("admin:events_event_changelist")

    response = admin_client.get(url, {"dispatched": "failing"})

    [row] = rows_of(response)
    assert row["type"] == "order.placed.v0"
    assert row["dispatch error"] == "KeyError: 'order.placed.v0'"


@pytest.mark.django_db(transaction=True)
def test_the_wait_before_a_resend_doubles_in_a_row_and_starts_over_when_staff_retry(mug, broker, settings):
    settings.EVENTS_MAX_RESENDS = 10
    place_order(UserFactory().customer, {mug: 1})
    dispatch()
    run = HandlerRun.objects.get(handler="payments.charge_order")
    lease = celery_app.tasks[run.handler].spec.lease

    def leases_until_next_send() -> float:
        run.refresh_from_db()
        return (run.deadline - timezone.now()) / lease

    assert leases_until_next_send() == pytest.approx(1, abs=0.1)
    for expected in (2, 4, 8):
        purge_queues()
        overdue(run)
        assert services.relay().resent == 1
        assert leases_until_next_send() == pytest.approx(expected, abs=0.1)

    # Long after, the run is a dead letter with many sends behind it; staff retry it.
    HandlerRun.objects.filter(pk=run.pk).update(status="failed", enqueued=40, resends=10)
    assert services.retry_failed(run.pk) is True

    assert leases_until_next_send() == pytest.approx(1, abs=0.1)  # not 32 leases
