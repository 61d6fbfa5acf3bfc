"""Dead letters: a failed run is retried (once, however often staff ask) or skipped for
good, from the admin and from the shell."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from events import services
from events.models import Event, HandlerRun
from orders.models import Order
from payments.gateways.sandbox import SandboxGateway
from project.celery import app as celery_app
from tests.factories import UserFactory, place_order
from tests.testkit.admin import admin_action, messages_of, rows_of
from tests.testkit.broker import purge_queues, queued_messages
from tests.testkit.concurrency import at_once
from tests.testkit.events import record_thing
from tests.testkit.handlers import dispatch

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def dead_letter(always_fails, run_handlers) -> HandlerRun:
    """A run that used up its 3 attempts: failed, with its error."""
    record_thing(always_fails)
    run_handlers()
    run = HandlerRun.objects.get(handler="tests.always_fails")
    assert (run.status, run.attempts, run.last_error) == ("failed", 3, "RuntimeError: boom on thing 7")
    return run


def exhaust(run: HandlerRun, error: str = "GatewayUnavailable: sandbox down") -> None:
    """As the handler leaves a run whose last attempt failed: failed, attempts used up."""
    spec = celery_app.tasks[run.handler].spec
    HandlerRun.objects.filter(pk=run.pk).update(
        status=HandlerRun.Status.FAILED, attempts=spec.max_attempts, last_error=error, finished_at=timezone.now()
    )


def command(*args) -> str:
    out = StringIO()
    call_command("events", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


# --- retry: idempotent ------------------------------------------------------------------


def test_retrying_a_dead_letter_twice_in_a_row_sends_it_once(dead_letter, broker):
    purge_queues()

    assert services.retry_failed(dead_letter.pk) is True
    assert services.retry_failed(dead_letter.pk) is False

    dead_letter.refresh_from_db()
    assert (dead_letter.status, dead_letter.attempts, dead_letter.enqueued) == ("pending", 0, 2)
    assert queued_messages()["events"] == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
def test_staff_retrying_one_dead_letter_at_the_same_time_reopen_and_send_it_once(dead_letter, broker):
    purge_queues()
    clicks = 6

    outcomes = at_once([lambda: services.retry_failed(dead_letter.pk)] * clicks)

    assert sorted(outcomes) == [False] * (clicks - 1) + [True]
    assert HandlerRun.objects.get(pk=dead_letter.pk).enqueued == 2
    assert queued_messages()["events"] == 1


def test_replaying_a_charge_the_gateway_already_took_does_not_take_the_money_again(mug, run_handlers):
    """The charge went through at the gateway, then every attempt died before our side
    committed: the run is a dead letter. Retrying it asks the gateway with the same
    key, gets that charge back, and records it once."""
    order = place_order(UserFactory().customer, {mug: 2})
    dispatch()
    placed = Event.objects.get(type="order.placed")
    taken = SandboxGateway().charge(
        amount=Decimal("25.80"), currency="EUR", token="tok_ok", idempotency_key=str(placed.key)
    )
    purge_queues()
    charge = HandlerRun.objects.get(event=placed)
    exhaust(charge)

    assert services.retry_failed(charge.pk) is True
    run_handlers()
    assert services.retry_failed(charge.pk) is False  # done: nothing more to replay

    charge.refresh_from_db()
    assert (charge.status, charge.attempts) == ("done", 1)
    assert [c["charge_id"] for c in SandboxGateway().captured_charges()] == [taken.charge_id]
    assert Order.objects.get(pk=order.pk).status == "paid"
    assert Event.objects.filter(type="payment.captured").count() == 1
    assert Event.objects.filter(type="order.paid").count() == 1


def test_replaying_a_cancellation_already_applied_cancels_nothing_twice(mug, run_handlers):
    """The decline's cancel handler is a dead letter, but the customer cancelled the
    order meanwhile: the replay finds it cancelled and records no second cancellation."""
    customer = UserFactory().customer
    order = place_order(customer, {mug: 2}, payment_token="tok_declined")
    run_handlers()
    cancel = HandlerRun.objects.get(handler="orders.cancel_declined")
    assert cancel.status == "done"
    assert Event.objects.filter(type="order.cancelled").count() == 1
    exhaust(cancel, "OperationalError: the database went away")

    assert services.retry_failed(cancel.pk) is True
    run_handlers()

    assert HandlerRun.objects.get(pk=cancel.pk).status == "done"
    assert Event.objects.filter(type="order.cancelled").count() == 1
    mug.refresh_from_db()
    assert mug.stock == 10
    assert Order.objects.get(pk=order.pk).status == "cancelled"


# --- skip -------------------------------------------------------------------------------


def test_a_skipped_dead_letter_is_never_sent_again_nor_retried(dead_letter, run_handlers, settings):
    assert services.skip_failed(dead_letter.pk, by="alice", reason="thing 7 was deleted by hand") is True
    assert services.skip_failed(dead_letter.pk, by="bob") is False

    dead_letter.refresh_from_db()
    assert dead_letter.status == "skipped"
    first, _, previous = dead_letter.last_error.partition("\n")
    assert first.startswith("skipped by alice at ")
    assert first.endswith(": thing 7 was deleted by hand")
    assert previous == "RuntimeError: boom on thing 7"
    assert dead_letter.finished_at is not None

    settings.EVENTS_RELAY_GRACE_SECONDS = 0
    HandlerRun.objects.filter(pk=dead_letter.pk).update(deadline=timezone.now() - timedelta(hours=1))
    assert services.relay().resent == 0
    assert services.retry_failed(dead_letter.pk) is False
    # A late copy of its task (the broker redelivers) finds it skipped and does nothing.
    celery_app.tasks["tests.always_fails"].apply(args=[dead_letter.event_id], task_id=dead_letter.task_id)
    assert run_handlers() == []
    dead_letter.refresh_from_db()
    assert (dead_letter.status, dead_letter.attempts) == ("skipped", 3)


def test_only_a_failed_run_can_be_skipped(mug, run_handlers):
    place_order(UserFactory().customer, {mug: 1})
    run_handlers()
    done = HandlerRun.objects.get(handler="payments.charge_order")

    assert services.skip_failed(done.pk, by="alice", reason="no") is False

    assert HandlerRun.objects.get(pk=done.pk).status == "done"


# --- the admin --------------------------------------------------------------------------


def test_skip_action_skips_the_selected_dead_letters_and_says_who(admin_client, admin_user, dead_letter, mug):
    place_order(UserFactory().customer, {mug: 1})
    dispatch()
    open_run = HandlerRun.objects.get(handler="payments.charge_order")

    response = admin_action(admin_client, "events.handlerrun", "skip_failed_runs", [dead_letter, open_run])

    assert messages_of(response) == ["Skipped 1 failed run(s); left 1 not failed alone."]
    dead_letter.refresh_from_db()
    assert dead_letter.status == "skipped"
    assert dead_letter.last_error.startswith(f"skipped by {admin_user.username} (admin) at ")
    assert HandlerRun.objects.get(pk=open_run.pk).status == "pending"


def test_retry_action_clicked_twice_sends_the_dead_letter_once(admin_client, dead_letter, broker):
    purge_queues()

    first = admin_action(admin_client, "events.handlerrun", "retry_failed_runs", [dead_letter])
    second = admin_action(admin_client, "events.handlerrun", "retry_failed_runs", [dead_letter])

    assert [str(m) for m in first.context["messages"]] == ["Retried 1 failed run(s); skipped 0 not failed."]
    assert [str(m) for m in second.context["messages"]] == ["Retried 0 failed run(s); skipped 1 not failed."]
    assert queued_messages()["events"] == 1


def test_handler_runs_are_filtered_by_how_long_ago_they_failed(admin_client, always_fails, run_handlers):
    for thing_id in (1, 2, 3, 4):
        record_thing(always_fails, thing_id=thing_id)
    run_handlers()
    ages = {1: timedelta(minutes=5), 2: timedelta(hours=5), 3: timedelta(days=3), 4: timedelta(days=30)}
    for thing_id, age in ages.items():
        HandlerRun.objects.filter(event__stream=f"thing:{thing_id}").update(finished_at=timezone.now() - age)

    def listed(age: str) -> set[str]:
        response = admin_client.get(
            reverse("admin:events_handlerrun_changelist"), {"age": age, "status__exact": "failed"}
        )
        assert response.status_code == 200
        return {row["event"] for row in rows_of(response)}

    def events(*thing_ids) -> set[str]:
        return {f"#{Event.objects.get(stream=f'thing:{t}').pk} tests.thing_happened" for t in thing_ids}

    assert listed("hour") == events(1)
    assert listed("day") == events(1, 2)
    assert listed("week") == events(1, 2, 3)
    assert listed("older") == events(4)


# --- the command ------------------------------------------------------------------------


def test_events_skip_gives_up_the_failed_runs_and_keeps_the_reason(dead_letter):
    output = command("skip", "--failed", "--handler", "tests.always_fails", "--reason", "thing 7 is gone")

    lines = output.splitlines()
    assert lines[-1] == "skipped 1 failed run(s)"
    assert f"run #{dead_letter.pk} tests.always_fails on event #{dead_letter.event_id}" in lines[0]
    dead_letter.refresh_from_db()
    assert dead_letter.status == "skipped"
    assert "(manage.py events skip)" in dead_letter.last_error.splitlines()[0]
    assert dead_letter.last_error.splitlines()[0].endswith(": thing 7 is gone")
    assert command("retry", "--failed").splitlines()[-1] == "retried 0 failed run(s)"


def test_events_skip_dry_run_changes_nothing(dead_letter):
    output = command("skip", "--failed", "--reason", "x", "--dry-run")

    assert output.splitlines()[-1] == "would skip 1 failed run(s)"
    assert HandlerRun.objects.get(pk=dead_letter.pk).status == "failed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("skip", "--failed"), "--reason"),
        (("skip", "--failed", "--reason", "  "), "--reason must say why"),
        (("skip", "--failed", "--reason", "x", "--handler", "nope.handler"), r"unknown handler\(s\): nope\.handler"),
        (("retry", "--failed", "--since", "3 days"), "give a duration like 2h"),
        (("retry", "--failed", "--since", "2026-13-45"), "give a duration like 2h"),
    ],
    ids=["skip-without-reason", "skip-blank-reason", "skip-unknown-handler", "since-words", "since-bad-date"],
)
def test_events_skip_and_retry_refuse_bad_arguments_clearly(args, message):
    with pytest.raises(CommandError, match=message):
        command(*args)
