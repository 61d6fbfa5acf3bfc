"""How a handler run is claimed: in the effect's own transaction for a first delivery,
with the attempt counted first for a message the broker delivers again."""

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events import subscriptions, types, wakeup
from events.handlers import event_handler
from events.models import HandlerRun
from events.subscriptions import subscribe
from events.types import EventType, Payload
from project.celery import app as celery_app
from tests.factories import UserFactory, place_order
from tests.testkit.events import record_thing
from tests.testkit.handlers import dispatch


class WorkerDied(BaseException):
    """What the process sees of a SIGKILL mid-handler: nothing after this runs."""


class ThingBroke(Payload):
    thing_id: int


@pytest.fixture
def kills_its_worker():
    """An event type whose one handler dies mid-effect (as a worker killed by it would)."""
    thing_broke = EventType("tests.thing_broke", ThingBroke, stream="thing")

    @event_handler("tests.kills_its_worker", queue="events", max_attempts=2)
    def handler(event):
        raise WorkerDied

    subscribe(thing_broke, handler)
    yield thing_broke, handler
    thing_broke.disconnect(dispatch_uid="tests.kills_its_worker")
    subscriptions._subscriptions[:] = [s for s in subscriptions._subscriptions if s.event_type is not thing_broke]
    types._registry.pop(thing_broke.name)
    ThingBroke.event_type = None
    celery_app.tasks.unregister("tests.kills_its_worker")


def deliver(task, event_id: int, *, redelivered: bool) -> None:
    """One delivery of ``task``'s message, as a worker runs it (``redelivered`` is what
    RabbitMQ, and kombu's Redis transport, say of a message handed out again)."""
    task.push_request(id=f"{event_id}:{task.name}", delivery_info={"redelivered": redelivered})
    try:
        task.run(event_id)
    finally:
        task.pop_request()


@pytest.mark.django_db(transaction=True)
def test_a_first_delivery_dying_mid_effect_leaves_the_run_as_it_was(kills_its_worker, broker):
    """The claim is in the effect's transaction: it goes with the effect."""
    event_type, task = kills_its_worker
    event = record_thing(event_type)
    dispatch()

    with pytest.raises(WorkerDied):
        deliver(task, event.pk, redelivered=False)

    run = HandlerRun.objects.get(event=event)
    assert (run.status, run.attempts, run.started_at) == ("pending", 0, None)


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_message_counts_its_attempt_before_running_so_a_worker_killer_ends_failed(
    kills_its_worker, broker
):
    """The broker delivers a message again when its worker died holding it: that
    delivery counts and leases its attempt in a transaction of its own first, so a
    handler that kills its worker every time runs out of attempts instead of looping."""
    event_type, task = kills_its_worker
    event = record_thing(event_type)
    dispatch()

    with pytest.raises(WorkerDied):
        deliver(task, event.pk, redelivered=True)
    run = HandlerRun.objects.get(event=event)
    assert (run.status, run.attempts) == ("running", 1)
    HandlerRun.objects.filter(pk=run.pk).update(deadline=run.created_at)  # its lease ran out
    with pytest.raises(WorkerDied):
        deliver(task, event.pk, redelivered=True)
    HandlerRun.objects.filter(pk=run.pk).update(deadline=run.created_at)

    deliver(task, event.pk, redelivered=True)  # out of attempts: not run again

    run.refresh_from_db()
    assert (run.status, run.attempts) == ("failed", 2)
    assert "never finished" in run.last_error


@pytest.mark.django_db(transaction=True)
def test_a_run_costs_one_read_and_one_write_around_its_effect(mug, run_handlers):
    place_order(UserFactory().customer, {mug: 1})
    dispatch()
    run = HandlerRun.objects.get()
    task = celery_app.tasks[run.handler]

    with CaptureQueriesContext(connection) as queries:
        task.apply(args=[run.event_id], task_id=run.task_id)

    run.refresh_from_db()
    assert (run.status, run.attempts) == ("done", 1)
    bookkeeping = [q["sql"].split()[0] for q in queries.captured_queries if '"events_handlerrun"' in q["sql"]]
    assert bookkeeping == ["SELECT", "UPDATE"]


@pytest.mark.django_db(transaction=True)
def test_the_dispatcher_is_woken_by_the_commit_of_an_event(mug):
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; elsewhere the relay polls")
    stop = threading.Event()
    listener = wakeup.waker(stop)
    assert listener.listens
    try:
        assert listener.wait(0.2) is False  # nothing recorded yet: the timeout

        def commit_an_order():
            try:
                place_order(UserFactory().customer, {mug: 1})
            finally:
                connection.close()  # this thread's own

        committer = threading.Timer(0.3, commit_an_order)
        committer.start()
        assert listener.wait(10.0) is True
        committer.join()
    finally:
        listener.close()
