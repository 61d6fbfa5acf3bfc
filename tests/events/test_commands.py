import os
import re
import signal
import threading
import time
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from catalog import services as catalog_services
from events import types
from events.models import Event, HandlerRun
from events.subscriptions import subscriptions_of
from tests.factories import UserFactory, place_order
from tests.testkit.admin import break_email, build_shop

# What ARCHITECTURE.md's flow needs; the catalog must show at least these.
EXPECTED_TYPES = {
    "order.placed",
    "order.paid",
    "order.cancelled",
    "payment.captured",
    "payment.failed",
    "payment.refunded",
}
EXPECTED_HANDLERS = {
    "payments.charge_order",
    "payments.settle_cancelled_order",
    "orders.mark_paid",
    "orders.cancel_declined",
    "customers.award_points",
    "customers.revoke_points",
    "notifications.order_confirmed",
    "notifications.order_cancelled",
}


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def section(output: str, event_type: str) -> str:
    """The catalog's paragraph about one event type."""
    return next(block for block in output.split("\n\n") if block.strip().splitlines()[:1] == [event_type])


def test_events_catalog_names_every_event_type_its_payload_and_every_handler():
    output = run("events", "catalog", "--no-color")

    assert {t.name for t in types.all_types()} >= EXPECTED_TYPES
    for event_type in types.all_types():
        block = section(output, event_type.name)
        payload = next(line for line in block.splitlines() if line.strip().startswith("payload: "))
        assert payload.strip().startswith(f"payload: {event_type.payload.__name__} v{event_type.version}: ")
        fields = payload.split(f"v{event_type.version}: ", 1)[1]
        assert re.findall(r"(?:^|, )(\w+): ", fields) == list(event_type.fields)
        handlers = subscriptions_of(event_type)
        if not handlers:
            assert "handlers: none" in block
        for s in handlers:
            line = next(line for line in block.splitlines() if line.strip().startswith(s.handler))
            assert f"task {s.task.name}, queue {s.task.spec.queue}," in line
            assert f"max attempts {s.task.spec.max_attempts}, timeout {s.task.spec.timeout:g}s" in line
    named = {s.handler for t in types.all_types() for s in subscriptions_of(t)}
    assert named >= EXPECTED_HANDLERS
    assert "payments.charge_order" in section(output, "order.placed")


@pytest.fixture
def failed_mail_runs(run_handlers, settings):
    """Two failed runs of two handlers: the confirmation of a paid order and the
    cancellation notice of a declined one (the SMTP server is not there)."""
    break_email(settings)
    build_shop(run_handlers)
    runs = {r.handler: r for r in HandlerRun.objects.filter(status="failed")}
    assert set(runs) == {"notifications.order_confirmed", "notifications.order_cancelled"}
    return runs


@pytest.mark.django_db(transaction=True)
def test_events_retry_failed_retries_only_the_failed_runs_of_the_given_handler(failed_mail_runs):
    output = run("events", "retry", "--failed", "--handler", "notifications.order_confirmed")

    assert output.splitlines()[-1] == "retried 1 failed run(s)"
    confirmed = HandlerRun.objects.get(pk=failed_mail_runs["notifications.order_confirmed"].pk)
    cancelled = HandlerRun.objects.get(pk=failed_mail_runs["notifications.order_cancelled"].pk)
    assert (confirmed.status, confirmed.attempts, confirmed.enqueued) == ("pending", 0, 2)
    assert (cancelled.status, cancelled.attempts, cancelled.enqueued) == ("failed", 8, 1)
    assert HandlerRun.objects.exclude(handler__startswith="notifications.").exclude(status="done").count() == 0


@pytest.mark.django_db(transaction=True)
def test_events_retry_failed_since_leaves_runs_that_failed_before(failed_mail_runs):
    in_an_hour = (timezone.now() + timedelta(hours=1)).isoformat()

    none = run("events", "retry", "--failed", "--since", in_an_hour)
    assert none.splitlines()[-1] == "retried 0 failed run(s)"
    assert HandlerRun.objects.filter(status="failed").count() == 2

    both = run("events", "retry", "--failed", "--since", "1h")
    assert both.splitlines()[-1] == "retried 2 failed run(s)"
    assert set(HandlerRun.objects.filter(handler__startswith="notifications.").values_list("status", flat=True)) == {
        "pending"
    }


@pytest.mark.django_db(transaction=True)
def test_events_retry_failed_dry_run_lists_the_runs_and_changes_nothing(failed_mail_runs):
    output = run("events", "retry", "--failed", "--dry-run")

    assert output.splitlines()[-1] == "would retry 2 failed run(s)"
    assert "ConnectionRefusedError" in output
    assert HandlerRun.objects.filter(status="failed").count() == 2


@pytest.mark.django_db
def test_events_retry_refuses_an_unknown_handler_and_a_missing_failed_flag():
    with pytest.raises(CommandError, match=r"unknown handler\(s\): payments\.charge_orders;"):
        run("events", "retry", "--failed", "--handler", "payments.charge_orders")
    with pytest.raises(CommandError, match="--failed"):
        run("events", "retry")
    with pytest.raises(CommandError, match="--since"):
        run("events", "retry", "--failed", "--since", "yesterday")


@pytest.fixture
def undispatched_event(db, broker):
    """An event left undispatched: the test's transaction never commits, so its
    on-commit dispatch never runs, as when a process dies right after the commit."""
    catalog_services.create_product(sku="MUG-01", name="Mug", price=Decimal("12.90"), currency="EUR", stock=5)
    order = place_order(UserFactory(username="alice").customer, {"MUG-01": 1})
    event = Event.objects.get(stream=f"order:{order.pk}")
    assert event.dispatched_at is None
    return event


@pytest.mark.parametrize("command", [("relay_events",), ("events", "relay")], ids=" ".join)
def test_relay_command_dispatches_events_left_undispatched(command, undispatched_event, settings):
    settings.EVENTS_RELAY_GRACE_SECONDS = 0

    first = run(*command)
    second = run(*command)

    assert first.strip() == "relay: dispatched 1 event(s), re-sent 0 run(s)"
    assert second.strip() == "relay: dispatched 0 event(s), re-sent 0 run(s)"
    undispatched_event.refresh_from_db()
    assert undispatched_event.dispatched_at is not None
    run_ = HandlerRun.objects.get(event=undispatched_event)
    assert (run_.handler, run_.status, run_.enqueued) == ("payments.charge_order", "pending", 1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("command", [("relay_events",), ("events", "relay")], ids=" ".join)
def test_relay_loop_runs_until_sigterm_and_exits_cleanly(command):
    original = signal.getsignal(signal.SIGTERM)

    def terminate_once_the_loop_listens():
        deadline = time.monotonic() + 10
        while signal.getsignal(signal.SIGTERM) is original and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # a pass or more (fewer on a slow machine; one is enough)
        if signal.getsignal(signal.SIGTERM) is not original:
            os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=terminate_once_the_loop_listens)
    killer.start()
    output = run(*command, "--loop", "--interval", "0.02", "--verbosity", "2")
    killer.join()

    lines = output.splitlines()
    assert lines[0].startswith("relay: every 0.02s until SIGTERM or SIGINT; dispatching as events come (")
    assert lines[1] == "relay: dispatched 0 event(s), re-sent 0 run(s)"
    passes = int(lines[-1].removeprefix("relay: stopped after ").partition(" pass(es)")[0])
    assert lines[-1].endswith(" pass(es), 0 event(s) dispatched between them")
    assert passes >= 1
    assert len(lines) == passes + 2
    assert signal.getsignal(signal.SIGTERM) is original
