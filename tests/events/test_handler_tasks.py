"""Handler tasks: what ``@event_handler`` makes is a task that carries its spec, found by
name by the relay, and the dispatcher publishes nothing else."""

import pytest

from events import services, subscriptions, types
from events.handlers import handler_task
from events.models import HandlerRun
from tests.testkit.events import record_thing


def test_every_subscribed_handler_is_a_registered_task_carrying_its_spec():
    subscribed = [s for event_type in types.all_types() for s in subscriptions.subscriptions_of(event_type)]

    assert subscribed
    for subscription in subscribed:
        task = handler_task(subscription.handler)
        assert task is not None
        assert task.spec == subscription.task.spec
        assert task.spec.name == task.name == subscription.handler


def test_a_task_that_is_no_event_handler_is_not_taken_for_one():
    # A periodic task: registered with Celery, but no handler of any event.
    assert handler_task("orders.cancel_unpaid_orders") is None
    assert handler_task("no.such.task") is None


@pytest.mark.django_db
def test_a_receiver_answering_with_something_other_than_a_handler_task_fails_its_event_only(always_fails, broker):
    def answers_a_string(sender, event, **kwargs):
        return "payments.charge_order"

    always_fails.connect(answers_a_string, dispatch_uid="tests.answers_a_string", weak=False)
    try:
        event = record_thing(always_fails)
        report = services.dispatch_pending()
    finally:
        always_fails.disconnect(dispatch_uid="tests.answers_a_string")

    assert (report.dispatched, report.failed) == (0, 1)
    event.refresh_from_db()
    assert event.dispatched_at is None
    assert event.last_dispatch_error.startswith("TypeError: receiver")
    assert "not an @event_handler task" in event.last_dispatch_error
    assert event.dispatch_attempts == 1  # counted, and due again after its backoff
    assert not HandlerRun.objects.filter(event=event).exists()
